/**
 * Packet tracer over kube-proxy's nftables table (the `ip`/`ip6 kube-proxy` table of
 * pkg/proxy/nftables/proxier.go; behaviour matched to upstream's helpers_test.go tracer, not copied):
 * base chains run per hook in priority order, verdict maps are looked up, `numgen` branches are all
 * explored with their share, masquerade is decided in `nat-postrouting`.
 */
import {
  type Packet,
  type TraceAffinity,
  type TraceLeaf,
  type TraceResult,
  type TraceStep,
  type TraceVerdict,
  cidrContains,
  compareAddresses,
  isLoopback,
  summarizeTrace,
} from '@kproxc/core'
import { type Json, type LoadedNft, type LoadedNftRule, type LoadedNftTable, loadNftRuleset } from './load-ruleset.js'

interface State {
  probability: number
  mark: number
  dnat: { ip: string; port: number } | null
  masquerade: boolean
  path: TraceStep[]
}

type Res = { kind: 'end' | 'return' | 'accept' | 'drop' | 'reject' | 'dnat' | 'masquerade'; st: State; why?: string }
type Obj = { [k: string]: Json }

const isObj = (j: Json | undefined): j is Obj => j !== null && typeof j === 'object' && !Array.isArray(j)
const MAX_DEPTH = 64

class NftWalker {
  readonly unknown: string[] = []
  affinity: TraceAffinity | null = null

  constructor(
    readonly table: LoadedNftTable,
    readonly packet: Packet,
  ) {}

  isLocal(ip: string): boolean {
    return isLoopback(ip) || (ip === this.packet.dst && this.packet.dstLocal)
  }

  run(chain: string, start: number, st0: State, depth: number): Res[] {
    const c = this.table.chains.get(chain)
    if (!c || depth > MAX_DEPTH) {
      this.unknown.push(`chain ${chain}: ${c ? 'jump depth too large' : 'missing'}`)
      return [{ kind: 'end', st: st0 }]
    }
    let st = st0
    for (let i = start; i < c.rules.length; i++) {
      const rule = c.rules[i] as LoadedNftRule
      const out = this.rule(rule, 0, st, depth)
      if (out.length === 1 && (out[0] as Res).kind === 'end') {
        st = (out[0] as Res).st
        continue
      }
      return out.flatMap((r) => (r.kind === 'end' ? this.run(chain, i + 1, r.st, depth) : [r]))
    }
    return [{ kind: 'end', st }]
  }

  private step(rule: LoadedNftRule, note?: string): TraceStep {
    return { table: `${this.table.family} ${this.table.name}`, chain: rule.chain, rule: rule.text, ...(rule.comment ? { comment: rule.comment } : {}), ...(note ? { note } : {}) }
  }

  /** Evaluates statements k… of a rule. `end` means "continue with the next rule". */
  private rule(rule: LoadedNftRule, k: number, st: State, depth: number): Res[] {
    const stmts = rule.expr
    let endNote: string | undefined
    for (let i = k; i < stmts.length; i++) {
      const s = stmts[i] as Json
      if (!isObj(s)) continue
      const [kind, body] = Object.entries(s)[0] ?? ['', null]
      const rest = (x: State) => this.rule(rule, i + 1, x, depth)
      const taken = (note?: string): State => ({ ...st, path: [...st.path, this.step(rule, note)] })
      switch (kind) {
        case 'match': {
          const m = this.match(body as Obj, st)
          if (m === 'unknown') {
            this.unknown.push(`${rule.chain}: ${rule.text}`)
            return [{ kind: 'end', st }]
          }
          if (!m) return [{ kind: 'end', st }]
          continue
        }
        case 'counter':
        case 'log':
        case 'limit':
          continue
        case 'mangle': {
          const b = body as Obj
          if (!isObj(b.key) || !('meta' in b.key)) return this.unknownRule(rule, st)
          const v = this.value(b.value as Json, st)
          if (typeof v !== 'number') return this.unknownRule(rule, st)
          st = { ...st, mark: v >>> 0 }
          continue
        }
        case 'set': {
          const name = String((body as Obj).set ?? '').replace(/^@/, '')
          const def = this.table.sets.get(name)
          if (def?.timeout) this.affinity = { timeoutSeconds: def.timeout, mechanism: 'nftables dynamic set per endpoint with a timeout, keyed on the source IP' }
          endNote = `source added to @${name} (session affinity)`
          continue
        }
        case 'jump':
        case 'goto': {
          const target = String((body as Obj).target)
          const t = taken()
          return this.run(target, 0, t, depth + 1).map((r) => (r.kind === 'end' || r.kind === 'return' ? { kind: kind === 'goto' ? ('return' as const) : ('end' as const), st: r.st } : r))
        }
        case 'drop':
        case 'accept':
        case 'return':
          return [{ kind: kind as 'drop', st: taken(), why: `${kind} in ${rule.chain}${rule.comment ? ` (${rule.comment})` : ''}` }]
        case 'reject':
          return [{ kind: 'reject', st: taken(), why: `reject in ${rule.chain}${rule.comment ? ` (${rule.comment})` : ''}` }]
        case 'masquerade':
          return [{ kind: 'masquerade', st: { ...taken(), masquerade: true } }]
        case 'vmap':
          return this.vmap(rule, body as Obj, st, depth)
        case 'dnat':
          return this.dnat(rule, body as Obj, st)
        default:
          return this.unknownRule(rule, st)
      }
    }
    return [{ kind: 'end', st: rule.expr.length ? { ...st, path: [...st.path, this.step(rule, endNote)] } : st }]
  }

