/**
 * Reads an nftables ruleset back for the tracer: libnftables JSON (the `nft -j -f` commands kproxc
 * writes, or `nft -j list ruleset`) and nft text (the `add rule …` script kproxc writes, or the
 * block form `nft list ruleset` prints). Text statements are turned into the same JSON expressions,
 * so one evaluator serves every format. Only kube-proxy's statement shapes are understood; anything
 * else is kept as an `unknown` statement the tracer reports by name.
 */

/** A JSON expression or statement of libnftables. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export interface LoadedNftRule {
  chain: string
  text: string
  comment?: string
  expr: Json[]
}

export interface LoadedNftChain {
  name: string
  hook?: string
  type?: string
  prio?: number
  rules: LoadedNftRule[]
}

/** A set or map: elements as [key, value] (value null for sets). */
export interface LoadedNftSet {
  name: string
  isMap: boolean
  timeout?: number
  elements: [Json, Json][]
}

/** One `kube-proxy` table of one family. */
export interface LoadedNftTable {
  family: string
  name: string
  chains: Map<string, LoadedNftChain>
  sets: Map<string, LoadedNftSet>
}

export type LoadedNft = Map<string, LoadedNftTable>

const tableKey = (family: string, name: string) => `${family} ${name}`

function tableOf(out: LoadedNft, family: string, name: string): LoadedNftTable {
  const k = tableKey(family, name)
  let t = out.get(k)
  if (!t) out.set(k, (t = { family, name, chains: new Map(), sets: new Map() }))
  return t
}

function chainOf(t: LoadedNftTable, name: string): LoadedNftChain {
  let c = t.chains.get(name)
  if (!c) t.chains.set(name, (c = { name, rules: [] }))
  return c
}

function setOf(t: LoadedNftTable, name: string, isMap: boolean): LoadedNftSet {
  let s = t.sets.get(name)
  if (!s) t.sets.set(name, (s = { name, isMap, elements: [] }))
  return s
}

/** Element list entries (`elem` of JSON) as [key, value] pairs. */
function elemPairs(elem: Json, isMap: boolean): [Json, Json][] {
  if (!Array.isArray(elem)) return []
  return elem.map((e) => (isMap && Array.isArray(e) ? [e[0] ?? null, e[1] ?? null] : [e, null]))
}

/** Reads libnftables JSON: the command form (`add`/`flush`/`delete`) or the `list ruleset` form. */
export function loadNftJSON(text: string): LoadedNft {
  const doc = JSON.parse(text) as { nftables?: Json[] }
  const out: LoadedNft = new Map()
  for (const item of doc.nftables ?? []) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) continue
    const [verb, body] = Object.entries(item)[0] ?? []
    if (!verb || body === undefined) continue
    if (verb === 'metainfo') continue
    if (['table', 'chain', 'rule', 'set', 'map', 'element'].includes(verb)) applyObject(out, 'add', verb, body)
    else if (body && typeof body === 'object' && !Array.isArray(body)) {
      for (const [kind, obj] of Object.entries(body)) applyObject(out, verb, kind, obj)
    }
  }
  return out
}

function applyObject(out: LoadedNft, verb: string, kind: string, o: Json): void {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return
  const family = String(o.family ?? 'ip')
  const tname = String(kind === 'table' ? o.name : o.table)
  if (kind === 'table') {
    if (verb === 'delete' || verb === 'destroy') out.delete(tableKey(family, tname))
    else if (verb === 'flush') for (const c of tableOf(out, family, tname).chains.values()) c.rules = []
    else tableOf(out, family, tname)
    return
  }
  const t = tableOf(out, family, tname)
  if (kind === 'chain') {
    const name = String(o.name)
    if (verb === 'delete' || verb === 'destroy') return void t.chains.delete(name)
    const c = chainOf(t, name)
    if (verb === 'flush') c.rules = []
    if (typeof o.hook === 'string') Object.assign(c, { hook: o.hook, type: String(o.type ?? 'filter'), prio: Number(o.prio ?? 0) })
    return
  }
  if (kind === 'rule') {
    const c = chainOf(t, String(o.chain))
    const expr = Array.isArray(o.expr) ? o.expr : []
    const rule: LoadedNftRule = { chain: c.name, text: JSON.stringify(expr), expr, ...(typeof o.comment === 'string' ? { comment: o.comment } : {}) }
    if (verb === 'insert') c.rules.unshift(rule)
    else if (verb === 'add' || verb === 'create') c.rules.push(rule)
    return
  }
  if (kind === 'set' || kind === 'map' || kind === 'element') {
    const name = String(o.name)
    if (kind !== 'element' && (verb === 'delete' || verb === 'destroy')) return void t.sets.delete(name)
    const s = setOf(t, name, kind === 'map' || (t.sets.get(name)?.isMap ?? false))
    if (kind === 'map') s.isMap = true
    if (typeof o.timeout === 'number') s.timeout = o.timeout
    if (verb === 'flush') s.elements = []
    else if (verb === 'delete' && kind === 'element') {
      const drop = new Set(elemPairs(o.elem ?? [], s.isMap).map(([k]) => JSON.stringify(k)))
      s.elements = s.elements.filter(([k]) => !drop.has(JSON.stringify(k)))
    } else s.elements.push(...elemPairs(o.elem ?? [], s.isMap))
  }
}

