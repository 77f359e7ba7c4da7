/**
 * The deliberate behavioural differences between kube-proxy's modes, in one table. The model's
 * verdict (trace.ts `modelOutcome`) is what iptables mode programs; each entry says which modes
 * deviate, for which packets, and what they do instead. The equivalence property, the fixture
 * tests and `kproxc compare` all read this table and nothing else.
 */
import { cidrContains, isLoopback } from './ip.js'
import type { FamilyModel, ProxyMode, ServicePortModel } from './model.js'
import {
  type Frontend,
  type Packet,
  type TraceOutcome,
  findFrontend,
  firewallAllows,
  forwardOutcome,
  isLocalPodTraffic,
  modelOutcome,
} from './trace.js'

/** What an entry looks at: the mode's own model of the family, the packet and the frontend it hits. */
export interface DifferenceContext {
  mode: ProxyMode
  family: FamilyModel
  masqueradeAll: boolean
  packet: Packet
  /** The frontend in this mode's model, if any. */
  frontend: Frontend | undefined
}

/** One deliberate difference. */
export interface ModeDifference {
  id: string
  /** The modes that behave this way (the others follow the model). */
  modes: readonly ProxyMode[]
  summary: string
  /** Where kube-proxy does it. */
  upstream: string
  /** Whether this packet is affected, evaluated with the context of a mode in `modes`. */
  applies(ctx: DifferenceContext): boolean
  /** The outcome in `modes`; absent when the mode's model already encodes the difference (frontends). */
  adjust?(expected: TraceOutcome, ctx: DifferenceContext): TraceOutcome
}

const isExternal = (fe: Frontend | undefined): fe is Frontend => fe !== undefined && fe.kind !== 'clusterIP'

/** IPVS real servers of a frontend's virtual server (ipvs.md §2.4): local if the flag is set and any exist, else cluster. */
export function ipvsRealServers(sp: ServicePortModel, fe: Frontend): string[] {
  const localFlag = fe.kind === 'clusterIP' ? sp.internalPolicyLocal : sp.externalPolicyLocal
  const cluster = sp.clusterEndpoints ?? []
  const local = sp.localEndpoints ?? []
  return localFlag && local.length > 0 ? local : cluster
}

function nodePortOf(fm: FamilyModel, p: Packet): boolean {
  return fm.servicePorts.some((sp) => sp.nodePort === p.dport && sp.protocolLower === p.protocol)
}

/** Traffic the iptables/nftables modes drop because a Local policy has no local endpoints. */
function localPolicyDrop(ctx: DifferenceContext): boolean {
  const fe = ctx.frontend
  if (!fe) return false
  const sp = fe.servicePort
  if (fe.kind === 'clusterIP') return sp.internal.action === 'drop'
  const ext = sp.external
  if (!ext || ext.policy.action !== 'drop' || !sp.hasAnyEndpoints) return false
  if (fe.kind === 'loadBalancer' && !firewallAllows(sp, ctx.packet.src) && ctx.packet.from !== 'node') return false
  const shortCircuit = (ext.shortCircuitLocalPods && isLocalPodTraffic(ctx.family.localDetector, ctx.packet)) || (ext.shortCircuitHost && ctx.packet.from === 'node')
  return !shortCircuit
}

function clusterIPMasquerade(ctx: DifferenceContext): boolean {
  return ctx.masqueradeAll || (ctx.family.localDetector.kind !== 'none' && !isLocalPodTraffic(ctx.family.localDetector, ctx.packet))
}