  private unknownRule(rule: LoadedNftRule, st: State): Res[] {
    this.unknown.push(`${rule.chain}: ${rule.text}`)
    return [{ kind: 'end', st }]
  }

  private verdictOf(rule: LoadedNftRule, v: Json | undefined, st: State, depth: number, note: string): Res[] {
    const t = { ...st, path: [...st.path, this.step(rule, note)] }
    if (!isObj(v)) return this.unknownRule(rule, st)
    const [kind, body] = Object.entries(v)[0] ?? ['', null]
    if (kind === 'goto' || kind === 'jump') {
      const target = String((body as Obj).target)
      return this.run(target, 0, t, depth + 1).map((r) => (r.kind === 'end' || r.kind === 'return' ? { kind: kind === 'goto' ? ('return' as const) : ('end' as const), st: r.st } : r))
    }
    if (kind === 'drop') return [{ kind: 'drop', st: t, why: `drop from ${note}` }]
    if (kind === 'accept') return [{ kind: 'accept', st: t }]
    if (kind === 'return') return [{ kind: 'return', st: t }]
    return this.unknownRule(rule, st)
  }

  private vmap(rule: LoadedNftRule, b: Obj, st: State, depth: number): Res[] {
    const entries = this.entries(b.data as Json)
    if (!entries) return this.unknownRule(rule, st)
    const ng = numgenOf(b.key as Json)
    if (ng) {
      return entries.flatMap(([k, v]) => {
        const share = 1 / ng.mod
        return this.verdictOf(rule, v, { ...st, probability: st.probability * share }, depth, `numgen ${String(unwrap(k))} of ${ng.mod} (probability ${round4(share)})`)
      })
    }
    const key = this.value(b.key as Json, st)
    if (key === 'unknown') return this.unknownRule(rule, st)
    const hit = entries.find(([k]) => elemMatches(unwrap(k), key))
    if (!hit) return [{ kind: 'end', st }]
    const name = typeof b.data === 'string' ? b.data : 'verdict map'
    return this.verdictOf(rule, hit[1], st, depth, `${name}[${show(key)}]${commentOf(hit[0])}`)
  }

  private dnat(rule: LoadedNftRule, b: Obj, st: State): Res[] {
    const p = this.packet
    const done = (x: State, ip: string, port: number, note?: string): Res => ({ kind: 'dnat', st: { ...x, dnat: { ip, port }, path: [...x.path, this.step(rule, note)] } })
    if (typeof b.addr === 'string') return [done(st, b.addr, typeof b.port === 'number' ? b.port : p.dport)]
    const map = isObj(b.addr) && isObj(b.addr.map) ? b.addr.map : undefined
    const ng = map ? numgenOf(map.key as Json) : undefined
    const entries = map ? this.entries(map.data as Json) : undefined
    if (!ng || !entries) return this.unknownRule(rule, st)
    return entries.map(([k, v]) => {
      const parts = isObj(v) && Array.isArray(v.concat) ? v.concat : Array.isArray(v) ? v : [v]
      const share = 1 / ng.mod
      return done({ ...st, probability: st.probability * share }, String(parts[0]), Number(parts[1] ?? p.dport), `numgen ${String(unwrap(k))} of ${ng.mod} (probability ${round4(share)})`)
    })
  }

  private entries(data: Json | undefined): [Json, Json][] | undefined {
    if (typeof data === 'string' && data.startsWith('@')) return this.table.sets.get(data.slice(1))?.elements ?? []
    if (isObj(data) && Array.isArray(data.set)) return data.set.map((e) => (Array.isArray(e) ? [e[0] ?? null, e[1] ?? null] : [e, null]))
    return undefined
  }