// ---------- text ----------

const NAMED_PRIORITY: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 }

/** Words of nft text: whitespace separated, with `{ } , ; :` split off (but not inside IPv6 words) and quotes kept together. */
export function nftWords(line: string): string[] {
  const out: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|[^\s"]+/g
  for (const m of line.matchAll(re)) {
    if (m[1] !== undefined) {
      out.push(`"${m[1]}`)
      continue
    }
    let w = m[0]
    const tail: string[] = []
    while (w.length > 1 && /[,;}]$/.test(w)) {
      tail.unshift(w.slice(-1))
      w = w.slice(0, -1)
    }
    while (w.length > 1 && w.startsWith('{')) {
      out.push('{')
      w = w.slice(1)
    }
    out.push(w, ...tail)
  }
  return out
}

const isQuoted = (w: string | undefined) => w !== undefined && w.startsWith('"')
const unquote = (w: string) => (w.startsWith('"') ? w.slice(1).replace(/\\(.)/g, '$1') : w)

/** A literal value: numbers (decimal, hex), prefixes, ranges, `@set`, or a string. */
function literal(w: string): Json {
  if (/^0x[0-9a-f]+$/i.test(w)) return Number.parseInt(w, 16)
  if (/^\d+$/.test(w)) return Number(w)
  if (w.startsWith('@')) return w
  const slash = /^(.+)\/(\d+)$/.exec(w)
  if (slash && (slash[1] as string).match(/[.:]/)) return { prefix: { addr: slash[1] as string, len: Number(slash[2]) } }
  const dash = /^([\d.]+|[0-9a-f:]+)-([\d.]+|[0-9a-f:]+)$/i.exec(w)
  if (dash && w.match(/[.:]/)) return { range: [dash[1] as string, dash[2] as string] }
  return isQuoted(w) ? unquote(w) : w
}

class Words {
  i = 0
  constructor(readonly w: string[]) {}
  peek(k = 0): string | undefined {
    return this.w[this.i + k]
  }
  next(): string {
    return this.w[this.i++] ?? ''
  }
  eat(x: string): boolean {
    if (this.peek() !== x) return false
    this.i++
    return true
  }
  done(): boolean {
    return this.i >= this.w.length
  }
}

const OPS = new Set(['==', '!=', '<', '>', '<=', '>=', 'eq', 'ne'])

/** One selector (`ip daddr`, `meta l4proto`, `th dport`, `fib saddr type`, `numgen random mod N`, …), or undefined. */
function selector(w: Words): Json | undefined {
  const a = w.peek()
  if ((a === 'ip' || a === 'ip6') && ['saddr', 'daddr'].includes(w.peek(1) ?? '')) {
    w.i += 2
    return { payload: { protocol: a, field: w.w[w.i - 1] as string } }
  }
  if ((a === 'th' || a === 'tcp' || a === 'udp' || a === 'sctp') && ['dport', 'sport'].includes(w.peek(1) ?? '')) {
    w.i += 2
    return { payload: { protocol: a, field: w.w[w.i - 1] as string } }
  }
  if (a === 'meta' && w.peek(1)) {
    w.i += 2
    return { meta: { key: w.w[w.i - 1] as string } }
  }
  if (a === 'mark' || a === 'iifname' || a === 'oifname' || a === 'l4proto' || a === 'nfproto' || a === 'iif') {
    w.i++
    return { meta: { key: a } }
  }
  if (a === 'ct' && ['state', 'status'].includes(w.peek(1) ?? '')) {
    w.i += 2
    return { ct: { key: w.w[w.i - 1] as string } }
  }
  if (a === 'fib') {
    w.i++
    const flags: string[] = []
    while (w.peek() && w.peek() !== 'type' && w.peek() !== 'oif' && w.peek() !== 'oifname') {
      const f = w.next()
      if (f !== '.') flags.push(f)
    }
    return { fib: { result: w.next(), flags } }
  }
  if (a === 'numgen') {
    w.i++
    const mode = w.next()
    w.eat('mod')
    const mod = Number(w.next())
    if (w.eat('offset')) w.next()
    return { numgen: { mode, mod } }
  }
  return undefined
}

