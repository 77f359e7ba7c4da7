/**
 * Model → IR: the rules kube-proxy's iptables mode writes for one family, in the order
 * syncProxyRules (pkg/proxy/iptables/proxier.go) writes them. Endpoint selection and verdicts come
 * from the core model; this file only spells them as chains and rules.
 */
import {
  type EndpointModel, type Family, type FamilyModel, type InputIssue, KproxcError, type LocalDetector, type ProxyModel,
  type ServicePortModel, byteCompare,
} from '@kproxc/core'
import type { IptProtocol, Match, Rule, Ruleset, Table, TableSection, Target } from './ir.js'
import { CHAINS, NFACCT, endpointChain, servicePortChains, servicePortHash } from './names.js'
import { DEFAULT_OPTIONS, type IptablesOptions } from './options.js'
import { probability } from './probability.js'
import { validateFamilyLevel, validatePort } from './validate.js'

/** Above this many endpoints kube-proxy drops the comments of SVC/SVL/SEP rules (largeClusterEndpointsThreshold). */
export const LARGE_CLUSTER_ENDPOINTS = 1000

const PROTOCOL: Record<IptProtocol, Match> = {
  tcp: { kind: 'protocol', protocol: 'tcp' },
  udp: { kind: 'protocol', protocol: 'udp' },
  sctp: { kind: 'protocol', protocol: 'sctp' },
}
const SRC_LOCAL: Match = { kind: 'addrtype', direction: 'source' }
const DST_LOCAL: Match = { kind: 'addrtype', direction: 'destination' }
const TO_MARK_MASQ: Target = { kind: 'jump', chain: CHAINS.markMasq }
const DROP: Target = { kind: 'verdict', verdict: 'DROP' }
const REJECT: Target = { kind: 'verdict', verdict: 'REJECT' }
const ACCEPT: Target = { kind: 'verdict', verdict: 'ACCEPT' }
const NODEPORTS_TAIL_COMMENT: Match = quoted('kubernetes service nodeports; NOTE: this must be the last rule in this chain')

function quoted(text: string): Match {
  return { kind: 'comment', text, quoted: true }
}
function bare(text: string): Match {
  return { kind: 'comment', text, quoted: false }
}
function jump(chain: string): Target {
  return { kind: 'jump', chain }
}
function src(address: string, negate = false): Match {
  return { kind: 'address', direction: 'source', address, negate }
}
function dst(address: string, negate = false): Match {
  return { kind: 'address', direction: 'destination', address, negate }
}
function dport(port: number): Match {
  return { kind: 'dport', port }
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

/** What one service port contributes to the ruleset, each list in output order. */
export interface PortFragment {
  /** Rules in the fixed filter chains (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL). */
  readonly filterRules: readonly Rule[]
  /** The port's own nat chains (EXT, FW, SVC, SVL, SEP), in declaration order. */
  readonly natChains: readonly string[]
  /** Its nat rules: in KUBE-SERVICES / KUBE-NODEPORTS and in its own chains, interleaved as kube-proxy writes them. */
  readonly natRules: readonly Rule[]
}

/**
 * A compiled family before its per-port fragments are concatenated: what incremental compiles
 * reuse and what `deltaRestore` compares. `compileRuleset` is `assembleRuleset(compileParts(...))`.
 */
export interface RulesetParts {
  family: Family
  /** Fixed chains and the rules that come before every service port's. */
  head: { filterChains: readonly string[]; filterRules: readonly Rule[]; natChains: readonly string[]; natRules: readonly Rule[] }
  /** Service ports in output order (by ServicePortName, then protocol). */
  ports: readonly PortEntry[]
  /** Rules after every service port's: the KUBE-NODEPORTS jump and KUBE-FORWARD. */
  tail: { filterRules: readonly Rule[]; natRules: readonly Rule[] }
  builtin: { filter: TableSection; nat: TableSection }
}

/**
 * Compiled fragments by the model's ServicePortModel object, with the family-level inputs they
 * were compiled under. Pass the same cache to successive compiles of models from one ModelStore:
 * ports whose model kept its identity are not compiled again (their output is the same bytes).
 */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: PortEntry }>
  /** The output order of the last compile's ports, reused while the model lists the same keys. */
  order?: { keys: readonly string[]; order: readonly number[] | null }
}

