/**
 * The text twin of compile-port.ts for the one-shot emit: the same rules of one service port, in
 * the same order, spelled straight to iptables-restore lines with render.ts's WORDS, without IR
 * objects. A 10k-service cluster has ~3·10^5 rules, and building Rule objects only to spell and
 * drop them was, after the name hashes, the largest cost of `kproxc compile`. emit.test.ts holds
 * both paths to the same bytes on every fixture and on random clusters; a change to what a port
 * compiles to goes in both files.
 */
import { type EndpointModel, type ExternalDispatch, KproxcError, type ServicePortModel } from '@kproxc/core'
import type { FamilyContext } from './context.js'
import type { IptProtocol } from './ir.js'
import { CHAINS, NFACCT, endpointChain, servicePortChains, servicePortHash } from './names.js'
import { probability } from './probability.js'
import { WORDS, renderMatch } from './render.js'
import type { TextSink } from './text-sink.js'

/** Per-family words every port reuses. */
export interface SpellContext {
  readonly ctx: FamilyContext
  readonly ifLocal: string | null
  readonly ifNotLocal: string | null
}

/** Where spelled text goes: one sink per output section. */
export interface SpelledSections {
  filterRules: TextSink
  natChains: TextSink
  natRules: TextSink
}

/** The words of the family context. */
export function spellContext(ctx: FamilyContext): SpellContext {
  return {
    ctx,
    ifLocal: ctx.detector ? renderMatch(ctx.detector.ifLocal) : null,
    ifNotLocal: ctx.detector ? renderMatch(ctx.detector.ifNotLocal) : null,
  }
}

const PROTOCOL: Record<IptProtocol, string> = { tcp: WORDS.protocol('tcp'), udp: WORDS.protocol('udp'), sctp: WORDS.protocol('sctp') }
const TO_MARK_MASQ = WORDS.jump(CHAINS.markMasq)
const DROP = WORDS.verdict('DROP')
const REJECT = WORDS.verdict('REJECT')
const ACCEPT = WORDS.verdict('ACCEPT')
const SRC_LOCAL = WORDS.addrtype('source')
const DST_LOCAL = WORDS.addrtype('destination')
const LOCALHOST_DST = WORDS.address('destination', '127.0.0.0/8', false)
const NFACCT_LOCALHOST = WORDS.nfacct(NFACCT.localhostNodePorts)
const statistics: string[] = []
const statistic = (k: number): string => (statistics[k] ??= WORDS.statistic(probability(k)))
const quoted = (text: string) => WORDS.comment(text, true)
const dst = (address: string) => WORDS.address('destination', address, false)
const src = (address: string) => WORDS.address('source', address, false)

/** One port's words that several of its rules share. */
interface Port {
  sp: ServicePortModel
  spn: string
  proto: string
  /** `--dport` of the service port. */
  port: string
  chains: { svc: string; svl: string; ext: string; fw: string }
  /** The jump for traffic to the cluster IP (SVC, or SVL for internalTrafficPolicy Local). */
  internalChain: string
  usesFW: boolean
  /** The filter rule of a port whose traffic is rejected or dropped (no endpoints / no local endpoints). */
  internalFilter: FilterVerdict | null
  externalFilter: FilterVerdict | null
  /** The comment and matches of the N1 cluster IP rule, which N7 repeats. */
  clusterIPMatch: string
}

interface FilterVerdict {
  comment: string
  target: string
}

function filterVerdict(spn: string, v: ServicePortModel['internal']): FilterVerdict | null {
  if (v.action === 'reject') return { comment: quoted(`${spn} has no endpoints`), target: REJECT }
  if (v.action === 'drop') return { comment: quoted(`${spn} has no local endpoints`), target: DROP }
  return null
}

// The per-port work is split into small functions on purpose: V8 optimizes a function only after
// it ran hot, and compiled the single 200-line version for ~0.1-0.3 s of the cold emit, which ran
// in baseline code meanwhile. Rare rules (external and LoadBalancer IPs, NodePorts, EXT and FW
// chains) stay out of the per-endpoint path.