/** A selector with `.` concatenation and `&`/`and` masks. */
function keyExpr(w: Words): Json | undefined {
  const parts: Json[] = []
  for (;;) {
    let s = selector(w)
    if (s === undefined) return parts.length ? { concat: parts } : undefined
    if (w.peek() === '&' || w.peek() === 'and') {
      w.next()
      s = { '&': [s, literal(w.next())] }
    }
    parts.push(s)
    if (!w.eat('.')) break
  }
  return parts.length === 1 ? (parts[0] as Json) : { concat: parts }
}

/** `a . b . c` of literals (an element key or a dnat target). */
function literalConcat(w: Words): Json {
  const parts: Json[] = [literal(w.next())]
  while (w.eat('.')) parts.push(literal(w.next()))
  return parts.length === 1 ? (parts[0] as Json) : { concat: parts }
}

function verdict(w: Words): Json | undefined {
  const a = w.peek()
  if (a === 'goto' || a === 'jump') {
    w.next()
    return { [a]: { target: unquote(w.next()) } }
  }
  if (a === 'drop' || a === 'accept' || a === 'return' || a === 'continue') {
    w.next()
    return { [a]: null }
  }
  return undefined
}

/**
 * Splits the next word at its commas: kube-proxy writes some anonymous sets without a space after
 * the comma (`{ 10.96.0.0/16,10.100.0.0/16 }`), which nftWords leaves as one word.
 */
function splitAtCommas(w: Words): void {
  const word = w.peek()
  if (word === undefined || isQuoted(word) || word === ',' || !word.includes(',')) return
  const parts = word.split(',').flatMap((p, i) => (i === 0 ? [p] : [',', p])).filter((p) => p !== '')
  w.w.splice(w.i, 1, ...parts)
}

/** `{ e1, e2 : v, … }` → [key, value] pairs; `w` is at `{`. */
function elements(w: Words): [Json, Json][] {
  const out: [Json, Json][] = []
  w.eat('{')
  while (!w.done() && !w.eat('}')) {
    splitAtCommas(w)
    if (w.eat(',')) continue
    let key = literalConcat(w)
    if (w.eat('comment')) key = { elem: { val: key, comment: unquote(w.next()) } }
    while (w.peek() === 'timeout' || w.peek() === 'expires') w.i += 2
    let value: Json = null
    if (w.eat(':')) value = verdict(w) ?? literalConcat(w)
    out.push([key, value])
  }
  return out
}