/** One service port of RulesetParts: its model key and fragment (shared between compiles). */
export interface PortEntry {
  readonly key: string
  readonly fragment: PortFragment
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

interface Sections {
  filterRules: Rule[]
  natChains: string[]
  natRules: Rule[]
}

interface FamilyContext {
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

/** Compiles one family of the model into the ruleset kube-proxy would restore. Throws KproxcError on bad input. */
export function compileRuleset(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS, cache?: FragmentCache): Ruleset {
  return assembleRuleset(compileParts(model, family, options, cache))
}

/** Concatenates the parts into the flat ruleset (the fragments' rule objects are shared, not copied). */
export function assembleRuleset(parts: RulesetParts): Ruleset {
  const filterRules: Rule[] = [...parts.head.filterRules]
  const natChains: string[] = [...parts.head.natChains]
  const natRules: Rule[] = [...parts.head.natRules]
  for (const { fragment: f } of parts.ports) {
    for (const r of f.filterRules) filterRules.push(r)
    for (const c of f.natChains) natChains.push(c)
    for (const r of f.natRules) natRules.push(r)
  }
  for (const r of parts.tail.filterRules) filterRules.push(r)
  for (const r of parts.tail.natRules) natRules.push(r)
  const filter: Table = { name: 'filter', kubeProxy: { chains: parts.head.filterChains, rules: filterRules }, builtin: parts.builtin.filter }
  const nat: Table = { name: 'nat', kubeProxy: { chains: natChains, rules: natRules }, builtin: parts.builtin.nat }
  return { family: parts.family, tables: [filter, nat] }
}

/** Model → parts; with a cache, only service ports without a fragment for these inputs are compiled. */
export function compileParts(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS, cache?: FragmentCache): RulesetParts {
  const { fixed, ctx, all, entries, inputs } = prepare(model, family, options, cache)
  for (let i = 0; i < all.length; i++) {
    if (entries[i]) continue
    const sp = all[i] as ServicePortModel
    const entry: PortEntry = { key: sp.key, fragment: compileFragment(ctx, sp) }
    entries[i] = entry
    cache?.fragments.set(sp, { inputs, entry })
  }
  const order = outputOrder(all, cache)
  return { ...fixed, ports: order ? order.map((j) => entries[j] as PortEntry) : (entries as PortEntry[]) }
}

/**
 * The parts without their fragments, the service ports in output order, and the function that
 * compiles one: for a one-shot renderer that turns each fragment into text and lets it go, so the
 * whole IR never lives at once (on large clusters most compile time was the GC copying it).
 */
export function compilePartsLazily(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS): {
  fixed: Omit<RulesetParts, 'ports'>
  ports: readonly ServicePortModel[]
  fragment: (sp: ServicePortModel) => PortFragment
} {
  const { fixed, ctx, all } = prepare(model, family, options, undefined)
  const order = outputOrder(all, undefined)
  return { fixed, ports: order ? order.map((j) => all[j] as ServicePortModel) : all, fragment: (sp) => compileFragment(ctx, sp) }
}

function compileFragment(ctx: FamilyContext, sp: ServicePortModel): PortFragment {
  const s: Sections = { filterRules: [], natChains: [], natRules: [] }
  compileServicePort(ctx, sp, s)
  return s
}

/** Validation, the family-level parts and the cache hits. */
function prepare(model: ProxyModel, family: Family, options: IptablesOptions, cache: FragmentCache | undefined) {
  const fam = model.families.find((f) => f.family === family)
  if (!fam) {
    throw new KproxcError('INVALID_INPUT', `the model has no ${family} section (families computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }

  // One pass: cache lookups and the endpoint total (which decides largeCluster, a family-level input).
  const all = fam.servicePorts
  const hits = new Array<{ inputs: string; entry: PortEntry } | undefined>(all.length)
  let totalEndpoints = 0
  for (let i = 0; i < all.length; i++) {
    const sp = all[i] as ServicePortModel
    totalEndpoints += sp.endpoints.length
    if (cache) hits[i] = cache.fragments.get(sp)
  }
  const ctx: FamilyContext = {
    family,
    fam,
    options,
    mark: model.config.masqueradeMark,
    masqueradeAll: model.config.masqueradeAll,
    detector: detectorMatches(fam.localDetector),
    largeCluster: totalEndpoints > LARGE_CLUSTER_ENDPOINTS,
    localhostNodePorts: family === 'IPv4' && fam.nodePortAddresses.localhost,
  }
  // Everything a fragment depends on besides its own ServicePortModel.
  const inputs = `${family}|${ctx.mark}|${ctx.masqueradeAll}|${JSON.stringify(fam.localDetector)}|${ctx.largeCluster}|${ctx.localhostNodePorts}|${options.nfacct}`
  const entries = new Array<PortEntry | undefined>(all.length)
  for (let i = 0; i < all.length; i++) {
    const hit = hits[i]
    if (hit && hit.inputs === inputs) entries[i] = hit.entry
  }

  // Validation is per port too: a cached fragment's port was valid when it was compiled.
  const issues: InputIssue[] = validateFamilyLevel(model, fam)
  for (let i = 0; i < all.length; i++) if (!entries[i]) validatePort(all[i] as ServicePortModel, family, issues)
  if (issues.length > 0) throw new KproxcError('INVALID_INPUT', `cannot compile ${family} iptables rules from this model`, issues)

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
      target: { kind: 'masquerade', randomFully: options.randomFully },
    },
    { chain: CHAINS.markMasq, matches: [], target: { kind: 'markOr', mark: ctx.mark } },
  ]

  const tailNatRules: Rule[] = []
  const tailFilterRules: Rule[] = []
  appendNodePortsTail(ctx, tailNatRules)
  appendForward(ctx, tailFilterRules, model.config.conntrack.tcpBeLiberal)

  const fixed: Omit<RulesetParts, 'ports'> = {
    family,
    head: { filterChains, filterRules: headFilterRules, natChains: [CHAINS.services, CHAINS.nodePorts, CHAINS.postrouting, CHAINS.markMasq], natRules: headNatRules },
    tail: { filterRules: tailFilterRules, natRules: tailNatRules },
    builtin: { filter: options.builtinJumps ? filterJumps(ctx) : EMPTY, nat: options.builtinJumps ? natJumps() : EMPTY },
  }
  return { fixed, ctx, all, entries, inputs }
}

/**
 * Upstream walks a Go map (random order); sorting by the ServicePortName string is the stable
 * choice its tests normalize to. Returns the permutation, or null when the model is in that order.
 * The last permutation is reused while the model lists the same keys (an update to endpoints).
 */
function outputOrder(all: readonly ServicePortModel[], cache: FragmentCache | undefined): readonly number[] | null {
  const last = cache?.order
  if (last && last.keys.length === all.length) {
    let same = true
    for (let i = 0; i < all.length; i++) {
      if (last.keys[i] !== (all[i] as ServicePortModel).key) {
        same = false
        break
      }
    }
    if (same) return last.order
  }
  let order: number[] | null = null
  for (let i = 1; i < all.length; i++) {
    if (comparePorts(all[i - 1] as ServicePortModel, all[i] as ServicePortModel) > 0) {
      order = all.map((_, j) => j).sort((a, b) => comparePorts(all[a] as ServicePortModel, all[b] as ServicePortModel) || a - b)
      break
    }
  }
  if (cache) cache.order = { keys: all.map((sp) => sp.key), order }
  return order
}

function comparePorts(a: ServicePortModel, b: ServicePortModel): number {
  return byteCompare(a.displayName, b.displayName) || byteCompare(a.protocolLower, b.protocolLower)
}

const EMPTY: TableSection = { chains: [], rules: [] }

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

// Match objects are immutable: one per probability serves every chain (10^5 endpoints, few distinct n).
const statistics = new Map<number, Match>()
function statistic(k: number): Match {
  let m = statistics.get(k)
  if (!m) statistics.set(k, (m = { kind: 'statistic', probability: probability(k) }))
  return m
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
