/**
 * The per-service-port body of kube-proxy's nftables syncProxyRules (pkg/proxy/nftables/proxier.go,
 * v1.36 layout), written to a sink: recorded as a fragment for incremental compiles, or replayed
 * straight into the transaction by the one-shot writer.
 */
import { type EndpointModel, type Family, KproxcError, type LocalDetector, type ServicePortModel, type Verdict as ModelVerdict } from '@kproxc/core'
import { CHAIN, COMMENT, MAP, SET, endpointNames, servicePortNames, truncateComment } from './names.js'
import { type DataType, type Expr, type NftFamily, type Stmt, type Verdict, ir } from './ir.js'
import type { Sink } from './replay.js'

/** Everything a service port's fragment depends on besides its ServicePortModel. */
export interface PortInputs {
  family: Family
  masqueradeMark: number
  localDetector: LocalDetector
}

/** Expressions of one family, shared by every rule (the IR is immutable). */
export class FamilyExprs {
  readonly nf: NftFamily
  readonly addr: DataType
  readonly saddr: Expr
  readonly daddr: Expr
  /** masqueradeRule: `mark set mark or MARK` */
  readonly markRule: Stmt
  private readonly l4protoIs = new Map<string, Stmt>()

  constructor(family: Family, mark: number) {
    this.nf = family === 'IPv4' ? 'ip' : 'ip6'
    this.addr = family === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr'
    this.saddr = ir.payload(this.nf, 'saddr')
    this.daddr = ir.payload(this.nf, 'daddr')
    this.markRule = { kind: 'markSet', value: ir.binop('|', ir.meta('mark'), ir.num(mark, true)) }
  }

  /** `meta l4proto tcp` */
  l4proto(proto: string): Stmt {
    let s = this.l4protoIs.get(proto)
    if (!s) this.l4protoIs.set(proto, (s = ir.eq(ir.meta('l4proto'), ir.lit(proto))))
    return s
  }
}

/** Compiles service ports of one family; one instance serves any number of ports. */
export class PortCompiler {
  private readonly x: FamilyExprs
  private readonly local: Stmt | null

  constructor(inputs: PortInputs) {
    this.x = new FamilyExprs(inputs.family, inputs.masqueradeMark)
    this.local = localMatch(inputs.localDetector, this.x.nf)
  }