/** Parses one rule's statements (text after the chain name) into JSON statements. */
export function parseNftRule(text: string): { expr: Json[]; comment?: string } {
  const w = new Words(nftWords(text))
  const expr: Json[] = []
  let comment: string | undefined
  while (!w.done()) {
    const start = w.i
    const v = verdict(w)
    if (v !== undefined) {
      expr.push(v)
      continue
    }
    const a = w.peek() as string
    if (a === 'comment') {
      w.next()
      comment = unquote(w.next())
      continue
    }
    if (a === 'counter') {
      w.next()
      while (w.peek() === 'packets' || w.peek() === 'bytes') w.i += 2
      expr.push({ counter: null })
      continue
    }
    if (a === 'reject') {
      w.next()
      if (w.eat('with')) {
        while (!w.done() && !['comment', 'counter'].includes(w.peek() as string)) w.next()
      }
      expr.push({ reject: null })
      continue
    }
    if (a === 'masquerade') {
      w.next()
      const flags: string[] = []
      while (['fully-random', 'random', 'persistent', ','].includes(w.peek() ?? '')) {
        const f = w.next()
        if (f !== ',') flags.push(f)
      }
      expr.push({ masquerade: flags.length ? { flags: flags.length === 1 ? (flags[0] as string) : flags } : null })
      continue
    }
    if (a === 'update' || a === 'add') {
      w.next()
      const set = w.next()
      w.eat('{')
      const elem = keyExpr(w) ?? null
      while (!w.done() && !w.eat('}')) w.next()
      expr.push({ set: { op: a, elem, set } })
      continue
    }
    if (a === 'dnat') {
      w.next()
      const family = w.peek() === 'ip' || w.peek() === 'ip6' ? w.next() : undefined
      if (w.eat('addr')) {
        w.eat('.')
        w.eat('port')
      }
      w.eat('to')
      let addr: Json
      let port: Json | undefined
      if (w.peek() === 'numgen') {
        const key = keyExpr(w) ?? null
        w.eat('map')
        addr = { map: { key, data: { set: elements(w) } } }
      } else {
        const t = w.next()
        const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t)
        const v4 = /^([\d.]+)(?::(\d+))?$/.exec(t)
        const m = v6 ?? v4
        addr = m ? (m[1] as string) : t
        if (m?.[2]) port = Number(m[2])
      }
      expr.push({ dnat: { ...(family ? { family } : {}), addr, ...(port !== undefined ? { port } : {}) } })
      continue
    }
    const key = keyExpr(w)
    if (key !== undefined) {
      if (w.eat('vmap')) {
        expr.push({ vmap: { key, data: w.peek() === '{' ? { set: elements(w) } : literal(w.next()) } })
        continue
      }
      if (w.eat('set')) {
        // `meta mark set meta mark | 0x4000` / `mark set mark or 0x4000`
        const base = keyExpr(w)
        const op = w.next()
        const val = literal(w.next())
        const sym = op === 'or' ? '|' : op === 'xor' ? '^' : op === 'and' ? '&' : op
        expr.push({ mangle: { key, value: base === undefined ? val : { [sym]: [base, val] } } })
        continue
      }
      let op = '=='
      if (OPS.has(w.peek() ?? '')) op = w.next()
      if (op === 'eq') op = '=='
      if (op === 'ne') op = '!='
      let right: Json
      if (w.peek() === '{') right = { set: elements(w).map(([k]) => k) }
      else {
        const raw = w.next()
        right = raw.includes(',') && !raw.includes(':') ? raw.split(',') : literal(raw)
      }
      const isFlags = typeof key === 'object' && key !== null && !Array.isArray(key) && 'ct' in key
      expr.push({ match: { op: isFlags && op === '==' ? 'in' : op, left: key, right } })
      continue
    }
    if (w.i === start) {
      expr.push({ unknown: w.w.slice(w.i).join(' ') })
      break
    }
  }
  return { expr, ...(comment !== undefined ? { comment } : {}) }
}

function parsePrio(words: string[]): number {
  const i = words.indexOf('priority')
  if (i < 0) return 0
  const a = (words[i + 1] ?? '0').replace(/;$/, '')
  let base = NAMED_PRIORITY[a] ?? Number(a)
  const op = words[i + 2]
  if (op === '-' || op === '+') base += (op === '-' ? -1 : 1) * Number((words[i + 3] ?? '0').replace(/;$/, ''))
  return base
}

