/**
 * What a full sync over an existing table needs to know of it, read from `nft -j list table`:
 * its chains (base specs, and the sets and maps their rules name) and its sets and maps (spec and
 * element count). Also the canonical form of a listing that tests compare: an in-place sync keeps
 * the kernel's order of creation and hands out new handles, neither of which is part of a table's
 * meaning.
 */

type Json = unknown

/** A chain of the listed table. */
export interface ListedChain {
  name: string
  base?: { type: string; hook: string; prio: number; policy?: string }
  /** Sets and maps its rules name (`@name`): they cannot be deleted before this chain is flushed. */
  setRefs: ReadonlySet<string>
}

/** A set or verdict map of the listed table. */
export interface ListedSet {
  name: string
  container: 'set' | 'map'
  /** Key types, one per concatenated part. */
  type: readonly string[]
  /** nft 1.0.6 lists `timeout` but not `dynamic` in JSON (it does in text). */
  flags: readonly string[]
  timeoutSeconds?: number
  elements: number
}

/** One family's kube-proxy table as the kernel holds it. */
export interface TableListing {
  chains: ReadonlyMap<string, ListedChain>
  sets: ReadonlyMap<string, ListedSet>
}

function objects(doc: Json): Record<string, Json>[] {
  const list = (doc as { nftables?: Json } | null)?.nftables
  if (!Array.isArray(list)) throw new Error('not an nft -j listing: no "nftables" array')
  return list.filter((x): x is Record<string, Json> => x !== null && typeof x === 'object')
}

function collectRefs(x: Json, into: Set<string>, depth: number): void {
  if (depth > 16 || x === null) return
  if (typeof x === 'string') {
    if (x.startsWith('@')) into.add(x.slice(1))
    return
  }
  if (typeof x !== 'object') return
  for (const v of Array.isArray(x) ? x : Object.values(x as Record<string, Json>)) collectRefs(v, into, depth + 1)
}

/** The chains and sets of `family table` in a listing; objects of other tables are ignored. */
export function parseTableListing(doc: Json, family: string, table: string): TableListing {
  const chains = new Map<string, ListedChain & { setRefs: Set<string> }>()
  const sets = new Map<string, ListedSet>()
  const ours = (o: Record<string, Json>) => o.family === family && o.table === table && typeof o.name === 'string'
  for (const item of objects(doc)) {
    const chain = item.chain as Record<string, Json> | undefined
    if (chain && ours(chain)) {
      const c: ListedChain & { setRefs: Set<string> } = { name: chain.name as string, setRefs: new Set() }
      if (typeof chain.hook === 'string') {
        c.base = { type: String(chain.type), hook: chain.hook, prio: Number(chain.prio) }
        if (typeof chain.policy === 'string') c.base.policy = chain.policy
      }
      chains.set(c.name, c)
    }
    for (const container of ['set', 'map'] as const) {
      const s = item[container] as Record<string, Json> | undefined
      if (!s || !ours(s)) continue
      const set: ListedSet = {
        name: s.name as string,
        container,
        type: Array.isArray(s.type) ? s.type.map(String) : [String(s.type)],
        flags: Array.isArray(s.flags) ? s.flags.map(String) : typeof s.flags === 'string' ? [s.flags] : [],
        elements: Array.isArray(s.elem) ? s.elem.length : 0,
      }
      if (typeof s.timeout === 'number') set.timeoutSeconds = s.timeout
      sets.set(set.name, set)
    }
  }
  for (const item of objects(doc)) {
    const rule = item.rule as Record<string, Json> | undefined
    if (!rule || rule.family !== family || rule.table !== table) continue
    const c = chains.get(rule.chain as string)
    if (c) collectRefs(rule.expr, c.setRefs, 0)
  }
  return { chains, sets }
}

/**
 * A listing as comparable text: handles dropped, objects sorted by kind and name, each chain's
 * rules in their order, elements sorted; with `dropAffinityElements`, the packet path's entries of
 * `affinity-*` sets (and their countdowns) left out.
 */
export function canonicalListing(doc: Json, opts: { dropAffinityElements?: boolean } = {}): string {
  const strip = (x: Json): Json => {
    if (Array.isArray(x)) return x.map(strip)
    if (x === null || typeof x !== 'object') return x
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(x as Record<string, Json>)) if (k !== 'handle' && k !== 'expires') out[k] = strip(v)
    return out
  }
  const heads: string[] = []
  const rules = new Map<string, string[]>()
  for (const item of objects(doc)) {
    if ('metainfo' in item) continue
    const [kind, raw] = Object.entries(item)[0] ?? ['?', null]
    const body = strip(raw) as Record<string, Json>
    if (kind === 'rule') {
      const key = `${String(body.family)} ${String(body.table)} ${String(body.chain)}`
      const list = rules.get(key) ?? []
      list.push(JSON.stringify(body))
      rules.set(key, list)
      continue
    }
    if ((kind === 'set' || kind === 'map') && Array.isArray(body.elem)) {
      if (opts.dropAffinityElements && String(body.name).startsWith('affinity-')) delete body.elem
      else body.elem = body.elem.map((e) => JSON.stringify(e)).sort().map((e) => JSON.parse(e) as Json)
    }
    heads.push(`${kind} ${String(body.family)} ${String(body.table ?? '')} ${String(body.name)} ${JSON.stringify(body)}`)
  }
  heads.sort()
  const chainRules = [...rules.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `rules ${k}\n  ${v.join('\n  ')}`)
  return `${[...heads, ...chainRules].join('\n')}\n`
}
