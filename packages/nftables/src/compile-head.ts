/**
 * The fixed part of kube-proxy's nftables transaction (setupNFTables, for the first sync of a
 * process): table, base and fixed chains, sets and maps and their rules.
 */
import type { Family, LocalDetector, NodePortAddresses } from '@kproxc/core'
import { CHAIN, COMMENT, MAP, SET, TABLE_COMMENT } from './names.js'
import { type BaseChainSpec, type Container, type DataType, type ElementPart, type Op, type Stmt, ir } from './ir.js'
import { FamilyExprs, cidrExpr, localMatch } from './compile-port.js'
import { Replay } from './replay.js'

/** Everything the fixed part depends on (and nothing else: the compile cache keys on it). */
export interface HeadInputs {
  family: Family
  masqueradeMark: number
  masqueradeAll: boolean
  localDetector: LocalDetector
  nodePortAddresses: NodePortAddresses
  /** This family's ServiceCIDRs, canonical and sorted. */
  serviceCIDRs: readonly string[]
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

/** setupNFTables, preceded by a table reset (see below), as operations in order. */
export function compileHead(inp: HeadInputs): Op[] {
  const ops: Op[] = []
  const r = new Replay((op) => ops.push(op))
  const x = new FamilyExprs(inp.family, inp.masqueradeMark)
  const { nf, daddr } = x
  const a = x.addr
  const mark = inp.masqueradeMark
  const rule = (chain: string, stmts: Stmt[], comment?: string) => r.op(comment === undefined ? { kind: 'addRule', chain, stmts } : { kind: 'addRule', chain, stmts, comment })
  const addSet = (name: string, container: Container, keyType: DataType[], comment: string) => r.op({ kind: 'addSet', name, container, keyType, comment })
  const elem = (name: string, key: ElementPart[]) => r.elem(name, key, undefined, undefined)
  /** `ip daddr . meta l4proto . th dport` */
  const serviceKey = () => ir.concat(daddr, ir.meta('l4proto'), ir.payload('th', 'dport'))
  /** `meta l4proto . th dport` */
  const portKey = () => ir.concat(ir.meta('l4proto'), ir.payload('th', 'dport'))
  /** `ip daddr != 127.0.0.0/8` / `ip6 daddr != ::1`: NodePorts never open on loopback here. */
  const noLocalhost = () => (nf === 'ip' ? ir.ne(daddr, ir.prefix('127.0.0.0', 8)) : ir.ne(daddr, ir.lit('::1')))

  // Not upstream: kube-proxy owns a long-lived table and edits it. A compiled file must be
  // loadable over any previous state, and again over itself; deleting the table inside the
  // same atomic transaction (add first, since `delete` of a missing table fails and 1.0.6 has
  // no `destroy`) gives that, and avoids nft 1.0.6 JSON's EEXIST on re-added dynamic sets.
  r.op({ kind: 'addTable', comment: TABLE_COMMENT })
  r.op({ kind: 'deleteTable' })
  r.op({ kind: 'addTable', comment: TABLE_COMMENT })
  // First sync only: add+delete so that base chains whose priority changed get re-created.
  for (const bc of BASE_CHAINS) {
    r.op({ kind: 'addChain', name: bc.name })
    r.op({ kind: 'deleteChain', name: bc.name })
  }
  for (const bc of BASE_CHAINS) {
    r.op({ kind: 'addChain', name: bc.name, base: bc.spec })
    r.op({ kind: 'flushChain', name: bc.name })
  }
  for (const j of JUMP_CHAINS) {
    r.chain(j.dst)
    rule(j.src, j.ctNew ? [ir.has(ir.ct('state'), ir.lit('new')), ir.jump(j.dst)] : [ir.jump(j.dst)])
  }
  for (const name of [CHAIN.services, CHAIN.clusterIPsCheck, CHAIN.masquerading]) r.chain(name)

  addSet(SET.hairpinConnections, 'set', [a, a, 'inet_proto', 'inet_service'], COMMENT.hairpinConnections)
  // The mark is cleared after use so an skb reused for an encapsulated packet is not
  // masqueraded twice.
  rule(CHAIN.masquerading, [
    ir.ne(ir.binop('&', ir.meta('mark'), ir.num(mark, true)), ir.num(0)),
    { kind: 'markSet', value: ir.binop('^', ir.meta('mark'), ir.num(mark, true)) },
    { kind: 'masquerade', fullyRandom: true },
  ])
  rule(CHAIN.masquerading, [
    ir.has(ir.ct('status'), ir.lit('dnat')),
    ir.eq(ir.concat(x.saddr, daddr, ir.meta('l4proto'), ir.payload('th', 'dport')), ir.ref(SET.hairpinConnections)),
    { kind: 'masquerade', fullyRandom: true },
  ])

  addSet(SET.clusterIPs, 'set', [a], COMMENT.clusterIPs)
  rule(CHAIN.clusterIPsCheck, [ir.eq(daddr, ir.ref(SET.clusterIPs)), ir.reject()], COMMENT.rejectInvalidPorts)
  if (inp.serviceCIDRs.length > 0) {
    // Upstream joins the CIDRs with "," inside braces.
    rule(CHAIN.clusterIPsCheck, [ir.eq(daddr, ir.anonSet(inp.serviceCIDRs.map(cidrExpr), 'compact')), ir.drop()], COMMENT.dropUnallocated)
  }

  const npa = inp.nodePortAddresses
  addSet(SET.nodePortIPs, 'set', [a], COMMENT.nodePortIPs)
  if (npa.matchAll) {
    r.op({ kind: 'deleteSet', name: SET.nodePortIPs, container: 'set' })
  } else {
    r.op({ kind: 'flushSet', name: SET.nodePortIPs, container: 'set' })
    for (const ip of npa.addresses) if (!isLoopbackIP(ip)) elem(SET.nodePortIPs, [ip])
  }

  addSet(MAP.noEndpointServices, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.noEndpointServices)
  addSet(MAP.noEndpointNodePorts, 'map', ['inet_proto', 'inet_service'], COMMENT.noEndpointNodePorts)
  r.op({ kind: 'addChain', name: CHAIN.reject, comment: COMMENT.rejectChain })
  r.op({ kind: 'flushChain', name: CHAIN.reject })
  rule(CHAIN.reject, [ir.reject()])
  rule(CHAIN.serviceEndpointsCheck, [ir.vmap(serviceKey(), MAP.noEndpointServices)])
  rule(CHAIN.nodePortEndpointsCheck, npa.matchAll
    ? [noLocalhost(), ir.vmap(portKey(), MAP.noEndpointNodePorts)]
    : [ir.eq(daddr, ir.ref(SET.nodePortIPs)), ir.vmap(portKey(), MAP.noEndpointNodePorts)])

  addSet(MAP.firewallIPs, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.firewallIPs)
  r.chain(CHAIN.firewallCheck)
  rule(CHAIN.firewallCheck, [ir.vmap(serviceKey(), MAP.firewallIPs)])

  addSet(MAP.serviceIPs, 'map', [a, 'inet_proto', 'inet_service'], COMMENT.serviceIPs)
  addSet(MAP.serviceNodePorts, 'map', ['inet_proto', 'inet_service'], COMMENT.serviceNodePorts)
  const local = localMatch(inp.localDetector, nf)
  // IfNotLocalNFT
  const notLocal: Stmt | null = local && local.kind === 'match' ? { ...local, op: '!=' } : null
  if (inp.masqueradeAll) {
    rule(CHAIN.services, [ir.eq(daddr, ir.ref(SET.clusterIPs)), x.markRule], COMMENT.masqueradeAllClusterIP)
  } else if (notLocal) {
    // Off-cluster clients may route the service range to any node, which may bounce the
    // connection to another node: masquerade them.
    rule(CHAIN.services, [ir.eq(daddr, ir.ref(SET.clusterIPs)), notLocal, x.markRule], COMMENT.masqueradeOffCluster)
  }
  rule(CHAIN.services, [ir.vmap(serviceKey(), MAP.serviceIPs)])
  rule(CHAIN.services, npa.matchAll
    ? [ir.eq(ir.fib('daddr'), ir.lit('local')), noLocalhost(), ir.vmap(portKey(), MAP.serviceNodePorts)]
    : [ir.eq(daddr, ir.ref(SET.nodePortIPs)), ir.vmap(portKey(), MAP.serviceNodePorts)])
  return ops
}

function isLoopbackIP(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.')
}
