import type { Family, LocalDetector } from '@kproxc/core'
import type { IptablesDocument, IptablesRule } from './ir.js'
import { IPSETS, IPVS_CHAINS, type IpsetKey } from './names.js'
import { SHARED_CHAINS, formatMark, notLocalArgs } from './iptables-shared.js'

/** A (LB VIP, protocol, port) the node itself must not reach because its source ranges exclude the node. */
export interface OutFilterEntry {
  ip: string
  protocol: string
  port: number
}

/** What the companion iptables rules depend on. */
export interface IptablesInputs {
  family: Family
  setName: (key: IpsetKey) => string
  isEmpty: (key: IpsetKey) => boolean
  masqueradeAll: boolean
  masqueradeMark: number
  localDetector: LocalDetector
  outFilter: readonly OutFilterEntry[]
  randomFully: boolean
  /** Also write the jumps from built-in chains that kube-proxy inserts with `iptables -I`. */
  builtinJumps: boolean
}

const { services, postrouting, markMasq, forward, proxyFirewall } = SHARED_CHAINS
const { nodePort, loadBalancer, ipvsFilter, ipvsOutFilter, sourceRangesFirewall } = IPVS_CHAINS

/** Chains kube-proxy declares in IPVS mode, per table, in its order (proxier.go iptablesChains). */
export const NAT_CHAINS = [services, postrouting, nodePort, loadBalancer, markMasq] as const
export const FILTER_CHAINS = [forward, nodePort, proxyFirewall, sourceRangesFirewall, ipvsFilter, ipvsOutFilter] as const

/**
 * Set-driven jumps written when their set is non-empty, in kube-proxy's order (ipsetWithIptablesChain);
 * the -LOCAL NodePort sets must precede their non-local twins so RETURN wins.
 */