/** The table. Entries with `adjust` are applied in this order; their predicates are disjoint except where noted. */
export const MODE_DIFFERENCES: readonly ModeDifference[] = [
  {
    id: 'nodeport-addresses-primary',
    modes: ['nftables'],
    summary: 'nftables defaults nodePortAddresses to `primary`: NodePorts answer only on the node IP of each family, not on every local address',
    upstream: 'cmd/kube-proxy/app/server.go (nftables default nodePortAddresses), pkg/proxy/nftables/proxier.go nodeport-ips',
    applies: (ctx) => !ctx.frontend && ctx.packet.dstLocal && !isLoopback(ctx.packet.dst) && ctx.packet.dst !== ctx.family.nodeIP && nodePortOf(ctx.family, ctx.packet),
  },
  {
    id: 'no-localhost-nodeports',
    modes: ['nftables', 'ipvs'],
    summary: 'only iptables mode (IPv4, localhostNodePorts) serves NodePorts on 127.0.0.0/8; nftables and IPVS never do',
    upstream: 'pkg/proxy/iptables/proxier.go localhostNodePorts; pkg/proxy/nftables/proxier.go; pkg/proxy/ipvs/proxier.go ipGetter',
    applies: (ctx) => isLoopback(ctx.packet.dst) && nodePortOf(ctx.family, ctx.packet),
  },
  {
    id: 'firewall-without-endpoints',
    modes: ['nftables', 'ipvs'],
    summary: 'loadBalancerSourceRanges are enforced even when the Service has no endpoints: sources outside the ranges are dropped, not rejected (iptables builds no firewall then)',
    upstream: 'pkg/proxy/nftables/proxier.go firewall-check before service-endpoints-check; pkg/proxy/ipvs/proxier.go KUBE-PROXY-FIREWALL',
    applies: (ctx) => {
      const fe = ctx.frontend
      return fe?.kind === 'loadBalancer' && fe.servicePort.firewall.enabled && !fe.servicePort.hasAnyEndpoints &&
        !firewallAllows(fe.servicePort, ctx.packet.src) && !(ctx.mode === 'ipvs' && ctx.packet.from === 'node')
    },
    adjust: () => ({ verdict: 'drop', endpoints: [], masquerade: false }),
  },
  {
    id: 'iptables-node-to-external-ip-no-reject',
    modes: ['iptables'],
    summary: "iptables does not reject the node's own connections to external IPs and LoadBalancer IPs of a Service without endpoints: KUBE-EXTERNAL-SERVICES hangs off INPUT and FORWARD only, so they leave the node unchanged",
    upstream: 'pkg/proxy/iptables/proxier.go (iptablesJumpChains: KUBE-EXTERNAL-SERVICES from INPUT, FORWARD)',
    applies: (ctx) => {
      const fe = ctx.frontend
      return ctx.packet.from === 'node' && (fe?.kind === 'externalIP' || fe?.kind === 'loadBalancer') && !ctx.packet.dstLocal && !fe.servicePort.hasAnyEndpoints
    },
    adjust: () => ({ verdict: 'none', endpoints: [], masquerade: false }),
  },
  {
    id: 'ipvs-source-ranges-from-node',
    modes: ['ipvs'],
    summary: "IPVS enforces loadBalancerSourceRanges in filter INPUT/FORWARD only; the node's own packets are dropped only when their source is the VIP (KUBE-IPVS-OUT-FILTER)",
    upstream: 'pkg/proxy/ipvs/proxier.go KUBE-IPVS-OUT-FILTER (kubernetes#119656)',
    applies: (ctx) => {
      const fe = ctx.frontend
      return fe?.kind === 'loadBalancer' && fe.servicePort.firewall.enabled && ctx.packet.from === 'node' &&
        !firewallAllows(fe.servicePort, ctx.packet.src) && !fe.servicePort.loadBalancerVIPs.includes(ctx.packet.src)
    },
    adjust: (_o, ctx) => modelOutcome(ctx.family, ctx.masqueradeAll, ctx.packet, { ignoreFirewall: true }),
  },
  {
    id: 'ipvs-no-short-circuit',
    modes: ['ipvs'],
    summary: "IPVS has no short-circuit for externalTrafficPolicy Local: local pods and the node itself reach the virtual server's local endpoints (or its fallback), unmasqueraded",
    upstream: 'pkg/proxy/ipvs/proxier.go (KUBE-*-LOCAL sets RETURN before KUBE-MARK-MASQ; no EXT chain)',
    applies: (ctx) => {
      const fe = ctx.frontend
      if (!isExternal(fe) || !fe.servicePort.externalPolicyLocal || !fe.servicePort.hasAnyEndpoints) return false
      const sp = fe.servicePort
      const fromNode = ctx.packet.from === 'node'
      if (fe.kind === 'loadBalancer' && !fromNode && !firewallAllows(sp, ctx.packet.src)) return false
      if (fe.kind === 'loadBalancer' && fromNode && !firewallAllows(sp, ctx.packet.src) && sp.loadBalancerVIPs.includes(ctx.packet.src)) return false
      return fromNode || (ctx.family.localDetector.kind !== 'none' && isLocalPodTraffic(ctx.family.localDetector, ctx.packet))
    },
    adjust: (_o, ctx) => forwardOutcome((ctx.frontend as Frontend).servicePort, ipvsRealServers((ctx.frontend as Frontend).servicePort, ctx.frontend as Frontend), false, ctx.packet),
  },
  {
    id: 'ipvs-local-fallback',
    modes: ['ipvs'],
    summary: 'IPVS falls back from local to cluster endpoints when a Local policy has no local endpoints (ETP Local; ITP Local on an externally reachable Service) instead of dropping',
    upstream: 'pkg/proxy/ipvs/proxier.go syncEndpoint (local endpoints, else cluster)',
    applies: (ctx) => localPolicyDrop(ctx) && ipvsRealServers((ctx.frontend as Frontend).servicePort, ctx.frontend as Frontend).length > 0,
    adjust: (_o, ctx) => {
      const fe = ctx.frontend as Frontend
      const masq = fe.kind === 'clusterIP' ? clusterIPMasquerade(ctx) : false
      return forwardOutcome(fe.servicePort, ipvsRealServers(fe.servicePort, fe), masq, ctx.packet)
    },
  },
  {
    id: 'ipvs-empty-virtual-server',
    modes: ['ipvs'],
    summary: 'IPVS has no DROP for "no local endpoints": the virtual server has no real servers and the kernel answers ICMP port unreachable (reject)',
    upstream: 'pkg/proxy/ipvs/proxier.go (no filter rules for empty services); net/netfilter/ipvs ip_vs_leave',
    applies: (ctx) => localPolicyDrop(ctx) && ipvsRealServers((ctx.frontend as Frontend).servicePort, ctx.frontend as Frontend).length === 0,
    adjust: () => ({ verdict: 'reject', endpoints: [], masquerade: false }),
  },
  {
    id: 'clusterip-other-port-rejected',
    modes: ['nftables', 'ipvs'],
    summary: 'new connections to a ClusterIP on a port no Service uses are rejected (nftables cluster-ips-check; IPVS KUBE-IPVS-FILTER); iptables has no rule for them',
    upstream: 'pkg/proxy/nftables/proxier.go cluster-ips-check; pkg/proxy/ipvs/proxier.go KUBE-IPVS-FILTER (kubernetes#72236)',
    applies: (ctx) =>
      !ctx.frontend && ctx.family.servicePorts.some((sp) => sp.clusterIP === ctx.packet.dst) &&
      !ctx.family.servicePorts.some((sp) => sp.clusterIP === ctx.packet.dst && sp.port === ctx.packet.dport && sp.protocolLower === ctx.packet.protocol),
    adjust: () => ({ verdict: 'reject', endpoints: [], masquerade: false }),
  },
  {
    id: 'unallocated-clusterip-dropped',
    modes: ['nftables'],
    summary: 'new connections to an address of a ServiceCIDR that no Service holds as ClusterIP are dropped (nftables cluster-ips-check); iptables and IPVS have no rule for them',
    upstream: 'pkg/proxy/nftables/proxier.go cluster-ips-check, fed by OnServiceCIDRsChanged',
    applies: (ctx) =>
      !ctx.frontend && !ctx.family.servicePorts.some((sp) => sp.clusterIP === ctx.packet.dst) &&
      ctx.family.serviceCIDRs.some((c) => cidrContains(c, ctx.packet.dst)),
    adjust: () => ({ verdict: 'drop', endpoints: [], masquerade: false }),
  },
  {
    id: 'ipvs-loopback-source-unmarked',
    modes: ['ipvs'],
    summary: 'IPVS never marks packets with a loopback source for masquerade (nat KUBE-SERVICES starts with `-s 127.0.0.0/8 -j RETURN`, `::1/128` for IPv6)',
    upstream: 'pkg/proxy/ipvs/proxier.go writeIptablesRules',
    applies: (ctx) => isLoopback(ctx.packet.src),
    adjust: (o) => ({ ...o, masquerade: false, endpoints: o.endpoints.map((e) => ({ ...e, masquerade: false })) }),
  },
  {
    id: 'ipvs-no-explicit-reject',
    modes: ['ipvs'],
    summary: 'IPVS programs no REJECT rule for Services without endpoints: the empty virtual server makes the kernel answer ICMP port unreachable (same verdict, other mechanism)',
    upstream: 'pkg/proxy/ipvs/proxier.go',
    applies: () => false,
  },
  {
    id: 'affinity-mechanism',
    modes: ['ipvs'],
    summary: 'ClientIP affinity is IPVS persistence per virtual server (each address of a Service keeps its own table), not one recent list / dynamic set per service port',
    upstream: 'pkg/proxy/ipvs/proxier.go (-p timeout); KEP-3866',
    applies: () => false,
  },
]

