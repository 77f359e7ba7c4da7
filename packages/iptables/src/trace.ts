/**
 * Packet tracer over iptables rules in kube-proxy's shapes (the packet-flow checks of upstream
 * pkg/proxy/iptables/proxier_test.go, reimplemented): nat PREROUTING/OUTPUT, filter
 * INPUT/FORWARD/OUTPUT, nat POSTROUTING, every `statistic` branch explored with its probability.
 * Also the engine of the IPVS tracer, which plugs in ipsets and the IPVS lookup.
 */
import {
  type Packet,
  type ProxyMode,
  type TraceAffinity,
  type TraceLeaf,
  type TraceResult,
  type TraceStep,
  type TraceVerdict,
  cidrContains,
  isLoopback,
  summarizeTrace,
} from '@kproxc/core'
import { type LoadedMatch, type LoadedRule, type LoadedTables, loadIptablesText, parseRuleWords, splitWords } from './load-save.js'

/** The packet's state while it walks the rules of one branch. */
export interface PacketState {
  probability: number
  mark: number
  dnat: { ip: string; port: number } | null
  masquerade: boolean
  path: TraceStep[]
}

/** ipset membership, supplied by the IPVS tracer. Returns undefined for an unknown set. */
export type SetLookup = (name: string, dims: readonly ('src' | 'dst')[], p: Packet) => boolean | undefined

/** A branch after the filter stage: the IPVS tracer turns it into real-server branches. */
export type AfterFilter = (p: Packet, st: PacketState) => { st: PacketState; verdict?: TraceVerdict; reason?: string }[]

/** Hooks for modes that reuse this engine. */
export interface IptablesTraceHooks {
  mode?: ProxyMode
  sets?: SetLookup
  /** Called for branches that were neither dropped nor DNATed by iptables. */
  afterFilter?: AfterFilter
  /** Jumps kube-proxy installs in built-in chains, used when the dump has none (restore text without them). */
  defaultJumps?: Record<string, string[]>
  /** Whether `dst` (after DNAT) is an address of this node; defaults to the packet's flag for its own dst. */
  isLocal?: (ip: string, p: Packet) => boolean
}