/** Reads nft text: the command script (`add rule ip kube-proxy …`) or the `nft list ruleset` block form. */
export function loadNftText(text: string): LoadedNft {
  const out: LoadedNft = new Map()
  // Join continuation lines of `elements = { …` blocks.
  const lines: string[] = []
  let pending = ''
  let depth = 0
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim()
    if (line === '' || line.startsWith('#')) continue
    if (pending) {
      pending += ` ${line}`
      depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0)
      if (depth <= 0) {
        lines.push(pending)
        pending = ''
      }
      continue
    }
    if (/^elements\s*=/.test(line)) {
      depth = (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0)
      if (depth > 0) pending = line
      else lines.push(line)
      continue
    }
    lines.push(line)
  }
  let table: LoadedNftTable | undefined
  let block: { kind: 'chain'; c: LoadedNftChain } | { kind: 'set'; s: LoadedNftSet } | undefined
  for (const line of lines) {
    const words = line.split(/\s+/)
    const [verb, kind] = words
    if (verb && ['add', 'create', 'insert', 'flush', 'delete', 'destroy'].includes(verb) && kind) {
      textCommand(out, verb, kind, line)
      continue
    }
    if (verb === 'table') {
      const [family, name] = words.length >= 4 ? [words[1] as string, words[2] as string] : ['ip', words[1] as string]
      table = tableOf(out, family, name)
      continue
    }
    if (line === '}') {
      if (block) block = undefined
      else table = undefined
      continue
    }
    if (!table) continue
    if ((verb === 'chain' || verb === 'set' || verb === 'map') && words[words.length - 1] === '{') {
      const name = unquote(words[1] ?? '')
      block = verb === 'chain' ? { kind: 'chain', c: chainOf(table, name) } : { kind: 'set', s: setOf(table, name, verb === 'map') }
      continue
    }
    if (!block) continue
    if (block.kind === 'chain') {
      if (verb === 'type' && words.includes('hook')) {
        Object.assign(block.c, { type: words[1], hook: words[words.indexOf('hook') + 1], prio: parsePrio(words) })
        continue
      }
      if (verb === 'policy' || verb === 'comment') continue
      const { expr, comment } = parseNftRule(line.replace(/\s+#\s*handle\s+\d+$/, ''))
      block.c.rules.push({ chain: block.c.name, text: line, expr, ...(comment !== undefined ? { comment } : {}) })
    } else {
      if (verb === 'timeout') block.s.timeout = parseSeconds(words[1] ?? '')
      if (verb === 'elements') block.s.elements.push(...elements(new Words(nftWords(line.replace(/^elements\s*=\s*/, '')))))
    }
  }
  return out
}

function parseSeconds(s: string): number {
  const m = /^(\d+)([smhd]?)/.exec(s.replace(/[;,]$/, ''))
  if (!m) return 0
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'] ?? 1)
}

function textCommand(out: LoadedNft, verb: string, kind: string, line: string): void {
  // add rule ip kube-proxy CHAIN <statements>
  const w = nftWords(line)
  if (kind === 'table') {
    const [family, name] = [w[2] ?? 'ip', w[3] ?? '']
    return applyObject(out, verb, 'table', { family, name })
  }
  const family = w[2] ?? 'ip'
  const tname = w[3] ?? ''
  const name = unquote(w[4] ?? '')
  const t = tableOf(out, family, tname)
  if (kind === 'rule') {
    const rest = line.slice(line.indexOf(w[4] ?? '') + (w[4] ?? '').length).trim()
    const { expr, comment } = parseNftRule(rest)
    const c = chainOf(t, name)
    const rule: LoadedNftRule = { chain: name, text: rest, expr, ...(comment !== undefined ? { comment } : {}) }
    if (verb === 'insert') c.rules.unshift(rule)
    else c.rules.push(rule)
    return
  }
  if (kind === 'chain') {
    if (verb === 'delete' || verb === 'destroy') return void t.chains.delete(name)
    const c = chainOf(t, name)
    if (verb === 'flush') c.rules = []
    if (w.includes('hook')) Object.assign(c, { type: w[w.indexOf('type') + 1], hook: w[w.indexOf('hook') + 1], prio: parsePrio(w) })
    return
  }
  if (kind === 'set' || kind === 'map' || kind === 'element') {
    if (kind !== 'element' && (verb === 'delete' || verb === 'destroy')) return void t.sets.delete(name)
    const s = setOf(t, name, kind === 'map' || (t.sets.get(name)?.isMap ?? false))
    if (kind === 'map') s.isMap = true
    const ti = w.indexOf('timeout')
    if (kind !== 'element' && ti >= 0) s.timeout = parseSeconds(w[ti + 1] ?? '')
    if (verb === 'flush') s.elements = []
    else if (kind === 'element') {
      const brace = line.indexOf('{')
      const els = elements(new Words(nftWords(line.slice(brace))))
      if (verb === 'delete') {
        const drop = new Set(els.map(([k]) => JSON.stringify(k)))
        s.elements = s.elements.filter(([k]) => !drop.has(JSON.stringify(k)))
      } else s.elements.push(...els)
    }
  }
}

/** Reads either format, telling them apart by the first character. */
export function loadNftRuleset(text: string): LoadedNft {
  return text.trimStart().startsWith('{') ? loadNftJSON(text) : loadNftText(text)
}