/** The context of a packet in one mode's model. */
export function differenceContext(mode: ProxyMode, family: FamilyModel, masqueradeAll: boolean, packet: Packet): DifferenceContext {
  return { mode, family, masqueradeAll, packet, frontend: findFrontend(family, packet) }
}

/** What a mode should do with a packet: the model's verdict with this mode's differences applied. */
export function expectedOutcome(mode: ProxyMode, family: FamilyModel, masqueradeAll: boolean, packet: Packet): { outcome: TraceOutcome; differences: string[] } {
  const ctx = differenceContext(mode, family, masqueradeAll, packet)
  let outcome = modelOutcome(family, masqueradeAll, packet)
  const differences: string[] = []
  for (const d of MODE_DIFFERENCES) {
    if (!d.modes.includes(mode) || !d.applies(ctx)) continue
    // Entries without `adjust` are already encoded in this mode's model (which frontends exist).
    if (d.adjust) outcome = d.adjust(outcome, ctx)
    differences.push(d.id)
  }
  return { outcome, differences }
}

/** The table entries that explain why a packet behaves differently in two modes. */
export function explainDifference(a: DifferenceContext, b: DifferenceContext): ModeDifference[] {
  return MODE_DIFFERENCES.filter((d) => {
    const inA = d.modes.includes(a.mode)
    const inB = d.modes.includes(b.mode)
    if (inA === inB) return false
    return d.applies(inA ? a : b)
  })
}