  /** A match statement: true/false, or 'unknown'. */
  private match(m: Obj, st: State): boolean | 'unknown' {
    const left = this.value(m.left as Json, st)
    if (left === 'unknown') return 'unknown'
    const op = String(m.op ?? '==')
    const right = m.right as Json
    let hit: boolean
    if (typeof right === 'string' && right.startsWith('@')) {
      const set = this.table.sets.get(right.slice(1))
      if (!set) return 'unknown'
      if (set.timeout !== undefined && set.elements.length === 0) {
        this.affinity = { timeoutSeconds: set.timeout, mechanism: 'nftables dynamic set per endpoint with a timeout, keyed on the source IP' }
        st.path = [...st.path, { table: `${this.table.family} ${this.table.name}`, chain: '', rule: `${right}`, note: 'affinity check: a new client is in no affinity set yet' }]
      }
      hit = set.elements.some(([k]) => elemMatches(unwrap(k), left))
    } else if (isObj(right) && Array.isArray(right.set)) {
      hit = right.set.some((e) => elemMatches(unwrap(e), left))
    } else if (Array.isArray(right)) {
      hit = right.some((e) => elemMatches(e, left))
    } else {
      hit = elemMatches(right, left)
    }
    if (op === '==' || op === 'in') return hit
    if (op === '!=') return !hit
    return 'unknown'
  }

  /** The packet's value for an expression: scalar, list (concat), or 'unknown'. */
  value(e: Json | undefined, st: State): Json | 'unknown' {
    const p = this.packet
    if (typeof e === 'number' || typeof e === 'string') return e
    if (!isObj(e)) return 'unknown'
    if (isObj(e.payload)) {
      const { protocol, field } = e.payload as { protocol: string; field: string }
      const fam = p.family === 'IPv4' ? 'ip' : 'ip6'
      if (field === 'saddr' && protocol === fam) return p.src
      if (field === 'daddr' && protocol === fam) return st.dnat?.ip ?? p.dst
      if (field === 'dport' && (protocol === 'th' || protocol === p.protocol)) return st.dnat?.port ?? p.dport
      return 'unknown'
    }
    if (isObj(e.meta)) {
      switch (e.meta.key) {
        case 'l4proto':
        case 'protocol':
          return p.protocol
        case 'mark':
          return st.mark
        case 'iifname':
          return p.from === 'node' ? 'lo' : p.iif
        case 'nfproto':
          return p.family === 'IPv4' ? 'ipv4' : 'ipv6'
        default:
          return 'unknown'
      }
    }
    if (isObj(e.ct)) {
      if (e.ct.key === 'state') return 'new'
      if (e.ct.key === 'status') return st.dnat ? 'dnat' : 'none'
      return 'unknown'
    }
    if (isObj(e.fib)) {
      const flags = (Array.isArray(e.fib.flags) ? e.fib.flags : [e.fib.flags]).map(String)
      if (e.fib.result !== 'type') return 'unknown'
      if (flags.includes('saddr')) return p.from === 'node' || isLoopback(p.src) ? 'local' : 'unicast'
      if (flags.includes('daddr')) return this.isLocal(st.dnat?.ip ?? p.dst) ? 'local' : 'unicast'
      return 'unknown'
    }
    if (Array.isArray(e.concat)) {
      const parts = e.concat.map((x) => this.value(x, st))
      return parts.includes('unknown') ? 'unknown' : parts
    }
    for (const op of ['|', '&', '^'] as const) {
      const args = e[op]
      if (Array.isArray(args) && args.length === 2) {
        const a = this.value(args[0] as Json, st)
        const b = this.value(args[1] as Json, st)
        if (typeof a !== 'number' || typeof b !== 'number') return 'unknown'
        return (op === '|' ? a | b : op === '&' ? a & b : a ^ b) >>> 0
      }
    }
    return 'unknown'
  }
}

function unwrap(k: Json | undefined): Json {
  return isObj(k) && isObj(k.elem) ? (k.elem.val as Json) : (k ?? null)
}

function commentOf(k: Json | undefined): string {
  return isObj(k) && isObj(k.elem) && typeof k.elem.comment === 'string' ? ` (${k.elem.comment})` : ''
}

function numgenOf(e: Json | undefined): { mod: number } | undefined {
  return isObj(e) && isObj(e.numgen) ? { mod: Number(e.numgen.mod) } : undefined
}