/** Appends one service port's lines, exactly as renderRule and renderChainLines would spell compileFragment's. */
export function spellServicePort(sc: SpellContext, sp: ServicePortModel, out: SpelledSections): void {
  const spn = sp.displayName
  const proto = PROTOCOL[sp.protocolLower]
  const chains = servicePortChains(servicePortHash(spn, sp.protocolLower))
  const internal = sp.internal
  const port = WORDS.dport(sp.port)
  const p: Port = {
    sp,
    spn,
    proto,
    port,
    chains,
    internalChain: internal.action === 'forward' && internal.to === 'local' ? chains.svl : chains.svc,
    usesFW: sp.hasAnyEndpoints && sp.firewall.enabled,
    internalFilter: filterVerdict(spn, internal),
    externalFilter: sp.external ? filterVerdict(spn, sp.external.policy) : null,
    clusterIPMatch: `${quoted(`${spn} cluster IP`)} ${proto} ${dst(sp.clusterIP)} ${port}`,
  }

  // N1 / F1: the cluster IP.
  if (p.internalFilter) out.filterRules.line(`-A ${CHAINS.services} ${p.internalFilter.comment} ${proto} ${dst(sp.clusterIP)} ${port} ${p.internalFilter.target}`)
  else out.natRules.line(`-A ${CHAINS.services} ${p.clusterIPMatch} -j ${p.internalChain}`)
  if (sp.externalIPs.length > 0 || sp.loadBalancerVIPs.length > 0) spellExternalIPs(p, out)
  if (sp.nodePort !== 0) spellNodePort(sc, p, out)
  // F6: the health-check node port is accepted whether or not there are endpoints.
  if (sp.healthCheckNodePort !== 0) {
    out.filterRules.line(`-A ${CHAINS.nodePorts} ${quoted(`${spn} health check node port`)} ${PROTOCOL.tcp} ${WORDS.dport(sp.healthCheckNodePort)} ${ACCEPT}`)
  }
  // N7: masquerade off-cluster traffic to the cluster IP.
  if (!p.internalFilter) {
    if (sc.ctx.masqueradeAll) out.natRules.line(`-A ${p.internalChain} ${p.clusterIPMatch} ${TO_MARK_MASQ}`)
    else if (sc.ifNotLocal) out.natRules.line(`-A ${p.internalChain} ${p.clusterIPMatch} ${sc.ifNotLocal} ${TO_MARK_MASQ}`)
  }
  if (sp.hasAnyEndpoints && sp.external) spellExternalChain(sc, p, sp.external, out)
  if (p.usesFW) spellFirewallChain(p, out)
  spellEndpoints(sc, p, out)
}

/** N2 / F2 (external IPs) and N3 / F3 / F4 (LoadBalancer VIPs). */
function spellExternalIPs({ sp, spn, proto, port, chains, usesFW, externalFilter }: Port, out: SpelledSections): void {
  const hasEndpoints = sp.hasAnyEndpoints
  if (sp.externalIPs.length > 0) {
    const comment = quoted(`${spn} external IP`)
    for (const ip of sp.externalIPs) {
      if (hasEndpoints) out.natRules.line(`-A ${CHAINS.services} ${comment} ${proto} ${dst(ip)} ${port} -j ${chains.ext}`)
      if (externalFilter) out.filterRules.line(`-A ${CHAINS.externalServices} ${externalFilter.comment} ${proto} ${dst(ip)} ${port} ${externalFilter.target}`)
    }
  }
  if (sp.loadBalancerVIPs.length > 0) {
    const comment = quoted(`${spn} loadbalancer IP`)
    const notAccepted = quoted(`${spn} traffic not accepted by ${chains.fw}`)
    const lbTarget = usesFW ? chains.fw : chains.ext
    for (const ip of sp.loadBalancerVIPs) {
      if (hasEndpoints) out.natRules.line(`-A ${CHAINS.services} ${comment} ${proto} ${dst(ip)} ${port} -j ${lbTarget}`)
      if (usesFW) out.filterRules.line(`-A ${CHAINS.proxyFirewall} ${notAccepted} ${proto} ${dst(ip)} ${port} ${DROP}`)
    }
    if (externalFilter) {
      for (const ip of sp.loadBalancerVIPs) {
        out.filterRules.line(`-A ${CHAINS.externalServices} ${externalFilter.comment} ${proto} ${dst(ip)} ${port} ${externalFilter.target}`)
      }
    }
  }
}

/** N5 / F5: the NodePort. */
function spellNodePort(sc: SpellContext, { sp, spn, proto, chains, externalFilter }: Port, out: SpelledSections): void {
  const np = WORDS.dport(sp.nodePort)
  if (sp.hasAnyEndpoints) {
    const comment = WORDS.comment(spn, false)
    if (sc.ctx.localhostNodePorts && sc.ctx.options.nfacct) {
      out.natRules.line(`-A ${CHAINS.nodePorts} ${comment} ${proto} ${LOCALHOST_DST} ${np} ${NFACCT_LOCALHOST} -j ${chains.ext}`)
    }
    out.natRules.line(`-A ${CHAINS.nodePorts} ${comment} ${proto} ${np} -j ${chains.ext}`)
  }
  if (externalFilter) out.filterRules.line(`-A ${CHAINS.externalServices} ${externalFilter.comment} ${DST_LOCAL} ${proto} ${np} ${externalFilter.target}`)
}

/** N8: the EXT chain. */
function spellExternalChain(sc: SpellContext, { spn, chains }: Port, external: ExternalDispatch, out: SpelledSections): void {
  const ext = chains.ext
  const n = out.natRules
  out.natChains.line(`:${ext} - [0:0]`)
  if (external.masquerade) {
    n.line(`-A ${ext} ${quoted(`masquerade traffic for ${spn} external destinations`)} ${TO_MARK_MASQ}`)
  } else {
    if (external.shortCircuitLocalPods && sc.ifLocal) n.line(`-A ${ext} ${quoted(`pod traffic for ${spn} external destinations`)} ${sc.ifLocal} -j ${chains.svc}`)
    if (external.shortCircuitHost) {
      n.line(`-A ${ext} ${quoted(`masquerade LOCAL traffic for ${spn} external destinations`)} ${SRC_LOCAL} ${TO_MARK_MASQ}`)
      n.line(`-A ${ext} ${quoted(`route LOCAL traffic for ${spn} external destinations`)} ${SRC_LOCAL} -j ${chains.svc}`)
    }
  }
  if (external.policy.action === 'forward') n.line(`-A ${ext} -j ${external.policy.to === 'local' ? chains.svl : chains.svc}`)
}

