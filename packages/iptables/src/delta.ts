import { changedFragments } from '@kproxc/core'
/**
 * The partial sync of kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go, reference §10):
 * an `iptables-restore --noflush` document that turns the kernel state of one compiled ruleset
 * into that of another. It declares (and so flushes) only the chains whose rules changed, refills
 * them, and deletes with `-X` the per-service chains no longer used. Unlike kube-proxy, unchanged
 * fixed chains are left out too, so a one-endpoint change writes a few chains, not all of
 * KUBE-SERVICES. Work is proportional to the change: ports whose fragment kept its identity (an
 * incremental compile with a FragmentCache) are skipped after one pointer comparison.
 *
 * The built-in jumps (INPUT → KUBE-FIREWALL, …) are not part of a delta: kube-proxy installs them
 * with separate commands at a full sync, and they depend only on options.
 */
import type { PortFragment, RulesetParts } from './compile.js'
import type { Rule } from './ir.js'
import { renderRule } from './render.js'

type TableName = 'filter' | 'nat'

/** Chains of one table in a delta, in output order. */
interface TableDelta {
  /** Declared (created or flushed): changed or new chains, then stale ones. */
  chains: string[]
  rules: Rule[]
  /** Chains deleted after the rules. */
  deleted: string[]
}

/** What changed between two compiles of one family, as chain sets (for tests and stats). */
export interface IptablesDelta {
  filter: TableDelta
  nat: TableDelta
}

/** The chains that differ between two compiles and the rules to refill them with. */
export function diffRuleset(old: RulesetParts, next: RulesetParts): IptablesDelta {
  const oldByKey = new Map<string, PortFragment>()
  const newByKey = new Map<string, PortFragment>()
  const changes = changedFragments(old.ports, next.ports)
  for (const c of changes) {
    if (c.old) oldByKey.set(c.key, c.old)
    if (c.next) newByKey.set(c.key, c.next)
  }
  const changedPorts = new Set(changes.map((c) => c.key))

  // Fixed chains: changed when the head, the tail or any changed port's share of them differs.
  const fixedChanged: Record<TableName, Set<string>> = { filter: new Set(), nat: new Set() }
  const fixedNat = new Set(next.head.natChains)
  const fixedFilter = new Set(next.head.filterChains)
  const noteDiff = (table: TableName, before: readonly Rule[], after: readonly Rule[], only?: ReadonlySet<string>) => {
    for (const [chain, text] of diffByChain(before, after, only)) if (text) fixedChanged[table].add(chain)
  }
  noteDiff('filter', old.head.filterRules, next.head.filterRules)
  noteDiff('filter', old.tail.filterRules, next.tail.filterRules)
  noteDiff('nat', old.head.natRules, next.head.natRules)
  noteDiff('nat', old.tail.natRules, next.tail.natRules)
  for (const key of changedPorts) {
    const o = oldByKey.get(key)
    const n = newByKey.get(key)
    noteDiff('filter', o?.filterRules ?? [], n?.filterRules ?? [])
    noteDiff('nat', o?.natRules ?? [], n?.natRules ?? [], fixedNat)
  }

  // Per-port chains: new or different content, and the old ones nobody uses any more.
  const portChanged = new Set<string>()
  const stale = new Set<string>()
  const newChains = new Set<string>()
  for (const key of changedPorts) {
    const o = oldByKey.get(key)
    const n = newByKey.get(key)
    for (const c of n?.natChains ?? []) newChains.add(c)
    const before = ownRules(o)
    const after = ownRules(n)
    for (const c of n?.natChains ?? []) {
      if (!(o?.natChains.includes(c)) || before.get(c) !== after.get(c)) portChanged.add(c)
    }
    for (const c of o?.natChains ?? []) stale.add(c)
  }
  for (const c of newChains) stale.delete(c)

  // Fixed chains that appear or disappear (options such as localhost NodePorts changed).
  const staleFixed = { filter: old.head.filterChains.filter((c) => !fixedFilter.has(c)), nat: old.head.natChains.filter((c) => !fixedNat.has(c)) }
  for (const c of next.head.filterChains) if (!old.head.filterChains.includes(c)) fixedChanged.filter.add(c)
  for (const c of next.head.natChains) if (!old.head.natChains.includes(c)) fixedChanged.nat.add(c)
  const keepDeclared = new Set(next.builtin.filter.chains)

  const filter: TableDelta = { chains: next.head.filterChains.filter((c) => fixedChanged.filter.has(c)), rules: [], deleted: [] }
  const nat: TableDelta = { chains: next.head.natChains.filter((c) => fixedChanged.nat.has(c)), rules: [], deleted: [] }
  const pick = (rules: readonly Rule[], table: TableName, out: Rule[]) => {
    if (fixedChanged[table].size === 0) return
    for (const r of rules) if (fixedChanged[table].has(r.chain)) out.push(r)
  }
  pick(next.head.filterRules, 'filter', filter.rules)
  pick(next.head.natRules, 'nat', nat.rules)
  const anyFixed = fixedChanged.filter.size > 0 || fixedChanged.nat.size > 0
  for (const { key, fragment } of next.ports) {
    const changed = newByKey.get(key) === fragment && changedPorts.has(key)
    if (!anyFixed && !changed) continue
    pick(fragment.filterRules, 'filter', filter.rules)
    if (changed) {
      for (const c of fragment.natChains) if (portChanged.has(c)) nat.chains.push(c)
      for (const r of fragment.natRules) if (fixedChanged.nat.has(r.chain) || portChanged.has(r.chain)) nat.rules.push(r)
    } else {
      pick(fragment.natRules, 'nat', nat.rules)
    }
  }
  pick(next.tail.filterRules, 'filter', filter.rules)
  pick(next.tail.natRules, 'nat', nat.rules)

  // kube-proxy declares stale chains (which flushes them, dropping their references) and deletes
  // them after all rules, so chains that referred to each other go in one restore.
  const staleList = [...stale].sort()
  nat.chains.push(...staleList)
  nat.deleted.push(...staleList)
  for (const c of staleFixed.filter) {
    filter.chains.push(c)
    if (!keepDeclared.has(c)) filter.deleted.push(c)
  }
  for (const c of staleFixed.nat) {
    nat.chains.push(c)
    nat.deleted.push(c)
  }
  return { filter, nat }
}

