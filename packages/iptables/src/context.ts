/**
 * What every service port of one family is compiled under (mark, detector, cluster size, options),
 * and the fixed chains around the ports: the rules kube-proxy writes before and after them in
 * syncProxyRules (pkg/proxy/iptables/proxier.go) and the built-in jumps it installs separately.
 */
import { type Family, type FamilyModel, KproxcError, type LocalDetector, type ProxyModel } from '@kproxc/core'
import type { Match, Rule, TableSection } from './ir.js'
import { CHAINS, NFACCT } from './names.js'
import type { IptablesOptions } from './options.js'
import { ACCEPT, DROP, DST_LOCAL, dst, jump, quoted, src } from './rules.js'

/** Above this many endpoints kube-proxy drops the comments of SVC/SVL/SEP rules (largeClusterEndpointsThreshold). */
export const LARGE_CLUSTER_ENDPOINTS = 1000

/** Family-level inputs of every port's fragment. */
export interface FamilyContext {
  family: Family
  fam: FamilyModel
  options: IptablesOptions
  mark: number
  masqueradeAll: boolean
  detector: { ifLocal: Match; ifNotLocal: Match } | null
  largeCluster: boolean
  /** IPv4 with localhost NodePorts on: KUBE-FIREWALL and the nfacct localhost rule. */
  localhostNodePorts: boolean
}

/** The rules around the service ports, and the built-in jumps. */
export interface FixedParts {
  family: Family
  /** Fixed chains and the rules that come before every service port's. */
  head: { filterChains: readonly string[]; filterRules: readonly Rule[]; natChains: readonly string[]; natRules: readonly Rule[] }
  /** Rules after every service port's: the KUBE-NODEPORTS jump and KUBE-FORWARD. */
  tail: { filterRules: readonly Rule[]; natRules: readonly Rule[] }
  builtin: { filter: TableSection; nat: TableSection }
}

