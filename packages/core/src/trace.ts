/**
 * Packet tracing shared by the three backends: the packet, the steps of a traced path, the leaves of
 * the explored branches, the summarized result, and the model's own verdict for a packet (the oracle
 * the backends are checked against). Pure types and helpers; the tracers live in the backends.
 */
import { cidrContains, isLoopback, joinHostPort } from './ip.js'
import type { Family, FamilyModel, LocalDetector, ProxyMode, ServicePortModel, Verdict } from './model.js'

/** Where a traced packet comes from: a pod on this node, a process of the node, or off the node. */
export type TraceSource = 'pod' | 'node' | 'external'
export type TraceProtocol = 'tcp' | 'udp' | 'sctp'

/** The first packet of a new connection, as a tracer sees it. */
export interface Packet {
  family: Family
  protocol: TraceProtocol
  src: string
  dst: string
  dport: number
  from: TraceSource
  /** Input interface ('' when unknown); only interface-based local-traffic detectors read it. */
  iif: string
  /** The destination is an address of this node (iptables `addrtype --dst-type LOCAL`, nft `fib daddr type local`). */
  dstLocal: boolean
}

/** What finally happens to the packet. `none`: no kube-proxy rule decided anything. */
export type TraceVerdict = 'forward' | 'reject' | 'drop' | 'accept' | 'none'

/** One rule (or map lookup, or IPVS service) the packet went through. */
export interface TraceStep {
  table: string
  chain: string
  /** The rule as written in the dump. */
  rule: string
  comment?: string
  /** What the tracer concluded at this step (branch probability, affinity, set lookup). */
  note?: string
}

/** One fully explored branch. */
export interface TraceLeaf {
  probability: number
  verdict: TraceVerdict
  endpoint: { ip: string; port: number } | null
  masquerade: boolean
  path: TraceStep[]
  reason: string
}

/** A forwarded endpoint with the share of new connections it receives. */
export interface TraceEndpoint {
  ip: string
  port: number
  probability: number
  masquerade: boolean
  /** The steps of this endpoint's branch after the shared `path`. */
  path: TraceStep[]
}

/** Session affinity met on the path. */
export interface TraceAffinity {
  timeoutSeconds: number
  /** How the mode implements it (recent list, nft dynamic set, IPVS persistence). */
  mechanism: string
}

/** The summarized trace of one packet in one mode. */
export interface TraceResult {
  mode: ProxyMode
  packet: Packet
  verdict: TraceVerdict
  reason: string
  /** Empty unless forwarded; probabilities of the reachable endpoints sum to 1. */
  endpoints: TraceEndpoint[]
  /** Every branch is masqueraded (per-endpoint values in `endpoints`). */
  masquerade: boolean
  /** Steps shared by every branch. */
  path: TraceStep[]
  affinity: TraceAffinity | null
  /** Rules the tracer does not understand, by chain and text; they were treated as not matching. */
  unknown: string[]
  leaves: TraceLeaf[]
}

const round = (p: number) => Math.round(p * 1e9) / 1e9

function sameStep(a: TraceStep, b: TraceStep): boolean {
  return a.table === b.table && a.chain === b.chain && a.rule === b.rule && a.note === b.note
}

/** Folds the explored leaves into a result. A packet forwarded on any branch is `forward`. */
export function summarizeTrace(mode: ProxyMode, packet: Packet, leaves: TraceLeaf[], affinity: TraceAffinity | null, unknown: string[]): TraceResult {
  let shared = leaves[0]?.path.length ?? 0
  for (const l of leaves) {
    let i = 0
    while (i < shared && i < l.path.length && sameStep(l.path[i] as TraceStep, (leaves[0] as TraceLeaf).path[i] as TraceStep)) i++
    shared = i
  }
  const path = leaves[0]?.path.slice(0, shared) ?? []
  const forwarded = leaves.filter((l) => l.verdict === 'forward' && l.endpoint)
  const byKey = new Map<string, TraceEndpoint>()
  const total = forwarded.reduce((s, l) => s + l.probability, 0)
  for (const l of forwarded) {
    const ep = l.endpoint as { ip: string; port: number }
    const key = joinHostPort(ep.ip, ep.port)
    const cur = byKey.get(key)
    if (cur) {
      cur.probability += l.probability / total
      cur.masquerade &&= l.masquerade
    } else {
      byKey.set(key, { ip: ep.ip, port: ep.port, probability: l.probability / total, masquerade: l.masquerade, path: l.path.slice(shared) })
    }
  }
  const endpoints = [...byKey.values()].map((e) => ({ ...e, probability: round(e.probability) }))
  const main = forwarded[0] ?? leaves.reduce<TraceLeaf | undefined>((best, l) => (!best || l.probability > best.probability ? l : best), undefined)
  return {
    mode,
    packet,
    verdict: main?.verdict ?? 'none',
    reason: main?.reason ?? 'no kube-proxy rule matched',
    endpoints,
    masquerade: leaves.length > 0 && (forwarded.length > 0 ? forwarded : leaves).every((l) => l.masquerade),
    path,
    affinity,
    unknown: [...new Set(unknown)],
    leaves,
  }
}