/** kube-proxy's jump rules from built-in chains (iptables.md §1.3), by `table/CHAIN`. */
export const IPTABLES_DEFAULT_JUMPS: Record<string, string[]> = {
  'filter/INPUT': [
    '-j KUBE-FIREWALL',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  ],
  'filter/FORWARD': [
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  ],
  'filter/OUTPUT': [
    '-j KUBE-FIREWALL',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  ],
  'nat/PREROUTING': ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  'nat/OUTPUT': ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  'nat/POSTROUTING': ['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
}

const TERMINAL = new Set(['ACCEPT', 'DROP', 'REJECT', 'DNAT', 'MASQUERADE', 'SNAT'])
const MAX_DEPTH = 64

type Res = { kind: 'end' | 'return' | 'ACCEPT' | 'DROP' | 'REJECT' | 'DNAT' | 'MASQUERADE'; st: PacketState; rule?: LoadedRule }

/** Walks iptables tables for one packet; keeps the rules it did not understand. */
export class IptablesWalker {
  readonly unknown: string[] = []
  affinity: TraceAffinity | null = null

  constructor(
    readonly dump: LoadedTables,
    readonly packet: Packet,
    readonly hooks: IptablesTraceHooks,
  ) {}

  /** Rules of a chain, falling back to kube-proxy's default jumps for empty built-in chains. */
  rules(table: string, chain: string): LoadedRule[] {
    const list = this.dump.tables.get(table)?.get(chain)
    if (list && list.length > 0) return list
    const defaults = (this.hooks.defaultJumps ?? IPTABLES_DEFAULT_JUMPS)[`${table}/${chain}`]
    return defaults ? defaults.map((d) => parseRuleWords(table, chain, splitWords(d))) : (list ?? [])
  }

  hasChain(table: string, chain: string): boolean {
    return this.dump.tables.get(table)?.has(chain) ?? false
  }

  /** All branch results of traversing a built-in chain. */
  walk(table: string, chain: string, st: PacketState, depth = 0): Res[] {
    return this.run(table, chain, 0, st, depth)
  }

  private step(rule: LoadedRule, note?: string): TraceStep {
    return { table: rule.table, chain: rule.chain, rule: rule.text, ...(rule.comment !== undefined ? { comment: rule.comment } : {}), ...(note ? { note } : {}) }
  }

  private run(table: string, chain: string, start: number, st0: PacketState, depth: number): Res[] {
    if (depth > MAX_DEPTH) {
      this.unknown.push(`${table}/${chain}: jump depth above ${MAX_DEPTH} (loop?)`)
      return [{ kind: 'end', st: st0 }]
    }
    const rules = this.rules(table, chain)
    let st = st0
    for (let i = start; i < rules.length; i++) {
      const rule = rules[i] as LoadedRule
      const branches = this.matches(rule, st)
      if (branches.length === 1) {
        const b = branches[0] as { matched: boolean; st: PacketState }
        st = b.st
        if (!b.matched) continue
        return this.apply(table, chain, i, rule, st, depth)
      }
      return branches.flatMap((b) => (b.matched ? this.apply(table, chain, i, rule, b.st, depth) : this.run(table, chain, i + 1, b.st, depth)))
    }
    return [{ kind: 'end', st }]
  }

  private apply(table: string, chain: string, i: number, rule: LoadedRule, st0: PacketState, depth: number): Res[] {
    const t = rule.target
    const st = { ...st0, path: [...st0.path, this.step(rule)] }
    const next = (s: PacketState) => this.run(table, chain, i + 1, s, depth)
    if (!t) return next(st)
    const opt = (k: string) => t.options[k]?.[0]
    switch (t.name) {
      case 'RETURN':
        return [{ kind: 'return', st }]
      case 'ACCEPT':
      case 'DROP':
      case 'REJECT':
        return [{ kind: t.name, st, rule }]
      case 'MASQUERADE':
        return [{ kind: 'MASQUERADE', st: { ...st, masquerade: true }, rule }]
      case 'DNAT': {
        const to = parseHostPort(opt('--to-destination') ?? '', this.packet.dport)
        if (!to) {
          this.unknown.push(`${table}/${chain}: ${rule.text}`)
          return next(st)
        }
        return [{ kind: 'DNAT', st: { ...st, dnat: to }, rule }]
      }
      case 'MARK': {
        const mark = applyMark(st.mark, t.options)
        if (mark === undefined) {
          this.unknown.push(`${table}/${chain}: ${rule.text}`)
          return next(st)
        }
        return next({ ...st, mark })
      }
      case 'LOG':
      case 'NFLOG':
      case 'CT':
        return next(st)
      default:
        break
    }
    if (TERMINAL.has(t.name) || !this.hasChain(table, t.name)) {
      this.unknown.push(`${table}/${chain}: ${rule.text} (target ${t.name})`)
      return next(st)
    }
    const sub = this.run(table, t.name, 0, st, depth + 1)
    return sub.flatMap((r) => {
      if (r.kind !== 'end' && r.kind !== 'return') return [r]
      return t.goto ? [{ kind: 'return' as const, st: r.st }] : next(r.st)
    })
  }

  /** Evaluates the matches of a rule: one result, or two for a `statistic` branch. */
  matches(rule: LoadedRule, st: PacketState): { matched: boolean; st: PacketState }[] {
    const p = this.packet
    const dst = st.dnat?.ip ?? p.dst
    const dport = st.dnat?.port ?? p.dport
    let probability: number | undefined
    if (rule.matches.some((m) => m.option === '--rcheck' || m.option === '--update')) {
      const seconds = Number(optionOf(rule, '--seconds') ?? 0)
      this.affinity = { timeoutSeconds: seconds, mechanism: 'iptables recent list per endpoint (named after its KUBE-SEP chain), keyed on the source IP' }
      return [{ matched: false, st: { ...st, path: [...st.path, { ...this.step(rule), note: 'affinity check: a new client is in no recent list yet' }] } }]
    }
    for (const m of rule.matches) {
      const r = this.match(m, rule, st, dst, dport)
      if (r === 'unknown') {
        this.unknown.push(`${rule.table}/${rule.chain}: ${rule.text} (${m.module ? `-m ${m.module} ` : ''}${m.option})`)
        return [{ matched: false, st }]
      }
      if (typeof r === 'number') {
        probability = r
        continue
      }
      if (r !== !m.negated) return [{ matched: false, st }]
    }
    if (probability === undefined) return [{ matched: true, st }]
    const taken = { ...st, probability: st.probability * probability }
    const skipped: PacketState = {
      ...st,
      probability: st.probability * (1 - probability),
      path: [...st.path, { ...this.step(rule), note: `not taken (probability ${round4(1 - probability)})` }],
    }
    const out: { matched: boolean; st: PacketState }[] = []
    if (probability > 0) out.push({ matched: true, st: { ...taken, path: [...taken.path] } })
    if (probability < 1) out.push({ matched: false, st: skipped })
    return out
  }

  /** One match: true/false before negation, a probability for `statistic`, or 'unknown'. */
  private match(m: LoadedMatch, rule: LoadedRule, st: PacketState, dst: string, dport: number): boolean | number | 'unknown' {
    const p = this.packet
    const v = m.values
    switch (m.option) {
      case '-s':
      case '--source':
        return addrMatch(v[0] ?? '', p.src)
      case '-d':
      case '--destination':
        return addrMatch(v[0] ?? '', dst)
      case '-i':
      case '--in-interface':
        return ifaceMatch(v[0] ?? '', p.from === 'node' ? 'lo' : p.iif)
      case '-p':
      case '--protocol':
        return (v[0] ?? '').toLowerCase() === p.protocol
      case '--dport':
      case '--destination-port':
        return Number(v[0]) === dport
      case '':
        // A bare module (`-m tcp`, `-m nfacct`) without options matches everything.
        return true
      case '--comment':
        return true
      case '--nfacct-name':
        return true
      case '--mark': {
        const [val, mask] = (v[0] ?? '').split('/').map((x) => Number(x))
        if (val === undefined || Number.isNaN(val)) return 'unknown'
        return (st.mark & (mask ?? 0xffffffff)) === val
      }
      case '--src-type':
        return v[0] === 'LOCAL' ? p.from === 'node' || isLoopback(p.src) : 'unknown'
      case '--dst-type':
        return v[0] === 'LOCAL' ? this.isLocal(dst) : 'unknown'
      case '--ctstate': {
        const states = (v[0] ?? '').split(',')
        // The first packet of a connection: NEW, plus DNAT once nat rewrote it.
        return states.includes('NEW') || (states.includes('DNAT') && st.dnat !== null)
      }
      case '--mode':
        return v[0] === 'random' ? true : 'unknown'
      case '--probability':
        return Number(v[0])
      case '--set':
        return m.module === 'recent' ? true : 'unknown'
      case '--name':
      case '--seconds':
      case '--reap':
      case '--mask':
      case '--rsource':
        return true
      case '--match-set': {
        const dims = (v[1] ?? '').split(',') as ('src' | 'dst')[]
        const r = this.hooks.sets?.(v[0] ?? '', dims, { ...p, dst, dport })
        return r === undefined ? 'unknown' : r
      }
      case '--physdev-is-in':
        // A packet from a pod veth or the uplink, not a bridge port seen by br_netfilter.
        return false
      case '--vaddr':
        return addrMatch(v[0] ?? '', p.dst)
      case '--vproto':
        return (v[0] ?? '').toLowerCase() === p.protocol || Number(v[0]) === PROTO_NUMBERS[p.protocol]
      case '--vport':
        return Number(v[0]) === p.dport
      default:
        return 'unknown'
    }
  }

  isLocal(ip: string): boolean {
    if (this.hooks.isLocal) return this.hooks.isLocal(ip, this.packet)
    return isLoopback(ip) || (ip === this.packet.dst && this.packet.dstLocal)
  }
}

const PROTO_NUMBERS = { tcp: 6, udp: 17, sctp: 132 } as const

function optionOf(rule: LoadedRule, option: string): string | undefined {
  return rule.matches.find((m) => m.option === option)?.values[0]
}

function round4(n: number): string {
  return String(Math.round(n * 1e4) / 1e4)
}

function addrMatch(spec: string, ip: string): boolean {
  return spec.includes('/') ? cidrContains(spec, ip) : cidrContains(`${spec}/${spec.includes(':') ? 128 : 32}`, ip)
}

function ifaceMatch(spec: string, iif: string): boolean {
  return spec.endsWith('+') ? iif.startsWith(spec.slice(0, -1)) : iif === spec
}

/** `--or-mark`, `--xor-mark`, `--set-xmark v/m`, `--set-mark v[/m]` applied to a mark. */
export function applyMark(mark: number, options: Record<string, string[]>): number | undefined {
  const num = (s: string | undefined) => (s === undefined ? Number.NaN : Number(s))
  for (const [k, vals] of Object.entries(options)) {
    const [a, b] = (vals[0] ?? '').split('/')
    const v = num(a)
    const mask = b === undefined ? 0xffffffff : num(b)
    if (Number.isNaN(v) || Number.isNaN(mask)) return undefined
    switch (k) {
      case '--or-mark':
        return (mark | v) >>> 0
      case '--xor-mark':
        return (mark ^ v) >>> 0
      case '--and-mark':
        return (mark & v) >>> 0
      case '--set-xmark':
        return ((mark & ~mask) ^ v) >>> 0
      case '--set-mark':
        return ((mark & ~mask) | v) >>> 0
    }
  }
  return undefined
}

/** `10.0.0.1:80`, `[fd00::1]:80` or a bare address (port unchanged). */
export function parseHostPort(s: string, port: number): { ip: string; port: number } | undefined {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (v6) return { ip: v6[1] as string, port: v6[2] ? Number(v6[2]) : port }
  const v4 = /^([\d.]+)(?::(\d+))?$/.exec(s)
  if (v4) return { ip: v4[1] as string, port: v4[2] ? Number(v4[2]) : port }
  if (s.includes(':') && !s.includes('.')) return { ip: s, port }
  return undefined
}

const START: PacketState = { probability: 1, mark: 0, dnat: null, masquerade: false, path: [] }

/** Runs the whole netfilter path for one packet and returns the explored leaves. */
export function traceLeaves(dump: LoadedTables, packet: Packet, hooks: IptablesTraceHooks = {}): { walker: IptablesWalker; leaves: TraceLeaf[] } {
  const w = new IptablesWalker(dump, packet, hooks)
  const leaves: TraceLeaf[] = []
  const leaf = (st: PacketState, verdict: TraceVerdict, reason: string) =>
    leaves.push({ probability: st.probability, verdict, endpoint: verdict === 'forward' ? st.dnat : null, masquerade: st.masquerade, path: st.path, reason })
  const natChain = packet.from === 'node' ? 'OUTPUT' : 'PREROUTING'
  for (const r of w.walk('nat', natChain, START)) {
    if (r.kind === 'DROP' || r.kind === 'REJECT') {
      leaf(r.st, r.kind === 'DROP' ? 'drop' : 'reject', `${r.kind} in nat ${r.rule?.chain}`)
      continue
    }
    // Filter: locally generated packets see OUTPUT (then INPUT when addressed to the node); others INPUT or FORWARD.
    const dst = r.st.dnat?.ip ?? packet.dst
    const local = w.isLocal(dst)
    const chains = packet.from === 'node' ? (local ? ['OUTPUT', 'INPUT'] : ['OUTPUT']) : [local ? 'INPUT' : 'FORWARD']
    // IPVS schedules in LOCAL_OUT for the node's own packets and in LOCAL_IN for the others.
    const ipvsAfter = packet.from === 'node' ? 'OUTPUT' : 'INPUT'
    type Cur = { st: PacketState; accepted: boolean; verdict?: TraceVerdict; reason?: string }
    let states: Cur[] = [{ st: r.st, accepted: false }]
    for (const chain of chains) {
      const nextStates: Cur[] = []
      for (const s of states) {
        if (s.verdict || (s.st.dnat && !r.st.dnat)) {
          nextStates.push(s)
          continue
        }
        for (const f of w.walk('filter', chain, s.st)) {
          if (f.kind === 'DROP' || f.kind === 'REJECT') leaf(f.st, f.kind === 'DROP' ? 'drop' : 'reject', `${f.kind} in filter ${f.rule?.chain}: ${f.rule?.comment ?? f.rule?.text}`)
          else nextStates.push({ st: f.st, accepted: s.accepted || f.kind === 'ACCEPT' })
        }
      }
      states = nextStates
      if (hooks.afterFilter && chain === ipvsAfter) {
        states = states.flatMap((s) => (s.st.dnat ? [s] : (hooks.afterFilter as AfterFilter)(packet, s.st).map((a) => ({ ...a, accepted: s.accepted }))))
      }
    }
    for (const a of states) {
      {
        if (a.verdict && a.verdict !== 'forward') {
          leaf(a.st, a.verdict, a.reason ?? a.verdict)
          continue
        }
        if (!a.st.dnat) {
          leaf(a.st, a.accepted ? 'accept' : 'none', a.accepted ? 'accepted by a kube-proxy filter rule, no DNAT' : 'no kube-proxy rule DNATs or drops this packet')
          continue
        }
        let masq = false
        let st = a.st
        for (const pr of w.walk('nat', 'POSTROUTING', a.st)) {
          if (pr.kind === 'MASQUERADE') masq = true
          st = pr.st
        }
        leaf({ ...st, masquerade: masq }, 'forward', a.reason ?? `DNAT to ${st.dnat?.ip}:${st.dnat?.port}`)
      }
    }
  }
  return { walker: w, leaves }
}

/** Traces one packet through an iptables-restore text or an iptables-save dump of kube-proxy's iptables mode. */
export function traceIptables(rules: string | LoadedTables, packet: Packet): TraceResult {
  const dump = typeof rules === 'string' ? loadIptablesText(rules) : rules
  const { walker, leaves } = traceLeaves(dump, packet)
  return summarizeTrace('iptables', packet, leaves, walker.affinity, walker.unknown)
}

export { loadIptablesText, parseRuleWords, splitWords, type LoadedMatch, type LoadedRule, type LoadedTables } from './load-save.js'