/** The family section of the model, or an error naming the families it has. */
export function familyOf(model: ProxyModel, family: Family): FamilyModel {
  const fam = model.families.find((f) => f.family === family)
  if (!fam) {
    throw new KproxcError('INVALID_INPUT', `the model has no ${family} section (families computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  return fam
}

/** The context of one family; `totalEndpoints` (over all its ports) decides largeCluster. */
export function familyContext(model: ProxyModel, fam: FamilyModel, options: IptablesOptions, totalEndpoints: number): FamilyContext {
  return {
    family: fam.family,
    fam,
    options,
    mark: model.config.masqueradeMark,
    masqueradeAll: model.config.masqueradeAll,
    detector: detectorMatches(fam.localDetector),
    largeCluster: totalEndpoints > LARGE_CLUSTER_ENDPOINTS,
    localhostNodePorts: fam.family === 'IPv4' && fam.nodePortAddresses.localhost,
  }
}

/** Everything a port's fragment depends on besides its own ServicePortModel, as one comparable string. */
export function contextKey(ctx: FamilyContext): string {
  return `${ctx.family}|${ctx.mark}|${ctx.masqueradeAll}|${JSON.stringify(ctx.fam.localDetector)}|${ctx.largeCluster}|${ctx.localhostNodePorts}|${ctx.options.nfacct}`
}

/** The local-traffic detector's two fragments (pkg/proxy/util/localdetector.go), or null for none. */
function detectorMatches(d: LocalDetector): { ifLocal: Match; ifNotLocal: Match } | null {
  switch (d.kind) {
    case 'none':
      return null
    case 'cidr':
      return { ifLocal: src(d.cidr), ifNotLocal: src(d.cidr, true) }
    case 'bridgeInterface':
      return { ifLocal: { kind: 'inInterface', name: d.name, negate: false }, ifNotLocal: { kind: 'inInterface', name: d.name, negate: true } }
    case 'interfaceNamePrefix':
      // `+` is iptables' interface-name wildcard.
      return {
        ifLocal: { kind: 'inInterface', name: `${d.prefix}+`, negate: false },
        ifNotLocal: { kind: 'inInterface', name: `${d.prefix}+`, negate: true },
      }
  }
}

const EMPTY: TableSection = { chains: [], rules: [] }
const NODEPORTS_TAIL_COMMENT: Match = quoted('kubernetes service nodeports; NOTE: this must be the last rule in this chain')

/** The fixed chains, their rules before and after the ports', and the built-in jumps. */
export function fixedParts(model: ProxyModel, ctx: FamilyContext): FixedParts {
  const filterChains: string[] = [CHAINS.services, CHAINS.externalServices, CHAINS.forward, CHAINS.nodePorts, CHAINS.proxyFirewall]
  const headFilterRules: Rule[] = []
  if (ctx.localhostNodePorts) {
    // Mitigates the route_localnet hole (issue 90259); kubelet writes an identical rule.
    filterChains.push(CHAINS.firewall)
    headFilterRules.push({
      chain: CHAINS.firewall,
      matches: [
        quoted('block incoming localnet connections'),
        dst('127.0.0.0/8'),
        src('127.0.0.0/8', true),
        { kind: 'conntrack', states: ['RELATED', 'ESTABLISHED', 'DNAT'], negate: true },
      ],
      target: DROP,
    })
  }

  const headNatRules: Rule[] = [
    { chain: CHAINS.postrouting, matches: [{ kind: 'mark', mark: ctx.mark, negate: true }], target: { kind: 'verdict', verdict: 'RETURN' } },
    // XOR clears the mark so a packet re-entering the stack is not masqueraded twice.
    { chain: CHAINS.postrouting, matches: [], target: { kind: 'markXor', mark: ctx.mark } },
    {
      chain: CHAINS.postrouting,
      matches: [quoted('kubernetes service traffic requiring SNAT')],
      target: { kind: 'masquerade', randomFully: ctx.options.randomFully },
    },
    { chain: CHAINS.markMasq, matches: [], target: { kind: 'markOr', mark: ctx.mark } },
  ]

  const tailNatRules: Rule[] = []
  const tailFilterRules: Rule[] = []
  appendNodePortsTail(ctx, tailNatRules)
  appendForward(ctx, tailFilterRules, model.config.conntrack.tcpBeLiberal)

  return {
    family: ctx.family,
    head: { filterChains, filterRules: headFilterRules, natChains: [CHAINS.services, CHAINS.nodePorts, CHAINS.postrouting, CHAINS.markMasq], natRules: headNatRules },
    tail: { filterRules: tailFilterRules, natRules: tailNatRules },
    builtin: { filter: ctx.options.builtinJumps ? filterJumps(ctx) : EMPTY, nat: ctx.options.builtinJumps ? natJumps() : EMPTY },
  }
}

/** The KUBE-SERVICES → KUBE-NODEPORTS tail rule(s); always last in nat KUBE-SERVICES. */
function appendNodePortsTail(ctx: FamilyContext, out: Rule[]): void {
  const npa = ctx.fam.nodePortAddresses
  if (npa.matchAll) {
    const m: Match[] = [NODEPORTS_TAIL_COMMENT, DST_LOCAL]
    // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet set.
    if (ctx.family === 'IPv6') m.push(dst('::1/128', true))
    else if (!ctx.localhostNodePorts) m.push(dst('127.0.0.0/8', true))
    out.push({ chain: CHAINS.services, matches: m, target: jump(CHAINS.nodePorts) })
    return
  }
  const seen = new Set<string>()
  for (const ip of npa.addresses) {
    if (seen.has(ip)) continue
    seen.add(ip)
    if (isLoopbackText(ip) && (ctx.family === 'IPv6' || !ctx.localhostNodePorts)) continue
    out.push({ chain: CHAINS.services, matches: [NODEPORTS_TAIL_COMMENT, dst(ip)], target: jump(CHAINS.nodePorts) })
  }
}

function isLoopbackText(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.')
}

/** KUBE-FORWARD: the last filter rules. */
function appendForward(ctx: FamilyContext, out: Rule[], tcpBeLiberal: boolean): void {
  // With nf_conntrack_tcp_be_liberal set, INVALID packets are harmless and kube-proxy stops dropping them.
  if (!tcpBeLiberal) {
    const m: Match[] = [{ kind: 'conntrack', states: ['INVALID'], negate: false }]
    if (ctx.options.nfacct) m.push({ kind: 'nfacct', name: NFACCT.invalidDropped })
    out.push({ chain: CHAINS.forward, matches: m, target: DROP })
  }
  out.push({ chain: CHAINS.forward, matches: [quoted('kubernetes forwarding rules'), { kind: 'mark', mark: ctx.mark, negate: false }], target: ACCEPT })
  out.push({
    chain: CHAINS.forward,
    matches: [quoted('kubernetes forwarding conntrack rule'), { kind: 'conntrack', states: ['RELATED', 'ESTABLISHED'], negate: false }],
    target: ACCEPT,
  })
}

const NEW: Match = { kind: 'conntrack', states: ['NEW'], negate: false }

/**
 * The jumps kube-proxy inserts with `iptables -I <chain> 1` on each full sync (iptablesJumpChains in
 * proxier.go), listed in the order a fresh node's iptables-save shows them: each insert lands first,
 * so the table's last entry ends up on top. KUBE-FIREWALL is declared here when kube-proxy's own
 * text does not, because kube-proxy creates it (empty) before jumping to it.
 */
function filterJumps(ctx: FamilyContext): TableSection {
  const r = (chain: string, matches: Match[], to: string): Rule => ({ chain, matches, target: jump(to) })
  const externalPortals = [NEW, quoted('kubernetes externally-visible service portals')]
  const healthCheck = [quoted('kubernetes health check service ports')]
  const portals = [NEW, quoted('kubernetes service portals')]
  const forwarding = [quoted('kubernetes forwarding rules')]
  const lbFirewall = [NEW, quoted('kubernetes load balancer firewall')]
  return {
    chains: ctx.localhostNodePorts ? [] : [CHAINS.firewall],
    rules: [
      r('INPUT', [], CHAINS.firewall),
      r('INPUT', lbFirewall, CHAINS.proxyFirewall),
      r('INPUT', healthCheck, CHAINS.nodePorts),
      r('INPUT', externalPortals, CHAINS.externalServices),
      r('FORWARD', lbFirewall, CHAINS.proxyFirewall),
      r('FORWARD', forwarding, CHAINS.forward),
      r('FORWARD', portals, CHAINS.services),
      r('FORWARD', externalPortals, CHAINS.externalServices),
      r('OUTPUT', [], CHAINS.firewall),
      r('OUTPUT', lbFirewall, CHAINS.proxyFirewall),
      r('OUTPUT', portals, CHAINS.services),
    ],
  }
}

function natJumps(): TableSection {
  const portals = [quoted('kubernetes service portals')]
  return {
    chains: [],
    rules: [
      { chain: 'PREROUTING', matches: portals, target: jump(CHAINS.services) },
      { chain: 'OUTPUT', matches: portals, target: jump(CHAINS.services) },
      { chain: 'POSTROUTING', matches: [quoted('kubernetes postrouting rules')], target: jump(CHAINS.postrouting) },
    ],
  }
}