const SET_JUMPS: readonly { set: IpsetKey; table: 'nat' | 'filter'; from: string; to: string; match: string; proto?: string }[] = [
  { set: 'KUBE-LOOP-BACK', table: 'nat', from: postrouting, to: 'MASQUERADE', match: 'dst,dst,src' },
  { set: 'KUBE-LOAD-BALANCER', table: 'nat', from: services, to: loadBalancer, match: 'dst,dst' },
  { set: 'KUBE-LOAD-BALANCER-LOCAL', table: 'nat', from: loadBalancer, to: 'RETURN', match: 'dst,dst' },
  { set: 'KUBE-NODE-PORT-LOCAL-TCP', table: 'nat', from: nodePort, to: 'RETURN', match: 'dst', proto: 'tcp' },
  { set: 'KUBE-NODE-PORT-TCP', table: 'nat', from: nodePort, to: markMasq, match: 'dst', proto: 'tcp' },
  { set: 'KUBE-NODE-PORT-LOCAL-UDP', table: 'nat', from: nodePort, to: 'RETURN', match: 'dst', proto: 'udp' },
  { set: 'KUBE-NODE-PORT-UDP', table: 'nat', from: nodePort, to: markMasq, match: 'dst', proto: 'udp' },
  { set: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH', table: 'nat', from: nodePort, to: 'RETURN', match: 'dst,dst', proto: 'sctp' },
  { set: 'KUBE-NODE-PORT-SCTP-HASH', table: 'nat', from: nodePort, to: markMasq, match: 'dst,dst', proto: 'sctp' },
  { set: 'KUBE-LOAD-BALANCER-FW', table: 'filter', from: proxyFirewall, to: sourceRangesFirewall, match: 'dst,dst' },
  { set: 'KUBE-LOAD-BALANCER-SOURCE-CIDR', table: 'filter', from: sourceRangesFirewall, to: 'RETURN', match: 'dst,dst,src' },
  { set: 'KUBE-LOAD-BALANCER-SOURCE-IP', table: 'filter', from: sourceRangesFirewall, to: 'RETURN', match: 'dst,dst,src' },
]

/** The nat and filter rules of IPVS mode (proxier.go writeIptablesRules), in emission order. */
export function compileIptables(inp: IptablesInputs): IptablesDocument {
  const nat: IptablesRule[] = []
  const filter: IptablesRule[] = []
  const rule = (table: 'nat' | 'filter', chain: string, ...args: string[]) =>
    (table === 'nat' ? nat : filter).push({ kind: 'rule', table, chain, args })
  const setMatch = (key: IpsetKey, match: string) => ['-m', 'set', '--match-set', inp.setName(key), match]
  const commented = (key: IpsetKey) => ['-m', 'comment', '--comment', IPSETS[key].comment]
  const mark = formatMark(inp.masqueradeMark)

  // Connections from localhost never reach a service through KUBE-SERVICES.
  rule('nat', services, '-s', inp.family === 'IPv4' ? '127.0.0.0/8' : '::1/128', '-j', 'RETURN')

  for (const j of SET_JUMPS) {
    if (inp.isEmpty(j.set)) continue
    rule(j.table, j.from, ...(j.proto ? ['-p', j.proto] : []), ...commented(j.set), ...setMatch(j.set, j.match), '-j', j.to)
  }

  if (!inp.isEmpty('KUBE-CLUSTER-IP')) {
    const head = [...commented('KUBE-CLUSTER-IP'), '-m', 'set', '--match-set', inp.setName('KUBE-CLUSTER-IP')]
    const notLocal = notLocalArgs(inp.localDetector)
    if (inp.masqueradeAll) rule('nat', services, ...head, 'dst,dst', '-j', markMasq)
    else if (notLocal.length > 0) rule('nat', services, ...head, 'dst,dst', ...notLocal, '-j', markMasq)
    // No detector: mark node-originated packets whose source is a ClusterIP bound on kube-ipvs0.
    else rule('nat', services, ...head, 'src,dst', '-j', markMasq)
  }

  // External IPs: accept traffic from off-node, and traffic to addresses that are local anyway.
  const externalIPRules = (key: IpsetKey) => {
    const head = [...commented(key), ...setMatch(key, 'dst,dst')]
    rule('nat', services, ...head, '-m', 'physdev', '!', '--physdev-is-in', '-m', 'addrtype', '!', '--src-type', 'LOCAL', '-j', 'ACCEPT')
    rule('nat', services, ...head, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'ACCEPT')
  }
  if (!inp.isEmpty('KUBE-EXTERNAL-IP')) {
    rule('nat', services, ...commented('KUBE-EXTERNAL-IP'), ...setMatch('KUBE-EXTERNAL-IP', 'dst,dst'), '-j', markMasq)
    externalIPRules('KUBE-EXTERNAL-IP')
  }
  if (!inp.isEmpty('KUBE-EXTERNAL-IP-LOCAL')) externalIPRules('KUBE-EXTERNAL-IP-LOCAL')

  rule('nat', services, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', nodePort)
  rule('nat', loadBalancer, '-j', markMasq)
  rule('filter', sourceRangesFirewall, '-j', 'DROP')
  for (const e of inp.outFilter) {
    // Node-originated packets to the VIP carry the VIP as source; drop them after IPVS picked the service.
    rule('filter', ipvsOutFilter, '-s', e.ip, '-m', 'ipvs', '--vaddr', e.ip, '--vproto', e.protocol, '--vport', String(e.port), '-j', 'DROP')
  }
  // Other nat rules (CNI hostport DNAT) must not rewrite VIP traffic before IPVS sees it.
  for (const key of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER'] as const) {
    if (!inp.isEmpty(key)) rule('nat', services, ...setMatch(key, 'dst,dst'), '-j', 'ACCEPT')
  }

  rule('filter', forward, '-m', 'comment', '--comment', 'kubernetes forwarding rules', '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT')
  rule('filter', forward, '-m', 'comment', '--comment', 'kubernetes forwarding conntrack rule', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT')
  rule('filter', nodePort, ...commented('KUBE-HEALTH-CHECK-NODE-PORT'), ...setMatch('KUBE-HEALTH-CHECK-NODE-PORT', 'dst'), '-j', 'ACCEPT')

  // Issue #72236: new connections to a kube-ipvs0 address are rejected unless they hit a service port.
  for (const key of ['KUBE-LOAD-BALANCER', 'KUBE-CLUSTER-IP', 'KUBE-EXTERNAL-IP', 'KUBE-EXTERNAL-IP-LOCAL'] as const) {
    rule('filter', ipvsFilter, ...setMatch(key, 'dst,dst'), '-j', 'RETURN')
  }
  rule('filter', ipvsFilter, ...setMatch('KUBE-HEALTH-CHECK-NODE-PORT', 'dst'), '-j', 'RETURN')
  rule('filter', ipvsFilter, '-m', 'conntrack', '--ctstate', 'NEW', ...setMatch('KUBE-IPVS-IPS', 'dst'), '-j', 'REJECT')

  rule('nat', postrouting, '-m', 'mark', '!', '--mark', `${mark}/${mark}`, '-j', 'RETURN')
  // Clear the mark so a packet that re-traverses the stack is not masqueraded twice.
  rule('nat', postrouting, '-j', 'MARK', '--xor-mark', mark)
  rule('nat', postrouting, '-m', 'comment', '--comment', 'kubernetes service traffic requiring SNAT', '-j', 'MASQUERADE', ...(inp.randomFully ? ['--random-fully'] : []))
  rule('nat', markMasq, '-j', 'MARK', '--or-mark', mark)

  return {
    nat: { chains: NAT_CHAINS, rules: nat, builtin: inp.builtinJumps ? NAT_JUMPS : [] },
    filter: { chains: FILTER_CHAINS, rules: filter, builtin: inp.builtinJumps ? FILTER_JUMPS : [] },
  }
}

const jumpRule = (table: 'nat' | 'filter', chain: string, comment: string, to: string): IptablesRule =>
  ({ kind: 'rule', table, chain, args: ['-m', 'comment', '--comment', comment, '-j', to] })

/**
 * Jumps from built-in chains (proxier.go iptablesJumpChain). kube-proxy prepends each at position 1,
 * so on a fresh node they end up in the reverse of its list; this is that resulting order.
 */
const NAT_JUMPS: readonly IptablesRule[] = [
  jumpRule('nat', 'PREROUTING', 'kubernetes service portals', services),
  jumpRule('nat', 'OUTPUT', 'kubernetes service portals', services),
  jumpRule('nat', 'POSTROUTING', 'kubernetes postrouting rules', postrouting),
]
const FILTER_JUMPS: readonly IptablesRule[] = [
  jumpRule('filter', 'INPUT', 'kubernetes ipvs access filter', ipvsFilter),
  jumpRule('filter', 'INPUT', 'kube-proxy firewall rules', proxyFirewall),
  jumpRule('filter', 'INPUT', 'kubernetes health check rules', nodePort),
  jumpRule('filter', 'FORWARD', 'kube-proxy firewall rules', proxyFirewall),
  jumpRule('filter', 'FORWARD', 'kubernetes forwarding rules', forward),
  jumpRule('filter', 'OUTPUT', 'kubernetes ipvs access filter', ipvsOutFilter),
]
