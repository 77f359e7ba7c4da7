/**
 * One service port → its IR fragment: the rules kube-proxy's syncProxyRules writes for it
 * (pkg/proxy/iptables/proxier.go), in its order. spell-port.ts is the text twin of this file for
 * the one-shot emit; emit.test.ts holds the two to the same bytes.
 */
import { type EndpointModel, KproxcError, type ServicePortModel } from '@kproxc/core'
import type { FamilyContext } from './context.js'
import type { Match, Rule, Target } from './ir.js'
import { CHAINS, NFACCT, endpointChain, servicePortChains, servicePortHash } from './names.js'
import { ACCEPT, DROP, DST_LOCAL, PROTOCOL, REJECT, SRC_LOCAL, TO_MARK_MASQ, bare, dport, dst, jump, quoted, src, statistic } from './rules.js'

/** What one service port contributes to the ruleset, each list in output order. */
export interface PortFragment {
  /** Rules in the fixed filter chains (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL). */
  readonly filterRules: readonly Rule[]
  /** The port's own nat chains (EXT, FW, SVC, SVL, SEP), in declaration order. */
  readonly natChains: readonly string[]
  /** Its nat rules: in KUBE-SERVICES / KUBE-NODEPORTS and in its own chains, interleaved as kube-proxy writes them. */
  readonly natRules: readonly Rule[]
}

interface Sections {
  filterRules: Rule[]
  natChains: string[]
  natRules: Rule[]
}

/** The fragment of one service port. */
export function compileFragment(ctx: FamilyContext, sp: ServicePortModel): PortFragment {
  const s: Sections = { filterRules: [], natChains: [], natRules: [] }
  compileServicePort(ctx, sp, s)
  return s
}