/** What two traces are compared on: verdict, endpoint shares, masquerade per endpoint. */
export interface TraceOutcome {
  verdict: TraceVerdict
  endpoints: { ip: string; port: number; probability: number; masquerade: boolean }[]
  /** For non-forwarded packets: whether the packet was marked anyway (not compared). */
  masquerade: boolean
}

/** The comparable part of a result, endpoints sorted by `ip:port`. */
export function outcomeOf(r: TraceResult): TraceOutcome {
  return {
    verdict: r.verdict,
    endpoints: r.endpoints
      .map((e) => ({ ip: e.ip, port: e.port, probability: e.probability, masquerade: e.masquerade }))
      .sort((a, b) => (joinHostPort(a.ip, a.port) < joinHostPort(b.ip, b.port) ? -1 : 1)),
    masquerade: r.masquerade,
  }
}

/** A sentence saying how two outcomes differ, or null when they agree (probabilities within 1e-6). */
export function diffOutcomes(a: TraceOutcome, b: TraceOutcome): string | null {
  if (a.verdict !== b.verdict) return `verdict ${a.verdict} vs ${b.verdict}`
  if (a.verdict !== 'forward') return null
  const show = (o: TraceOutcome) => o.endpoints.map((e) => `${joinHostPort(e.ip, e.port)}@${e.probability.toFixed(4)}${e.masquerade ? '+masq' : ''}`).join(' ')
  if (a.endpoints.length !== b.endpoints.length) return `endpoints ${show(a)} vs ${show(b)}`
  for (let i = 0; i < a.endpoints.length; i++) {
    const x = a.endpoints[i] as TraceOutcome['endpoints'][number]
    const y = b.endpoints[i] as TraceOutcome['endpoints'][number]
    if (x.ip !== y.ip || x.port !== y.port || Math.abs(x.probability - y.probability) > 1e-6) return `endpoints ${show(a)} vs ${show(b)}`
    if (x.masquerade !== y.masquerade) return `masquerade of ${joinHostPort(x.ip, x.port)} ${x.masquerade} vs ${y.masquerade}`
  }
  return null
}

/** An address + port a service port captures. */
export interface Frontend {
  kind: 'clusterIP' | 'externalIP' | 'loadBalancer' | 'nodePort'
  ip: string
  port: number
  protocol: TraceProtocol
  servicePort: ServicePortModel
}

/** Every frontend of one family, in kube-proxy's match order (service IPs before NodePorts). */
export function frontendsOf(fm: FamilyModel): Frontend[] {
  const out: Frontend[] = []
  const f = (kind: Frontend['kind'], ip: string, port: number, sp: ServicePortModel) => out.push({ kind, ip, port, protocol: sp.protocolLower, servicePort: sp })
  for (const sp of fm.servicePorts) {
    f('clusterIP', sp.clusterIP, sp.port, sp)
    for (const ip of sp.externalIPs) f('externalIP', ip, sp.port, sp)
    for (const ip of sp.loadBalancerVIPs) f('loadBalancer', ip, sp.port, sp)
  }
  for (const sp of fm.servicePorts) {
    if (sp.nodePort === 0) continue
    for (const ip of fm.nodePortAddresses.addresses) f('nodePort', ip, sp.nodePort, sp)
    if (fm.nodePortAddresses.localhost) f('nodePort', '127.0.0.1', sp.nodePort, sp)
  }
  return out
}

/** The frontend a packet hits, as the model sees it (first match wins, like kube-proxy's dispatch order). */
export function findFrontend(fm: FamilyModel, p: Packet): Frontend | undefined {
  for (const sp of fm.servicePorts) {
    if (sp.protocolLower !== p.protocol || sp.port !== p.dport) continue
    if (sp.clusterIP === p.dst) return { kind: 'clusterIP', ip: p.dst, port: p.dport, protocol: p.protocol, servicePort: sp }
  }
  for (const sp of fm.servicePorts) {
    if (sp.protocolLower !== p.protocol || sp.port !== p.dport) continue
    if (sp.externalIPs.includes(p.dst)) return { kind: 'externalIP', ip: p.dst, port: p.dport, protocol: p.protocol, servicePort: sp }
    if (sp.loadBalancerVIPs.includes(p.dst)) return { kind: 'loadBalancer', ip: p.dst, port: p.dport, protocol: p.protocol, servicePort: sp }
  }
  const npa = fm.nodePortAddresses
  const onNodePortAddress = npa.matchAll
    ? (p.dstLocal && !isLoopback(p.dst)) || (npa.localhost && isLoopback(p.dst))
    : npa.addresses.includes(p.dst) || (npa.localhost && isLoopback(p.dst))
  if (!onNodePortAddress) return undefined
  for (const sp of fm.servicePorts) {
    if (sp.nodePort !== 0 && sp.protocolLower === p.protocol && sp.nodePort === p.dport) {
      return { kind: 'nodePort', ip: p.dst, port: p.dport, protocol: p.protocol, servicePort: sp }
    }
  }
  return undefined
}

