/**
 * ProxyModel → nftables IR, reproducing the cold-start full-sync transaction of kube-proxy's
 * nftables proxier (pkg/proxy/nftables/proxier.go, v1.36 layout: DNAT through numgen maps in the
 * service chains, endpoint chains only for session affinity, `hairpin-connections`, masquerade
 * marking inlined). Endpoint selection and verdicts come from the core model; nothing here
 * re-derives them.
 */
import { type Family, type FamilyModel, KproxcError, type LocalDetector, type ProxyModel, type ServicePortModel, type Verdict as ModelVerdict, parseCIDR, sortAddresses } from '@kproxc/core'
import { CHAIN, COMMENT, MAP, SET, TABLE, TABLE_COMMENT, endpointNames, servicePortNames, truncateComment } from './names.js'
import { type BaseChainSpec, type Container, type DataType, type ElementPart, type Expr, type NftFamily, type Op, type Ruleset, type Stmt, type Verdict, ir } from './ir.js'
import { checkRuleset } from './check.js'

/** Inputs that are not (yet) part of the core model. */
export interface CompileOptions {
  family: Family
  /**
   * The cluster's ServiceCIDRs (any family; the other family's are ignored), as kube-proxy gets
   * them from ServiceCIDR objects. Empty: no "drop traffic to unallocated ClusterIPs" rule, as
   * upstream does before it has seen any ServiceCIDR.
   */
  serviceCIDRs?: readonly string[]
}

// nftablesBaseChains: knftables turns `dstnat-10`, `filter`, `dstnat`, `srcnat` into numbers.
const BASE_CHAINS: readonly { name: string; spec: BaseChainSpec }[] = [
  { name: CHAIN.filterPreroutingPreDNAT, spec: { type: 'filter', hook: 'prerouting', priority: -110 } },
  { name: CHAIN.filterOutputPreDNAT, spec: { type: 'filter', hook: 'output', priority: -110 } },
  { name: CHAIN.filterInput, spec: { type: 'filter', hook: 'input', priority: 0 } },
  { name: CHAIN.filterForward, spec: { type: 'filter', hook: 'forward', priority: 0 } },
  { name: CHAIN.filterOutput, spec: { type: 'filter', hook: 'output', priority: 0 } },
  { name: CHAIN.natPrerouting, spec: { type: 'nat', hook: 'prerouting', priority: -100 } },
  { name: CHAIN.natOutput, spec: { type: 'nat', hook: 'output', priority: -100 } },
  { name: CHAIN.natPostrouting, spec: { type: 'nat', hook: 'postrouting', priority: 100 } },
]

// nftablesJumpChains, in upstream order. Filter checks run for new connections only; the
// endpoint checks cannot sit in prerouting because `reject` needs input/forward/output on
// kernels before 5.9.
const JUMP_CHAINS: readonly { dst: string; src: string; ctNew: boolean }[] = [
  { dst: CHAIN.nodePortEndpointsCheck, src: CHAIN.filterInput, ctNew: true },
  { dst: CHAIN.serviceEndpointsCheck, src: CHAIN.filterInput, ctNew: true },
  { dst: CHAIN.serviceEndpointsCheck, src: CHAIN.filterForward, ctNew: true },
  { dst: CHAIN.serviceEndpointsCheck, src: CHAIN.filterOutput, ctNew: true },
  { dst: CHAIN.firewallCheck, src: CHAIN.filterPreroutingPreDNAT, ctNew: true },
  { dst: CHAIN.firewallCheck, src: CHAIN.filterOutputPreDNAT, ctNew: true },
  { dst: CHAIN.services, src: CHAIN.natOutput, ctNew: false },
  { dst: CHAIN.services, src: CHAIN.natPrerouting, ctNew: false },
  { dst: CHAIN.masquerading, src: CHAIN.natPostrouting, ctNew: false },
  { dst: CHAIN.clusterIPsCheck, src: CHAIN.filterForward, ctNew: true },
  { dst: CHAIN.clusterIPsCheck, src: CHAIN.filterOutput, ctNew: true },
]

/**
 * One compiled service port: what its part of syncProxyRules asked for, in order. Chains and
 * elements are requests (`ensureChain`, `ensureElem`) because whether they become operations
 * depends on what earlier service ports asked for; replaying the steps gives the same operations
 * as compiling the port in place.
 */