function compileServicePort(ctx: FamilyContext, sp: ServicePortModel, s: Sections): void {
  const spn = sp.displayName
  const proto = PROTOCOL[sp.protocolLower]
  const chains = servicePortChains(servicePortHash(spn, sp.protocolLower))
  const hasEndpoints = sp.hasAnyEndpoints
  const clusterEndpoints = sp.clusterEndpoints ?? []
  const localEndpoints = sp.localEndpoints ?? []
  const usesSVC = sp.usesClusterEndpoints && clusterEndpoints.length > 0
  const usesSVL = sp.usesLocalEndpoints && localEndpoints.length > 0
  const internal = sp.internal
  const internalChain = internal.action === 'forward' && internal.to === 'local' ? chains.svl : chains.svc
  const external = sp.external
  const usesEXT = hasEndpoints && external !== null
  const usesFW = hasEndpoints && sp.firewall.enabled
  const lbTarget = usesFW ? chains.fw : chains.ext
  const port = dport(sp.port)

  const noEndpoints = quoted(`${spn} has no endpoints`)
  const noLocal = quoted(`${spn} has no local endpoints`)
  const filterVerdict = (v: ServicePortModel['internal']): { comment: Match; target: Target } | null =>
    v.action === 'reject' ? { comment: noEndpoints, target: REJECT } : v.action === 'drop' ? { comment: noLocal, target: DROP } : null
  const internalFilter = filterVerdict(internal)
  const externalFilter = external ? filterVerdict(external.policy) : null

  // N1 / F1: the cluster IP.
  const clusterIPComment = quoted(`${spn} cluster IP`)
  const clusterIPMatch: Match[] = [clusterIPComment, proto, dst(sp.clusterIP), port]
  if (internalFilter) {
    s.filterRules.push({ chain: CHAINS.services, matches: [internalFilter.comment, proto, dst(sp.clusterIP), port], target: internalFilter.target })
  } else {
    s.natRules.push({ chain: CHAINS.services, matches: clusterIPMatch, target: jump(internalChain) })
  }

  // N2 / F2: external IPs.
  if (sp.externalIPs.length > 0) {
    const comment = quoted(`${spn} external IP`)
    for (const ip of sp.externalIPs) {
      if (hasEndpoints) s.natRules.push({ chain: CHAINS.services, matches: [comment, proto, dst(ip), port], target: jump(chains.ext) })
      if (externalFilter) {
        s.filterRules.push({ chain: CHAINS.externalServices, matches: [externalFilter.comment, proto, dst(ip), port], target: externalFilter.target })
      }
    }
  }

  // N3 / F3 / F4: LoadBalancer VIPs (ipMode Proxy and hostname-only ingress are already gone).
  if (sp.loadBalancerVIPs.length > 0) {
    const comment = quoted(`${spn} loadbalancer IP`)
    const notAccepted = quoted(`${spn} traffic not accepted by ${chains.fw}`)
    for (const ip of sp.loadBalancerVIPs) {
      if (hasEndpoints) s.natRules.push({ chain: CHAINS.services, matches: [comment, proto, dst(ip), port], target: jump(lbTarget) })
      if (usesFW) s.filterRules.push({ chain: CHAINS.proxyFirewall, matches: [notAccepted, proto, dst(ip), port], target: DROP })
    }
    if (externalFilter) {
      for (const ip of sp.loadBalancerVIPs) {
        s.filterRules.push({ chain: CHAINS.externalServices, matches: [externalFilter.comment, proto, dst(ip), port], target: externalFilter.target })
      }
    }
  }

  // N5 / F5: the NodePort. Source ranges never apply to it: it jumps to EXT, not FW.
  if (sp.nodePort !== 0) {
    const np = dport(sp.nodePort)
    if (hasEndpoints) {
      const comment = bare(spn)
      if (ctx.localhostNodePorts && ctx.options.nfacct) {
        s.natRules.push({
          chain: CHAINS.nodePorts,
          matches: [comment, proto, dst('127.0.0.0/8'), np, { kind: 'nfacct', name: NFACCT.localhostNodePorts }],
          target: jump(chains.ext),
        })
      }
      s.natRules.push({ chain: CHAINS.nodePorts, matches: [comment, proto, np], target: jump(chains.ext) })
    }
    if (externalFilter) {
      s.filterRules.push({ chain: CHAINS.externalServices, matches: [externalFilter.comment, DST_LOCAL, proto, np], target: externalFilter.target })
    }
  }

  // F6: the health-check node port is accepted whether or not there are endpoints.
  if (sp.healthCheckNodePort !== 0) {
    s.filterRules.push({
      chain: CHAINS.nodePorts,
      matches: [quoted(`${spn} health check node port`), PROTOCOL.tcp, dport(sp.healthCheckNodePort)],
      target: ACCEPT,
    })
  }

  // N7: masquerade off-cluster traffic to the cluster IP (it may be routed here from outside).
  if (!internalFilter) {
    if (ctx.masqueradeAll) s.natRules.push({ chain: internalChain, matches: clusterIPMatch, target: TO_MARK_MASQ })
    else if (ctx.detector) s.natRules.push({ chain: internalChain, matches: [...clusterIPMatch, ctx.detector.ifNotLocal], target: TO_MARK_MASQ })
  }

  // N8: the EXT chain.
  if (usesEXT && external) {
    s.natChains.push(chains.ext)
    if (external.masquerade) {
      s.natRules.push({ chain: chains.ext, matches: [quoted(`masquerade traffic for ${spn} external destinations`)], target: TO_MARK_MASQ })
    } else {
      // eTP Local: pod and node traffic is treated as if it had hairpinned through the LB.
      if (external.shortCircuitLocalPods && ctx.detector) {
        s.natRules.push({ chain: chains.ext, matches: [quoted(`pod traffic for ${spn} external destinations`), ctx.detector.ifLocal], target: jump(chains.svc) })
      }
      if (external.shortCircuitHost) {
        s.natRules.push({ chain: chains.ext, matches: [quoted(`masquerade LOCAL traffic for ${spn} external destinations`), SRC_LOCAL], target: TO_MARK_MASQ })
        s.natRules.push({ chain: chains.ext, matches: [quoted(`route LOCAL traffic for ${spn} external destinations`), SRC_LOCAL], target: jump(chains.svc) })
      }
    }
    if (external.policy.action === 'forward') {
      s.natRules.push({ chain: chains.ext, matches: [], target: jump(external.policy.to === 'local' ? chains.svl : chains.svc) })
    }
  }

  // N9: the FW chain for loadBalancerSourceRanges; what falls through is dropped in filter (F3).
  if (usesFW) {
    s.natChains.push(chains.fw)
    const comment = quoted(`${spn} loadbalancer IP`)
    for (const cidr of sp.firewall.sourceRanges) s.natRules.push({ chain: chains.fw, matches: [comment, src(cidr)], target: jump(chains.ext) })
    // A VIP bound locally makes node → VIP traffic arrive with the VIP as source.
    if (sp.firewall.allowLoadBalancerVIPsAsSource) {
      for (const ip of sp.loadBalancerVIPs) s.natRules.push({ chain: chains.fw, matches: [comment, src(ip)], target: jump(chains.ext) })
    }
    s.natRules.push({ chain: chains.fw, matches: [quoted(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)], target: null })
  }

  // N10 / N11 / N12: policy chains and endpoint chains.
  const byKey = new Map<string, EndpointModel>()
  for (const e of sp.endpoints) byKey.set(e.key, e)
  const sepNames = new Map<string, string>()
  for (const key of sp.reachableEndpoints) sepNames.set(key, endpointChain(spn, sp.protocolLower, key))
  const sepOf = (key: string): string => sepNames.get(key) ?? endpointChain(spn, sp.protocolLower, key)

  if (usesSVC) {
    s.natChains.push(chains.svc)
    writeEndpointRules(ctx, sp, chains.svc, clusterEndpoints, sepOf, s.natRules)
  }
  if (usesSVL) {
    s.natChains.push(chains.svl)
    writeEndpointRules(ctx, sp, chains.svl, localEndpoints, sepOf, s.natRules)
  }
  const sepComment = ctx.largeCluster ? null : bare(spn)
  const affinity = sp.sessionAffinity.kind === 'ClientIP'
  for (const key of sp.reachableEndpoints) {
    const ep = byKey.get(key)
    if (!ep) throw new KproxcError('INTERNAL', `${sp.key}: reachable endpoint ${key} is not among its endpoints`)
    const sep = sepOf(key)
    s.natChains.push(sep)
    // Hairpin: a pod reaching itself through the service must not see its own address as source.
    s.natRules.push({ chain: sep, matches: sepComment ? [sepComment, src(ep.ip)] : [src(ep.ip)], target: TO_MARK_MASQ })
    const m: Match[] = sepComment ? [sepComment] : []
    if (affinity) m.push({ kind: 'recentSet', name: sep })
    m.push(proto)
    s.natRules.push({ chain: sep, matches: m, target: { kind: 'dnat', destination: key } })
  }
}

/** Affinity then probability rules of one SVC/SVL chain (writeServiceToEndpointRules). */
function writeEndpointRules(
  ctx: FamilyContext,
  sp: ServicePortModel,
  chain: string,
  endpoints: readonly string[],
  sepOf: (key: string) => string,
  out: Rule[],
): void {
  const comments = ctx.largeCluster ? null : endpoints.map((key) => quoted(`${sp.displayName} -> ${key}`))
  if (sp.sessionAffinity.kind === 'ClientIP') {
    const seconds = sp.sessionAffinity.timeoutSeconds
    endpoints.forEach((key, i) => {
      const sep = sepOf(key)
      const check: Match = { kind: 'recentCheck', name: sep, seconds }
      out.push({ chain, matches: comments ? [comments[i] as Match, check] : [check], target: jump(sep) })
    })
  }
  const n = endpoints.length
  endpoints.forEach((key, i) => {
    const m: Match[] = comments ? [comments[i] as Match] : []
    if (i < n - 1) m.push(statistic(n - i))
    out.push({ chain, matches: m, target: jump(sepOf(key)) })
  })
}