  /** The service port's requests, in upstream order. */
  compile(sp: ServicePortModel, out: Sink): void {
    const x = this.x
    const names = servicePortNames(sp)
    const proto = sp.protocolLower
    const reachable = endpointsOf(sp, sp.reachableEndpoints)
    const clusterEps = sp.clusterEndpoints === sp.reachableEndpoints ? reachable : endpointsOf(sp, sp.clusterEndpoints ?? [])
    const localEps = sp.localEndpoints === sp.reachableEndpoints ? reachable : endpointsOf(sp, sp.localEndpoints ?? [])
    const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : null
    // Endpoint chains and affinity sets exist only with session affinity; hashing every endpoint
    // otherwise would dominate compile time on large clusters.
    const epNames = affinity === null ? [] : reachable.map((e) => endpointNames(sp, e.ip, e.port))

    for (let i = 0; i < reachable.length; i++) {
      const e = reachable[i] as EndpointModel
      if (affinity !== null) out.chain((epNames[i] as { chain: string }).chain)
      if (e.isLocal) out.elem(SET.hairpinConnections, [e.ip, e.ip, proto, e.port], undefined, undefined)
    }

    const usesClusterChain = clusterEps.length > 0 && sp.usesClusterEndpoints
    const usesLocalChain = localEps.length > 0 && sp.usesLocalEndpoints
    if (usesClusterChain) out.chain(names.cluster)
    if (usesLocalChain) out.chain(names.local)
    // Exists whenever there are endpoints at all, even if none takes external traffic, because
    // the short-circuit rules for pod and host traffic still apply.
    const ext = sp.hasAnyEndpoints && sp.externallyAccessible ? sp.external : null
    if (ext) out.chain(names.external)

    const policyChain = (v: ModelVerdict & { action: 'forward' }) => (v.to === 'local' ? names.local : names.cluster)
    const externalPolicy: ModelVerdict = sp.external?.policy ?? sp.internal
    const hasExternalEndpoints = externalPolicy.action === 'forward'
    // Only elements of ports without endpoints carry the comment.
    let comment: string | undefined
    const noEndpoints = (map: string, key: (string | number)[], v: ModelVerdict) => out.elem(map, key, filterVerdict(v), (comment ??= truncateComment(sp.displayName)))
    const toExternal: Verdict = { kind: 'goto', target: names.external }

    out.elem(SET.clusterIPs, [sp.clusterIP], undefined, undefined)
    if (sp.internal.action === 'forward') {
      out.elem(MAP.serviceIPs, [sp.clusterIP, proto, sp.port], { kind: 'goto', target: policyChain(sp.internal) }, undefined)
    } else {
      noEndpoints(MAP.noEndpointServices, [sp.clusterIP, proto, sp.port], sp.internal)
    }

    for (const eip of sp.externalIPs) {
      if (sp.hasAnyEndpoints) out.elem(MAP.serviceIPs, [eip, proto, sp.port], toExternal, undefined)
      if (!hasExternalEndpoints) noEndpoints(MAP.noEndpointServices, [eip, proto, sp.port], externalPolicy)
    }

    // Upstream builds the firewall whether or not the service has endpoints.
    const usesFirewall = sp.firewall.enabled && sp.loadBalancerVIPs.length > 0
    if (usesFirewall) out.chain(names.firewall)
    for (const vip of sp.loadBalancerVIPs) {
      if (sp.hasAnyEndpoints) out.elem(MAP.serviceIPs, [vip, proto, sp.port], toExternal, undefined)
      if (usesFirewall) out.elem(MAP.firewallIPs, [vip, proto, sp.port], { kind: 'goto', target: names.firewall }, undefined)
    }
    if (!hasExternalEndpoints) {
      for (const vip of sp.loadBalancerVIPs) noEndpoints(MAP.noEndpointServices, [vip, proto, sp.port], externalPolicy)
    }

    // NodePorts are never subject to loadBalancerSourceRanges (upstream cannot change that).
    if (sp.nodePort !== 0) {
      if (sp.hasAnyEndpoints) out.elem(MAP.serviceNodePorts, [proto, sp.nodePort], toExternal, undefined)
      if (!hasExternalEndpoints) noEndpoints(MAP.noEndpointNodePorts, [proto, sp.nodePort], externalPolicy)
    }

    const rule = (chain: string, stmts: Stmt[], c?: string) => out.op(c === undefined ? { kind: 'addRule', chain, stmts } : { kind: 'addRule', chain, stmts, comment: c })
    if (ext) {
      if (ext.masquerade) {
        // Cluster policy: endpoints may be on other nodes, so the reply must come back here.
        rule(names.external, [x.markRule], COMMENT.masquerade)
      } else {
        // Pods reaching an external address behave as if the load balancer bounced them back:
        // all endpoints, source kept.
        if (ext.shortCircuitLocalPods && this.local) rule(names.external, [this.local, ir.goto(names.cluster)], COMMENT.shortCircuitPods)
        if (ext.shortCircuitHost) {
          // The node's own traffic carries a local source address; masquerade it so replies
          // come back through this node's conntrack.
          rule(names.external, [ir.eq(ir.fib('saddr'), ir.lit('local')), x.markRule], COMMENT.masqueradeLocal)
          rule(names.external, [ir.eq(ir.fib('saddr'), ir.lit('local')), ir.goto(names.cluster)], COMMENT.shortCircuitLocal)
        }
      }
      if (ext.policy.action === 'forward') rule(names.external, [ir.goto(policyChain(ext.policy))])
    }

    if (usesFirewall) {
      const sources = sp.firewall.sourceRanges.map(cidrExpr)
      // A VIP bound locally makes the node's own requests arrive with the VIP as source.
      if (sp.firewall.allowLoadBalancerVIPsAsSource) for (const vip of sp.loadBalancerVIPs) sources.push(ir.lit(vip))
      rule(names.firewall, [ir.ne(x.saddr, ir.anonSet(sources, 'spaced')), ir.drop()])
    }

    if (affinity !== null) {
      for (const n of epNames) out.op({ kind: 'addSet', name: n.affinitySet, container: 'set', keyType: [x.addr], flags: ['dynamic', 'timeout'], timeoutSeconds: affinity })
      const byEndpoint = new Map(reachable.map((e, i) => [e, epNames[i] as { chain: string; affinitySet: string }]))
      const epName = (e: EndpointModel) => byEndpoint.get(e) as { chain: string; affinitySet: string }
      if (usesClusterChain) this.endpointJumps(out, names.cluster, clusterEps.map(epName))
      if (usesLocalChain) this.endpointJumps(out, names.local, localEps.map(epName))
      for (let i = 0; i < reachable.length; i++) {
        const e = reachable[i] as EndpointModel
        const n = epNames[i] as { chain: string; affinitySet: string }
        rule(n.chain, [{ kind: 'setUpdate', set: n.affinitySet, elem: x.saddr }])
        rule(n.chain, [x.l4proto(proto), { kind: 'dnat', addr: e.ip, port: e.port }])
      }
    } else {
      if (usesClusterChain) this.endpointDNATs(out, names.cluster, proto, clusterEps)
      if (usesLocalChain) this.endpointDNATs(out, names.local, proto, localEps)
    }
  }