export type Step =
  | { t: 'chain'; name: string }
  | { t: 'elem'; name: string; key: readonly ElementPart[]; value?: Verdict; comment?: string }
  | { t: 'op'; op: Op }

/** The steps of one service port. */
export interface PortFragment {
  readonly steps: readonly Step[]
}

/** A compiled family before the per-port steps are replayed into one transaction. */
export interface RulesetParts {
  family: NftFamily
  table: string
  /** The fixed part (table, base and fixed chains, sets and maps, their rules). */
  head: readonly Op[]
  /** Service ports in model order. */
  ports: readonly { key: string; fragment: PortFragment }[]
}

/**
 * Fragments by the model's ServicePortModel object and the family-level inputs they were compiled
 * under; pass one cache to successive compiles of models from one ModelStore.
 */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; fragment: PortFragment }>
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

/** Compiles one family of the model into the ordered operations of one transaction. */
export function compile(model: ProxyModel, options: CompileOptions, cache?: FragmentCache): Ruleset {
  return assembleRuleset(compileParts(model, options, cache))
}

/** Model → parts; with a cache, only service ports without a fragment for these inputs are compiled. */
export function compileParts(model: ProxyModel, options: CompileOptions, cache?: FragmentCache): RulesetParts {
  const fam = model.families.find((f) => f.family === options.family)
  if (!fam) {
    throw new KproxcError('USAGE', `the model has no ${options.family} section (computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  const c = new Compiler(model, fam, serviceCIDRsOf(options.serviceCIDRs ?? [], options.family))
  c.setup()
  // Everything servicePort reads besides the ServicePortModel itself.
  const inputs = `${fam.family}|${model.config.masqueradeMark}|${JSON.stringify(fam.localDetector)}`
  const ports = fam.servicePorts.map((sp) => {
    const hit = cache?.fragments.get(sp)
    if (hit && hit.inputs === inputs) return { key: sp.key, fragment: hit.fragment }
    const fragment = c.servicePort(sp)
    cache?.fragments.set(sp, { inputs, fragment })
    return { key: sp.key, fragment }
  })
  return { family: c.nf, table: TABLE, head: c.ops, ports }
}

/**
 * The fixed part, the service ports and the function that compiles one: for a one-shot writer
 * that spells each port's operations and lets them go, so the whole IR never lives at once.
 */
export function compilePartsLazily(model: ProxyModel, options: CompileOptions): {
  family: NftFamily
  table: string
  head: readonly Op[]
  ports: readonly ServicePortModel[]
  fragment: (sp: ServicePortModel) => PortFragment
} {
  const fam = model.families.find((f) => f.family === options.family)
  if (!fam) {
    throw new KproxcError('USAGE', `the model has no ${options.family} section (computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  const c = new Compiler(model, fam, serviceCIDRsOf(options.serviceCIDRs ?? [], options.family))
  c.setup()
  return { family: c.nf, table: TABLE, head: c.ops, ports: fam.servicePorts, fragment: (sp) => c.servicePort(sp) }
}

/** Replays the parts into one checked transaction. */
export function assembleRuleset(parts: RulesetParts): Ruleset {
  const r = new Replay(parts.head)
  for (const { fragment } of parts.ports) r.steps(fragment.steps)
  const ruleset: Ruleset = { family: parts.family, table: parts.table, ops: r.ops }
  checkRuleset(ruleset)
  return ruleset
}

/** ensureChain / ensureElem over a growing transaction (the state kube-proxy keeps per sync). */
export class Replay {
  readonly ops: Op[]
  readonly chains = new Set<string>()
  /** nftElementStorage: what each tracked set/map holds so far in this transaction. */
  readonly stored = new Map<string, Map<string, string>>()

  constructor(head: readonly Op[]) {
    this.ops = [...head]
    for (const op of head) this.note(op)
  }

  private note(op: Op): void {
    if (op.kind === 'addChain') this.chains.add(op.name)
    else if (op.kind === 'addSet') this.stored.set(op.name, new Map())
    else if (op.kind === 'deleteSet') this.stored.delete(op.name)
    else if (op.kind === 'addElement') this.stored.get(op.name)?.set(elementKey(op.key), op.value === undefined ? '' : verdictKey(op.value))
  }

  steps(steps: readonly Step[]): void {
    for (const s of steps) {
      if (s.t === 'op') this.ops.push(s.op)
      else if (s.t === 'chain') this.ensureChain(s.name)
      else this.ensureElem(s.name, s.key, s.value, s.comment)
    }
  }

  /** ensureChain: add + flush once per transaction. */
  ensureChain(name: string): void {
    if (this.chains.has(name)) return
    this.chains.add(name)
    this.ops.push({ kind: 'addChain', name }, { kind: 'flushChain', name })
  }

  /**
   * nftElementStorage.ensureElem: add when absent, nothing when present with the same value,
   * delete + add when the value differs (an add with another verdict fails with EEXIST). Two
   * service ports claiming one key therefore leave the later one's value, as upstream.
   */
  ensureElem(name: string, key: readonly ElementPart[], value?: Verdict, comment?: string): void {
    const store = this.stored.get(name) as Map<string, string>
    const k = elementKey(key)
    const v = value === undefined ? '' : verdictKey(value)
    const old = store.get(k)
    if (old === v) return
    if (old !== undefined) this.ops.push({ kind: 'deleteElement', name, container: value === undefined ? 'set' : 'map', key })
    store.set(k, v)
    const op: Op = { kind: 'addElement', name, key }
    if (value !== undefined) op.value = value
    if (comment !== undefined) op.comment = comment
    this.ops.push(op)
  }
}

/** The identity of an element key within its set. */
export function elementKey(key: readonly ElementPart[]): string {
  return key.length === 1 ? String(key[0]) : key.join(' . ')
}

/** The ServiceCIDRs of one family, canonical and sorted; invalid entries are an input error. */
export function serviceCIDRsOf(cidrs: readonly string[], family: Family): string[] {
  const out: string[] = []
  for (const raw of cidrs) {
    const p = parseCIDR(raw.trim())
    if ('error' in p) {
      throw new KproxcError('INVALID_INPUT', 'invalid service CIDR', [{ object: { kind: 'Option', name: 'service-cidr' }, path: '', value: raw, message: p.error }])
    }
    if (p.family === family) out.push(p.text)
  }
  return sortAddresses(out)
}

class Compiler {
  private readonly head = new Replay([])
  readonly ops: Op[] = this.head.ops
  readonly nf: NftFamily
  private readonly addr: DataType
  /** The steps of the service port being compiled; null while compiling the fixed part. */
  private frag: Step[] | null = null
  private readonly markRule: Stmt

  constructor(
    private readonly model: ProxyModel,
    private readonly fam: FamilyModel,
    private readonly serviceCIDRs: readonly string[],
  ) {
    this.nf = fam.family === 'IPv4' ? 'ip' : 'ip6'
    this.addr = fam.family === 'IPv4' ? 'ipv4_addr' : 'ipv6_addr'
    this.saddrExpr = ir.payload(this.nf, 'saddr')
    this.daddrExpr = ir.payload(this.nf, 'daddr')
    const mark = model.config.masqueradeMark
    // masqueradeRule: `mark set mark or MARK`
    this.markRule = { kind: 'markSet', value: ir.binop('|', ir.meta('mark'), ir.num(mark, true)) }
  }

  // The IR is immutable, so per-service rules share these nodes instead of allocating their own.
  private readonly saddrExpr: Expr
  private readonly daddrExpr: Expr
  private readonly l4protoIs = new Map<string, Stmt>()

  private saddr(): Expr {
    return this.saddrExpr
  }

  private daddr(): Expr {
    return this.daddrExpr
  }

  /** `meta l4proto tcp` */
  private l4proto(proto: string): Stmt {
    let s = this.l4protoIs.get(proto)
    if (!s) this.l4protoIs.set(proto, (s = ir.eq(ir.meta('l4proto'), ir.lit(proto))))
    return s
  }

  /** `ip daddr . meta l4proto . th dport` */
  private serviceKey(): Expr {
    return ir.concat(this.daddr(), ir.meta('l4proto'), ir.payload('th', 'dport'))
  }

  /** `meta l4proto . th dport` */
  private portKey(): Expr {
    return ir.concat(ir.meta('l4proto'), ir.payload('th', 'dport'))
  }

  /** `ip daddr != 127.0.0.0/8` / `ip6 daddr != ::1`: NodePorts never open on loopback here. */
  private noLocalhost(): Stmt {
    return this.nf === 'ip' ? ir.ne(this.daddr(), ir.prefix('127.0.0.0', 8)) : ir.ne(this.daddr(), ir.lit('::1'))
  }

  private emit(op: Op): void {
    if (this.frag) this.frag.push({ t: 'op', op })
    else this.ops.push(op)
  }

  private rule(chain: string, stmts: Stmt[], comment?: string): void {
    this.emit(comment === undefined ? { kind: 'addRule', chain, stmts } : { kind: 'addRule', chain, stmts, comment })
  }

  private ensureChain(name: string): void {
    if (this.frag) this.frag.push({ t: 'chain', name })
    else this.head.ensureChain(name)
  }

  private addSet(name: string, container: Container, keyType: DataType[], comment?: string): void {
    const op: Op = { kind: 'addSet', name, container, keyType }
    if (comment !== undefined) op.comment = comment
    this.ops.push(op)
    this.head.stored.set(name, new Map())
  }

  private ensureElem(name: string, key: ElementPart[], value?: Verdict, comment?: string): void {
    if (!this.frag) return this.head.ensureElem(name, key, value, comment)
    const step: Step = { t: 'elem', name, key }
    if (value !== undefined) step.value = value
    if (comment !== undefined) step.comment = comment
    this.frag.push(step)
  }

  /** setupNFTables, for the first sync of a process, preceded by a table reset (see below). */
  setup(): void {
    const { ops, nf } = this
    const a = this.addr
    // Not upstream: kube-proxy owns a long-lived table and edits it. A compiled file must be
    // loadable over any previous state, and again over itself; deleting the table inside the
    // same atomic transaction (add first, since `delete` of a missing table fails and 1.0.6 has
    // no `destroy`) gives that, and avoids nft 1.0.6 JSON's EEXIST on re-added dynamic sets.
    ops.push({ kind: 'addTable', comment: TABLE_COMMENT }, { kind: 'deleteTable' }, { kind: 'addTable', comment: TABLE_COMMENT })
    // First sync only: add+delete so that base chains whose priority changed get re-created.
    for (const bc of BASE_CHAINS) ops.push({ kind: 'addChain', name: bc.name }, { kind: 'deleteChain', name: bc.name })
    for (const bc of BASE_CHAINS) ops.push({ kind: 'addChain', name: bc.name, base: bc.spec }, { kind: 'flushChain', name: bc.name })
    for (const j of JUMP_CHAINS) {
      this.ensureChain(j.dst)
      this.rule(j.src, j.ctNew ? [ir.has(ir.ct('state'), ir.lit('new')), ir.jump(j.dst)] : [ir.jump(j.dst)])
    }
    for (const name of [CHAIN.services, CHAIN.clusterIPsCheck, CHAIN.masquerading]) this.ensureChain(name)

    const mark = this.model.config.masqueradeMark
    this.addSet(SET.hairpinConnections, 'set', [a, a, 'inet_proto', 'inet_service'], COMMENT.hairpinConnections)
    // The mark is cleared after use so an skb reused for an encapsulated packet is not
    // masqueraded twice.
    this.rule(CHAIN.masquerading, [
      ir.ne(ir.binop('&', ir.meta('mark'), ir.num(mark, true)), ir.num(0)),
      { kind: 'markSet', value: ir.binop('^', ir.meta('mark'), ir.num(mark, true)) },
      { kind: 'masquerade', fullyRandom: true },
    ])
    this.rule(CHAIN.masquerading, [
      ir.has(ir.ct('status'), ir.lit('dnat')),
      ir.eq(ir.concat(this.saddr(), this.daddr(), ir.meta('l4proto'), ir.payload('th', 'dport')), ir.ref(SET.hairpinConnections)),
      { kind: 'masquerade', fullyRandom: true },
    ])

    this.addSet(SET.clusterIPs, 'set', [a], COMMENT.clusterIPs)
    this.rule(CHAIN.clusterIPsCheck, [ir.eq(this.daddr(), ir.ref(SET.clusterIPs)), ir.reject()], COMMENT.rejectInvalidPorts)
    if (this.serviceCIDRs.length > 0) {
      // Upstream joins the CIDRs with "," inside braces.
      const cidrs = this.serviceCIDRs.map((c) => cidrExpr(c))
      this.rule(CHAIN.clusterIPsCheck, [ir.eq(this.daddr(), ir.anonSet(cidrs, 'compact')), ir.drop()], COMMENT.dropUnallocated)
    }

    const npa = this.fam.nodePortAddresses
    this.addSet(SET.nodePortIPs, 'set', [a], COMMENT.nodePortIPs)
    if (npa.matchAll) {
      ops.push({ kind: 'deleteSet', name: SET.nodePortIPs, container: 'set' })
      this.head.stored.delete(SET.nodePortIPs)
    } else {
      ops.push({ kind: 'flushSet', name: SET.nodePortIPs, container: 'set' })
      for (const ip of npa.addresses) {
        if (isLoopbackIP(ip)) continue
        this.ensureElem(SET.nodePortIPs, [ip])
      }
    }

    this.addSet(MAP.noEndpointServices, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.noEndpointServices)
    this.addSet(MAP.noEndpointNodePorts, 'map', ['inet_proto', 'inet_service'], COMMENT.noEndpointNodePorts)
    ops.push({ kind: 'addChain', name: CHAIN.reject, comment: COMMENT.rejectChain }, { kind: 'flushChain', name: CHAIN.reject })
    this.head.chains.add(CHAIN.reject)
    this.rule(CHAIN.reject, [ir.reject()])
    this.rule(CHAIN.serviceEndpointsCheck, [ir.vmap(this.serviceKey(), MAP.noEndpointServices)])
    this.rule(CHAIN.nodePortEndpointsCheck, npa.matchAll
      ? [this.noLocalhost(), ir.vmap(this.portKey(), MAP.noEndpointNodePorts)]
      : [ir.eq(this.daddr(), ir.ref(SET.nodePortIPs)), ir.vmap(this.portKey(), MAP.noEndpointNodePorts)])

    this.addSet(MAP.firewallIPs, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.firewallIPs)
    this.ensureChain(CHAIN.firewallCheck)
    this.rule(CHAIN.firewallCheck, [ir.vmap(this.serviceKey(), MAP.firewallIPs)])

    this.addSet(MAP.serviceIPs, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.serviceIPs)
    this.addSet(MAP.serviceNodePorts, 'map', ['inet_proto', 'inet_service'], COMMENT.serviceNodePorts)
    const notLocal = notLocalMatch(this.fam.localDetector, this.nf)
    if (this.model.config.masqueradeAll) {
      this.rule(CHAIN.services, [ir.eq(this.daddr(), ir.ref(SET.clusterIPs)), this.markRule], COMMENT.masqueradeAllClusterIP)
    } else if (notLocal) {
      // Off-cluster clients may route the service range to any node, which may bounce the
      // connection to another node: masquerade them.
      this.rule(CHAIN.services, [ir.eq(this.daddr(), ir.ref(SET.clusterIPs)), notLocal, this.markRule], COMMENT.masqueradeOffCluster)
    }
    this.rule(CHAIN.services, [ir.vmap(this.serviceKey(), MAP.serviceIPs)])
    this.rule(CHAIN.services, npa.matchAll
      ? [ir.eq(ir.fib('daddr'), ir.lit('local')), this.noLocalhost(), ir.vmap(this.portKey(), MAP.serviceNodePorts)]
      : [ir.eq(this.daddr(), ir.ref(SET.nodePortIPs)), ir.vmap(this.portKey(), MAP.serviceNodePorts)])
  }

  /** The per-service-port body of syncProxyRules, in upstream order, as replayable steps. */
  servicePort(sp: ServicePortModel): PortFragment {
    const steps: Step[] = []
    this.frag = steps
    try {
      this.servicePortSteps(sp)
    } finally {
      this.frag = null
    }
    return { steps }
  }

  private servicePortSteps(sp: ServicePortModel): void {
    const names = servicePortNames(sp)
    const proto = sp.protocolLower
    const comment = truncateComment(sp.displayName)
    const byKey = new Map(sp.endpoints.map((e) => [e.key, e]))
    const endpoint = (key: string) => {
      const e = byKey.get(key)
      if (!e) throw new KproxcError('INTERNAL', `service port ${sp.key}: endpoint ${key} is selected but not listed`)
      return e
    }
    const reachable = sp.reachableEndpoints.map(endpoint)
    const clusterEps = (sp.clusterEndpoints ?? []).map(endpoint)
    const localEps = (sp.localEndpoints ?? []).map(endpoint)
    const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : null
    // Endpoint chains and affinity sets exist only with session affinity; hashing every endpoint
    // otherwise would dominate compile time on large clusters.
    const epNames = new Map(affinity === null ? [] : reachable.map((e) => [e.key, endpointNames(sp, e.ip, e.port)]))
    const epName = (key: string) => epNames.get(key) as { chain: string; affinitySet: string }

    for (const e of reachable) {
      if (affinity !== null) this.ensureChain(epName(e.key).chain)
      if (e.isLocal) this.ensureElem(SET.hairpinConnections, [e.ip, e.ip, proto, e.port])
    }

    const usesClusterChain = clusterEps.length > 0 && sp.usesClusterEndpoints
    const usesLocalChain = localEps.length > 0 && sp.usesLocalEndpoints
    if (usesClusterChain) this.ensureChain(names.cluster)
    if (usesLocalChain) this.ensureChain(names.local)
    // Exists whenever there are endpoints at all, even if none takes external traffic, because
    // the short-circuit rules for pod and host traffic still apply.
    const ext = sp.hasAnyEndpoints && sp.externallyAccessible ? sp.external : null
    if (ext) this.ensureChain(names.external)

    const policyChain = (v: ModelVerdict & { action: 'forward' }) => (v.to === 'local' ? names.local : names.cluster)
    const filterVerdict = (v: ModelVerdict): Verdict => (v.action === 'reject' ? { kind: 'goto', target: CHAIN.reject } : { kind: 'drop' })
    const externalPolicy: ModelVerdict = sp.external?.policy ?? sp.internal
    const hasExternalEndpoints = externalPolicy.action === 'forward'

    this.ensureElem(SET.clusterIPs, [sp.clusterIP])
    if (sp.internal.action === 'forward') {
      this.ensureElem(MAP.serviceIPs, [sp.clusterIP, proto, sp.port], { kind: 'goto', target: policyChain(sp.internal) })
    } else {
      this.ensureElem(MAP.noEndpointServices, [sp.clusterIP, proto, sp.port], filterVerdict(sp.internal), comment)
    }

    for (const eip of sp.externalIPs) {
      if (sp.hasAnyEndpoints) this.ensureElem(MAP.serviceIPs, [eip, proto, sp.port], { kind: 'goto', target: names.external })
      if (!hasExternalEndpoints) this.ensureElem(MAP.noEndpointServices, [eip, proto, sp.port], filterVerdict(externalPolicy), comment)
    }

    // Upstream builds the firewall whether or not the service has endpoints.
    const usesFirewall = sp.firewall.enabled && sp.loadBalancerVIPs.length > 0
    if (usesFirewall) this.ensureChain(names.firewall)
    for (const vip of sp.loadBalancerVIPs) {
      if (sp.hasAnyEndpoints) this.ensureElem(MAP.serviceIPs, [vip, proto, sp.port], { kind: 'goto', target: names.external })
      if (usesFirewall) this.ensureElem(MAP.firewallIPs, [vip, proto, sp.port], { kind: 'goto', target: names.firewall })
    }
    if (!hasExternalEndpoints) {
      for (const vip of sp.loadBalancerVIPs) this.ensureElem(MAP.noEndpointServices, [vip, proto, sp.port], filterVerdict(externalPolicy), comment)
    }

    // NodePorts are never subject to loadBalancerSourceRanges (upstream cannot change that).
    if (sp.nodePort !== 0) {
      if (sp.hasAnyEndpoints) this.ensureElem(MAP.serviceNodePorts, [proto, sp.nodePort], { kind: 'goto', target: names.external })
      if (!hasExternalEndpoints) this.ensureElem(MAP.noEndpointNodePorts, [proto, sp.nodePort], filterVerdict(externalPolicy), comment)
    }

    if (ext) {
      if (ext.masquerade) {
        // Cluster policy: endpoints may be on other nodes, so the reply must come back here.
        this.rule(names.external, [this.markRule], COMMENT.masquerade)
      } else {
        const local = localMatch(this.fam.localDetector, this.nf)
        // Pods reaching an external address behave as if the load balancer bounced them back:
        // all endpoints, source kept.
        if (ext.shortCircuitLocalPods && local) this.rule(names.external, [local, ir.goto(names.cluster)], COMMENT.shortCircuitPods)
        if (ext.shortCircuitHost) {
          // The node's own traffic carries a local source address; masquerade it so replies
          // come back through this node's conntrack.
          this.rule(names.external, [ir.eq(ir.fib('saddr'), ir.lit('local')), this.markRule], COMMENT.masqueradeLocal)
          this.rule(names.external, [ir.eq(ir.fib('saddr'), ir.lit('local')), ir.goto(names.cluster)], COMMENT.shortCircuitLocal)
        }
      }
      if (ext.policy.action === 'forward') this.rule(names.external, [ir.goto(policyChain(ext.policy))])
    }

    if (usesFirewall) {
      const sources = sp.firewall.sourceRanges.map(cidrExpr)
      // A VIP bound locally makes the node's own requests arrive with the VIP as source.
      if (sp.firewall.allowLoadBalancerVIPsAsSource) for (const vip of sp.loadBalancerVIPs) sources.push(ir.lit(vip))
      this.rule(names.firewall, [ir.ne(this.saddr(), ir.anonSet(sources, 'spaced')), ir.drop()])
    }

    if (affinity !== null) {
      for (const e of reachable) {
        const name = epName(e.key).affinitySet
        this.emit({ kind: 'addSet', name, container: 'set', keyType: [this.addr], flags: ['dynamic', 'timeout'], timeoutSeconds: affinity })
      }
      if (usesClusterChain) this.endpointJumps(names.cluster, clusterEps.map((e) => epName(e.key)))
      if (usesLocalChain) this.endpointJumps(names.local, localEps.map((e) => epName(e.key)))
      for (const e of reachable) {
        const n = epName(e.key)
        this.rule(n.chain, [{ kind: 'setUpdate', set: n.affinitySet, elem: this.saddr() }])
        this.rule(n.chain, [this.l4proto(proto), { kind: 'dnat', addr: e.ip, port: e.port }])
      }
    } else {
      if (usesClusterChain) this.endpointDNATs(names.cluster, proto, clusterEps)
      if (usesLocalChain) this.endpointDNATs(names.local, proto, localEps)
    }
  }

  /** writeServiceToEndpointDNATs: one rule picking an endpoint at random and DNATing to it. */
  private endpointDNATs(chain: string, proto: string, eps: readonly { ip: string; port: number }[]): void {
    this.rule(chain, [
      this.l4proto(proto),
      { kind: 'dnatMap', family: this.nf, key: ir.numgen(eps.length), entries: eps.map((e, i) => [i, e.ip, e.port] as const) },
    ])
  }

  /** writeServiceToEndpointJumps: sticky clients first, then a random endpoint chain. */
  private endpointJumps(chain: string, eps: readonly { chain: string; affinitySet: string }[]): void {
    for (const e of eps) this.rule(chain, [ir.eq(this.saddr(), ir.ref(e.affinitySet)), ir.goto(e.chain)])
    this.rule(chain, [{ kind: 'vmapLiteral', key: ir.numgen(eps.length), entries: eps.map((e, i) => [i, { kind: 'goto', target: e.chain }] as const) }])
  }
}

function verdictKey(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.target}` : v.kind
}

/** A CIDR as nft writes it: a host prefix stays a prefix (kube-proxy passes `a.b.c.d/32` through). */
function cidrExpr(cidr: string): Expr {
  const slash = cidr.indexOf('/')
  return ir.prefix(cidr.slice(0, slash), Number(cidr.slice(slash + 1)))
}

function isLoopbackIP(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.')
}

/** IfLocalNFT of pkg/proxy/util/localdetector.go; null for the no-op detector. */
function localMatch(d: LocalDetector, nf: NftFamily): Stmt | null {
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

/** IfNotLocalNFT. */
function notLocalMatch(d: LocalDetector, nf: NftFamily): Stmt | null {
  const m = localMatch(d, nf)
  return m && m.kind === 'match' ? { ...m, op: '!=' } : null
}