/** The `iptables-restore --noflush` text of a delta; empty when nothing changed. */
export function renderDelta(delta: IptablesDelta): string {
  let out = ''
  for (const [name, t] of [['filter', delta.filter], ['nat', delta.nat]] as const) {
    if (t.chains.length === 0 && t.rules.length === 0 && t.deleted.length === 0) continue
    out += `*${name}\n`
    for (const c of t.chains) out += `:${c} - [0:0]\n`
    for (const r of t.rules) out += `${renderRule(r)}\n`
    for (const c of t.deleted) out += `-X ${c}\n`
    out += 'COMMIT\n'
  }
  return out
}

/** diffRuleset then renderDelta: the partial-sync document from `old` to `next`. */
export function deltaRestore(old: RulesetParts, next: RulesetParts): string {
  return renderDelta(diffRuleset(old, next))
}


/** The rendered rules of a fragment's own chains, by chain. */
function ownRules(f: PortFragment | undefined): Map<string, string> {
  const out = new Map<string, string>()
  if (!f) return out
  const own = new Set(f.natChains)
  for (const r of f.natRules) if (own.has(r.chain)) out.set(r.chain, (out.get(r.chain) ?? '') + renderRule(r) + '\n')
  return out
}

/** Chains whose rule text differs between two rule lists (restricted to `only` when given). */
function diffByChain(before: readonly Rule[], after: readonly Rule[], only?: ReadonlySet<string>): Map<string, boolean> {
  const text = (rules: readonly Rule[]) => {
    const m = new Map<string, string>()
    for (const r of rules) if (!only || only.has(r.chain)) m.set(r.chain, (m.get(r.chain) ?? '') + renderRule(r) + '\n')
    return m
  }
  const a = text(before)
  const b = text(after)
  const out = new Map<string, boolean>()
  for (const [c, t] of a) out.set(c, b.get(c) !== t)
  for (const [c, t] of b) if (!a.has(c)) out.set(c, t !== '')
  return out
}
