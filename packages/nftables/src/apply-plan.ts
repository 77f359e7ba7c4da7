/**
 * The pure half of applying nftables mode: the compiled rulesets of every family joined into one
 * `nft -j -f` transaction. A family without a `kube-proxy` table gets the compiled ruleset as is,
 * which creates the table whole (add, delete, add: kube-proxy's first full sync); a family whose
 * table is listed gets kube-proxy's full sync over the existing table instead (apply-full.ts),
 * which keeps the affinity sets and so the ClientIP sessions. Either way one transaction changes
 * every family atomically and never names another table. apply.ts reads the tables and runs it.
 */
import { type FullSyncOptions, type FullSyncSummary, planFullSync } from './apply-full.js'
import type { NftFamily, Ruleset } from './ir.js'
import { renderJSON } from './render-json.js'
import { type TableListing, parseTableListing } from './table-listing.js'

/** One transaction for all families. */
export interface NftPlan {
  /** libnftables JSON for `nft -j -f -`. */
  payload: string
  /** `ip kube-proxy`, `ip6 kube-proxy`. */
  tables: readonly string[]
  /** What the tables hold afterwards: chains, rules, sets and maps, and the elements added. */
  counts: { chains: number; rules: number; sets: number; elements: number }
}

const HEAD = '{"nftables":[\n'
const TAIL = '\n]}\n'

/** Joins the families' documents (their command lists concatenated, in family order). */
export function planTransaction(rulesets: readonly Ruleset[]): NftPlan {
  const bodies: string[] = []
  const counts = { chains: 0, rules: 0, sets: 0, elements: 0 }
  for (const rs of rulesets) {
    const doc = renderJSON(rs)
    if (!doc.startsWith(HEAD) || !doc.endsWith(TAIL)) throw new Error('renderJSON changed its envelope')
    bodies.push(doc.slice(HEAD.length, doc.length - TAIL.length))
    for (const op of rs.ops) {
      if (op.kind === 'addRule') counts.rules++
      else if (op.kind === 'addSet') counts.sets++
      else if (op.kind === 'addElement') counts.elements++
    }
  }
  // A full sync adds each base chain twice (re-created, then specified); count distinct chains.
  counts.chains = new Set(rulesets.flatMap((rs) => rs.ops.flatMap((o) => (o.kind === 'addChain' ? [`${rs.family} ${o.name}`] : [])))).size
  return {
    payload: `${HEAD}${bodies.filter((b) => b !== '').join(',\n')}${TAIL}`,
    tables: rulesets.map((rs) => `${rs.family} ${rs.table}`),
    counts,
  }
}

/** How one family's table is brought to the compiled state. */
export type FamilyPlan =
  | { family: NftFamily; table: string; kind: 'replace' }
  | { family: NftFamily; table: string; kind: 'in-place'; listed: TableListing; summary: FullSyncSummary }

/** The transaction, and per family whether it replaces or updates the table. */
export interface ApplyPlan extends NftPlan {
  families: readonly FamilyPlan[]
}

/**
 * One transaction for all families: `listings[i]` is `nft -j list table` output for `rulesets[i]`'s
 * table, or null when the kernel has none.
 */
export function planApply(rulesets: readonly Ruleset[], listings: readonly unknown[], opts: FullSyncOptions = {}): ApplyPlan {
  const families: FamilyPlan[] = []
  const planned = rulesets.map((rs, i) => {
    const doc = listings[i] ?? null
    if (doc === null) {
      families.push({ family: rs.family, table: rs.table, kind: 'replace' })
      return rs
    }
    const listed = parseTableListing(doc, rs.family, rs.table)
    const full = planFullSync(rs, listed, opts)
    families.push({ family: rs.family, table: rs.table, kind: 'in-place', listed, summary: full.summary })
    return full.ruleset
  })
  const plan = planTransaction(planned)
  // Kept affinity sets are part of the table the transaction leaves, though it does not add them.
  for (const f of families) if (f.kind === 'in-place') plan.counts.sets += f.summary.keptAffinitySets
  return { ...plan, families }
}

/** The deletes of the stale chains a plan with `deferStaleChains` left flushed ('' when none). */
export function staleChainDeletes(plan: ApplyPlan): string {
  const rulesets: Ruleset[] = []
  for (const f of plan.families) {
    if (f.kind === 'in-place' && f.summary.staleChains.length > 0) {
      rulesets.push({ family: f.family, table: f.table, ops: f.summary.staleChains.map((name) => ({ kind: 'deleteChain', name })) })
    }
  }
  return rulesets.length === 0 ? '' : planTransaction(rulesets).payload
}

type Json = unknown

/** Every rule's expression list in a JSON document: `add` commands of a payload, or `nft -j list` output. */
function ruleExprs(doc: Json): Json[][] {
  const out: Json[][] = []
  const list = (doc as { nftables?: Json[] } | null)?.nftables
  if (!Array.isArray(list)) return out
  for (const item of list) {
    const o = item as Record<string, Json>
    const rule = ((o.add as Record<string, Json> | undefined)?.rule ?? o.rule) as { expr?: Json[] } | undefined
    if (rule && Array.isArray(rule.expr)) out.push(rule.expr)
  }
  return out
}

/**
 * Endpoints (`ip:port`, IPv6 bracketed) that UDP rules DNAT to: `meta l4proto udp` with either a
 * plain `dnat to IP:PORT` (endpoint chains) or the `numgen … map { N : IP . PORT }` form of the
 * service chains. Read from the rules, not the chain names, which kube-proxy truncates.
 */
export function udpDnatTargets(doc: Json): Set<string> {
  const out = new Set<string>()
  const join = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`)
  const collect = (x: Json, into: string[], depth: number): void => {
    if (depth > 12 || x === null || typeof x !== 'object') return
    const o = x as Record<string, Json>
    if (typeof o.addr === 'string' && typeof o.port === 'number') into.push(join(o.addr, o.port))
    const c = o.concat
    if (Array.isArray(c) && c.length === 2 && typeof c[0] === 'string' && typeof c[1] === 'number') into.push(join(c[0], c[1]))
    for (const v of Array.isArray(x) ? x : Object.values(o)) collect(v, into, depth + 1)
  }
  for (const expr of ruleExprs(doc)) {
    let udp = false
    const targets: string[] = []
    for (const e of expr) {
      const s = e as Record<string, Record<string, Json>>
      const m = s.match
      if (m && JSON.stringify(m.left) === '{"meta":{"key":"l4proto"}}' && m.right === 'udp' && m.op === '==') udp = true
      if (s.dnat) collect(s.dnat, targets, 0)
    }
    if (udp) for (const t of targets) out.add(t)
  }
  return out
}