/** Whether the local-traffic detector calls this packet local pod traffic. */
export function isLocalPodTraffic(d: LocalDetector, p: Packet): boolean {
  switch (d.kind) {
    case 'none':
      return false
    case 'cidr':
      return cidrContains(d.cidr, p.src)
    case 'bridgeInterface':
      return p.iif === d.name
    case 'interfaceNamePrefix':
      return p.iif.startsWith(d.prefix)
  }
}

/** Whether LoadBalancer source ranges let this source through to the VIP. */
export function firewallAllows(sp: ServicePortModel, src: string): boolean {
  if (!sp.firewall.enabled) return true
  if (sp.firewall.sourceRanges.some((c) => cidrContains(c, src))) return true
  return sp.firewall.allowLoadBalancerVIPsAsSource && sp.loadBalancerVIPs.includes(src)
}

/** Endpoints a forward verdict uses, each with an equal share; hairpin sources are masqueraded. */
export function forwardOutcome(sp: ServicePortModel, keys: readonly string[], masquerade: boolean, p: Packet): TraceOutcome {
  if (keys.length === 0) return { verdict: 'reject', endpoints: [], masquerade: false }
  const eps = keys
    .map((k) => sp.endpoints.find((e) => e.key === k))
    .filter((e): e is NonNullable<typeof e> => e !== undefined)
    .sort((a, b) => (a.key < b.key ? -1 : 1))
  return {
    verdict: 'forward',
    endpoints: eps.map((e) => ({ ip: e.ip, port: e.port, probability: round(1 / eps.length), masquerade: masquerade || e.ip === p.src })),
    masquerade: masquerade || eps.every((e) => e.ip === p.src),
  }
}

function verdictOutcome(sp: ServicePortModel, v: Verdict, masquerade: boolean, p: Packet): TraceOutcome {
  if (v.action === 'reject') return { verdict: 'reject', endpoints: [], masquerade: false }
  if (v.action === 'drop') return { verdict: 'drop', endpoints: [], masquerade }
  return forwardOutcome(sp, (v.to === 'local' ? sp.localEndpoints : sp.clusterEndpoints) ?? [], masquerade, p)
}

/** Options of the oracle that let a mode-difference ask "what if". */
export interface ModelOutcomeOptions {
  /** Skip the LoadBalancer source-range check. */
  ignoreFirewall?: boolean
}

/**
 * The model's verdict for a packet (model.md §5.5 and §9.2): the behaviour iptables mode programs.
 * Packets that hit no frontend get `none`.
 */
export function modelOutcome(fm: FamilyModel, masqueradeAll: boolean, p: Packet, options: ModelOutcomeOptions = {}): TraceOutcome {
  const fe = findFrontend(fm, p)
  if (!fe) return { verdict: 'none', endpoints: [], masquerade: false }
  const sp = fe.servicePort
  const localPod = isLocalPodTraffic(fm.localDetector, p)
  if (fe.kind === 'clusterIP') {
    const masq = masqueradeAll || (fm.localDetector.kind !== 'none' && !localPod)
    return verdictOutcome(sp, sp.internal, masq, p)
  }
  const ext = sp.external
  if (!ext || !sp.hasAnyEndpoints) return { verdict: 'reject', endpoints: [], masquerade: false }
  if (fe.kind === 'loadBalancer' && !options.ignoreFirewall && !firewallAllows(sp, p.src)) return { verdict: 'drop', endpoints: [], masquerade: false }
  if (ext.shortCircuitLocalPods && localPod) return forwardOutcome(sp, sp.clusterEndpoints ?? [], false, p)
  if (ext.shortCircuitHost && p.from === 'node') return forwardOutcome(sp, sp.clusterEndpoints ?? [], true, p)
  return verdictOutcome(sp, ext.policy, ext.masquerade, p)
}

/** Human text of an outcome, one line. */
export function formatOutcome(o: TraceOutcome): string {
  if (o.verdict !== 'forward') return o.verdict
  return `forward to ${o.endpoints.map((e) => `${joinHostPort(e.ip, e.port)} (${(e.probability * 100).toFixed(1)}%${e.masquerade ? ', masqueraded' : ''})`).join(', ')}`
}