  /** writeServiceToEndpointDNATs: one rule picking an endpoint at random and DNATing to it. */
  private endpointDNATs(out: Sink, chain: string, proto: string, eps: readonly EndpointModel[]): void {
    const entries = new Array<readonly [number, string, number]>(eps.length)
    for (let i = 0; i < eps.length; i++) entries[i] = [i, (eps[i] as EndpointModel).ip, (eps[i] as EndpointModel).port]
    out.op({ kind: 'addRule', chain, stmts: [this.x.l4proto(proto), { kind: 'dnatMap', family: this.x.nf, key: ir.numgen(eps.length), entries }] })
  }

  /** writeServiceToEndpointJumps: sticky clients first, then a random endpoint chain. */
  private endpointJumps(out: Sink, chain: string, eps: readonly { chain: string; affinitySet: string }[]): void {
    for (const e of eps) out.op({ kind: 'addRule', chain, stmts: [ir.eq(this.x.saddr, ir.ref(e.affinitySet)), ir.goto(e.chain)] })
    out.op({ kind: 'addRule', chain, stmts: [{ kind: 'vmapLiteral', key: ir.numgen(eps.length), entries: eps.map((e, i) => [i, { kind: 'goto', target: e.chain }] as const) }] })
  }
}

function filterVerdict(v: ModelVerdict): Verdict {
  return v.action === 'reject' ? { kind: 'goto', target: CHAIN.reject } : { kind: 'drop' }
}

/**
 * The endpoints with these keys. Both lists are sorted by key (select.ts filters the sorted
 * endpoints), so a merge walk finds them without a map per port; any other order falls back to
 * a lookup by key.
 */
function endpointsOf(sp: ServicePortModel, keys: readonly string[]): EndpointModel[] {
  const all = sp.endpoints
  const out = new Array<EndpointModel>(keys.length)
  let j = 0
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    while (j < all.length && (all[j] as EndpointModel).key !== k) j++
    if (j === all.length) return endpointsByKey(sp, keys)
    out[i] = all[j++] as EndpointModel
  }
  return out
}

function endpointsByKey(sp: ServicePortModel, keys: readonly string[]): EndpointModel[] {
  const byKey = new Map(sp.endpoints.map((e) => [e.key, e]))
  return keys.map((key) => {
    const e = byKey.get(key)
    if (!e) throw new KproxcError('INTERNAL', `service port ${sp.key}: endpoint ${key} is selected but not listed`)
    return e
  })
}

/** A CIDR as nft writes it: a host prefix stays a prefix (kube-proxy passes `a.b.c.d/32` through). */
export function cidrExpr(cidr: string): Expr {
  const slash = cidr.indexOf('/')
  return ir.prefix(cidr.slice(0, slash), Number(cidr.slice(slash + 1)))
}

/** IfLocalNFT of pkg/proxy/util/localdetector.go; null for the no-op detector. */
export function localMatch(d: LocalDetector, nf: NftFamily): Stmt | null {
  switch (d.kind) {
    case 'none':
      return null
    case 'cidr':
      return ir.eq(ir.payload(nf, 'saddr'), cidrExpr(d.cidr))
    case 'bridgeInterface':
      return ir.eq(ir.meta('iifname'), ir.lit(d.name))
    case 'interfaceNamePrefix':
      return ir.eq(ir.meta('iifname'), ir.lit(`${d.prefix}*`))
  }
}