/** N9: the FW chain. */
function spellFirewallChain({ sp, spn, chains }: Port, out: SpelledSections): void {
  const fw = chains.fw
  const n = out.natRules
  out.natChains.line(`:${fw} - [0:0]`)
  const comment = quoted(`${spn} loadbalancer IP`)
  for (const cidr of sp.firewall.sourceRanges) n.line(`-A ${fw} ${comment} ${src(cidr)} -j ${chains.ext}`)
  if (sp.firewall.allowLoadBalancerVIPsAsSource) {
    for (const ip of sp.loadBalancerVIPs) n.line(`-A ${fw} ${comment} ${src(ip)} -j ${chains.ext}`)
  }
  n.line(`-A ${fw} ${quoted(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)}`)
}

/** N10 / N11 / N12: the SVC and SVL chains and the endpoint chains; each SEP name is hashed once. */
function spellEndpoints(sc: SpellContext, { sp, spn, proto, chains }: Port, out: SpelledSections): void {
  const reachable = sp.reachableEndpoints
  const seps = new Array<string>(reachable.length)
  for (let i = 0; i < reachable.length; i++) seps[i] = endpointChain(spn, sp.protocolLower, reachable[i] as string)
  const sepsOf = (keys: readonly string[]): readonly string[] => {
    if (keys === reachable) return seps
    const byKey = new Map<string, string>()
    reachable.forEach((key, i) => byKey.set(key, seps[i] as string))
    return keys.map((key) => byKey.get(key) ?? endpointChain(spn, sp.protocolLower, key))
  }
  const clusterEndpoints = sp.clusterEndpoints
  if (sp.usesClusterEndpoints && clusterEndpoints && clusterEndpoints.length > 0) {
    out.natChains.line(`:${chains.svc} - [0:0]`)
    spellEndpointRules(sc, sp, chains.svc, clusterEndpoints, sepsOf(clusterEndpoints), out.natRules)
  }
  const localEndpoints = sp.localEndpoints
  if (sp.usesLocalEndpoints && localEndpoints && localEndpoints.length > 0) {
    out.natChains.line(`:${chains.svl} - [0:0]`)
    spellEndpointRules(sc, sp, chains.svl, localEndpoints, sepsOf(localEndpoints), out.natRules)
  }
  const sepComment = sc.ctx.largeCluster ? '' : `${WORDS.comment(spn, false)} `
  const recent = sp.sessionAffinity.kind === 'ClientIP'
  const endpoints = sp.endpoints
  let next = 0
  for (let i = 0; i < reachable.length; i++) {
    const key = reachable[i] as string
    // Both lists are sorted by key, so one forward walk finds every endpoint.
    while (next < endpoints.length && (endpoints[next] as EndpointModel).key !== key) next++
    const ep = next < endpoints.length ? (endpoints[next++] as EndpointModel) : endpoints.find((e) => e.key === key)
    if (!ep) throw new KproxcError('INTERNAL', `${sp.key}: reachable endpoint ${key} is not among its endpoints`)
    const sep = seps[i] as string
    out.natChains.line(`:${sep} - [0:0]`)
    // Hairpin: a pod reaching itself through the service must not see its own address as source.
    out.natRules.line(`-A ${sep} ${sepComment}${src(ep.ip)} ${TO_MARK_MASQ}`)
    out.natRules.line(`-A ${sep} ${sepComment}${recent ? `${WORDS.recentSet(sep)} ` : ''}${proto} ${WORDS.dnat(key)}`)
  }
}

/** The affinity then probability rules of one SVC/SVL chain (writeServiceToEndpointRules). */
function spellEndpointRules(sc: SpellContext, sp: ServicePortModel, chain: string, keys: readonly string[], seps: readonly string[], n: TextSink): void {
  const comment = (i: number) => (sc.ctx.largeCluster ? '' : `${quoted(`${sp.displayName} -> ${keys[i]}`)} `)
  if (sp.sessionAffinity.kind === 'ClientIP') {
    const seconds = sp.sessionAffinity.timeoutSeconds
    for (let i = 0; i < keys.length; i++) n.line(`-A ${chain} ${comment(i)}${WORDS.recentCheck(seps[i] as string, seconds)} -j ${seps[i]}`)
  }
  const count = keys.length
  for (let i = 0; i < count; i++) {
    n.line(i < count - 1 ? `-A ${chain} ${comment(i)}${statistic(count - i)} -j ${seps[i]}` : `-A ${chain} ${comment(i)}-j ${seps[i]}`)
  }
}