function show(v: Json): string {
  return Array.isArray(v) ? v.map(String).join(' . ') : String(v)
}

function round4(n: number): string {
  return String(Math.round(n * 1e4) / 1e4)
}

/** Whether a set/map element (literal, prefix, range, concat of those) contains a packet value. */
function elemMatches(el: Json | undefined, v: Json | undefined): boolean {
  if (Array.isArray(v)) {
    const parts = isObj(el) && Array.isArray(el.concat) ? el.concat : Array.isArray(el) ? el : undefined
    return !!parts && parts.length === v.length && parts.every((x, i) => elemMatches(unwrap(x), v[i] as Json))
  }
  if (isObj(el) && isObj(el.prefix)) return typeof v === 'string' && cidrContains(`${el.prefix.addr}/${el.prefix.len}`, v)
  if (isObj(el) && Array.isArray(el.range)) {
    const [lo, hi] = el.range
    if (typeof v === 'number') return v >= Number(lo) && v <= Number(hi)
    return typeof v === 'string' && compareAddresses(String(lo), v) <= 0 && compareAddresses(v, String(hi)) <= 0
  }
  if (typeof el === 'string' && typeof v === 'string' && el.endsWith('*')) return v.startsWith(el.slice(0, -1))
  if (typeof el === 'number' || typeof v === 'number') return Number(el) === Number(v)
  return String(el) === String(v)
}

/** Base chains of a hook, in priority order. */
function baseChains(t: LoadedNftTable, hook: string): string[] {
  return [...t.chains.values()].filter((c) => c.hook === hook).sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0)).map((c) => c.name)
}

/** The kube-proxy table of the packet's family in a loaded ruleset. */
export function kubeProxyTable(rs: LoadedNft, p: Packet): LoadedNftTable | undefined {
  const fam = p.family === 'IPv4' ? 'ip' : 'ip6'
  return rs.get(`${fam} kube-proxy`) ?? rs.get('inet kube-proxy')
}

/** Traces one packet through kube-proxy's nftables ruleset (JSON or text, kproxc's or `nft list ruleset`). */
export function traceNftables(rules: string | LoadedNft, packet: Packet): TraceResult {
  const rs = typeof rules === 'string' ? loadNftRuleset(rules) : rules
  const table = kubeProxyTable(rs, packet)
  if (!table) {
    return summarizeTrace('nftables', packet, [{ probability: 1, verdict: 'none', endpoint: null, masquerade: false, path: [], reason: `no ${packet.family === 'IPv4' ? 'ip' : 'ip6'} kube-proxy table in the ruleset` }], null, [])
  }
  const w = new NftWalker(table, packet)
  const leaves: TraceLeaf[] = []
  const leaf = (st: State, verdict: TraceVerdict, reason: string) =>
    leaves.push({ probability: st.probability, verdict, endpoint: verdict === 'forward' ? st.dnat : null, masquerade: st.masquerade, path: st.path, reason })
  const runHook = (hook: string, states: State[]): State[] => {
    let cur = states
    for (const chain of baseChains(table, hook)) {
      const next: State[] = []
      for (const st of cur) {
        for (const r of w.run(chain, 0, st, 0)) {
          if (r.kind === 'drop' || r.kind === 'reject') leaf(r.st, r.kind, r.why ?? r.kind)
          else next.push(r.st)
        }
      }
      cur = next
    }
    return cur
  }
  const start: State = { probability: 1, mark: 0, dnat: null, masquerade: false, path: [] }
  const first = runHook(packet.from === 'node' ? 'output' : 'prerouting', [start])
  for (const st of first) {
    const local = w.isLocal(st.dnat?.ip ?? packet.dst)
    const hook = packet.from === 'node' ? (local ? 'input' : undefined) : local ? 'input' : 'forward'
    for (const s of hook ? runHook(hook, [st]) : [st]) {
      if (!s.dnat) {
        leaf(s, 'none', 'no kube-proxy rule DNATs or drops this packet')
        continue
      }
      let masq = false
      let last = s
      for (const chain of baseChains(table, 'postrouting')) {
        for (const r of w.run(chain, 0, last, 0)) {
          if (r.kind === 'masquerade') masq = true
          last = r.st
        }
      }
      leaf({ ...last, masquerade: masq }, 'forward', `DNAT to ${s.dnat.ip}:${s.dnat.port}`)
    }
  }
  return summarizeTrace('nftables', packet, leaves, w.affinity, w.unknown)
}

export { loadNftRuleset, loadNftJSON, loadNftText } from './load-ruleset.js'
