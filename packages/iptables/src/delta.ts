/**
 * The partial sync of kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go, reference §10):
 * an `iptables-restore --noflush` document that turns the kernel state of one compiled ruleset
 * into that of another. It declares (and so flushes) only the chains whose rules changed, refills
 * them, and deletes with `-X` the per-service chains no longer used. Unlike kube-proxy, unchanged
 * fixed chains are left out too, so a one-endpoint change writes a few chains, not all of
 * KUBE-SERVICES. Work is proportional to the change: an incremental compile (a FragmentCache)
 * records which ports it changed, and the other ports are not looked at (between unrelated parts,
 * ports whose fragment kept its identity cost one pointer comparison).
 *
 * The built-in jumps (INPUT → KUBE-FIREWALL, …) are not part of a delta: kube-proxy installs them
 * with separate commands at a full sync, and they depend only on options.
 */
import type { FragmentChange } from '@kproxc/core'
import type { PortEntry, PortFragment, RulesetParts } from './compile.js'
import { portChanges } from './incremental.js'
import type { Rule } from './ir.js'
import { CHAINS } from './names.js'
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
  const changes = portChanges(old, next)
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
    // The fixed parts of an incremental compile are the same objects while their inputs are.
    if (before === after) return
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
  const writeChanged = (fragment: PortFragment) => {
    pick(fragment.filterRules, 'filter', filter.rules)
    for (const c of fragment.natChains) if (portChanged.has(c)) nat.chains.push(c)
    for (const r of fragment.natRules) if (fixedChanged.nat.has(r.chain) || portChanged.has(r.chain)) nat.rules.push(r)
  }
  pick(next.head.filterRules, 'filter', filter.rules)
  pick(next.head.natRules, 'nat', nat.rules)
  if (fixedChanged.filter.size > 0 || fixedChanged.nat.size > 0) {
    // A fixed chain is rewritten whole: every port's rules in it, in port order. The changed
    // ports come in the same order, so one index tells them apart (no lookup per port).
    const changedNext = changes.filter((c) => c.next !== undefined)
    let k = 0
    const ports = next.ports
    for (let i = 0; i < ports.length; i++) {
      const fragment = (ports[i] as PortEntry).fragment
      if (k < changedNext.length && (changedNext[k] as FragmentChange<PortFragment>).next === fragment) {
        k++
        writeChanged(fragment)
      } else {
        pickFixed(fragment, fixedNat, fixedChanged, filter.rules, nat.rules)
      }
    }
  } else {
    // Only the changed ports' own chains: changes come in the order of next.ports.
    for (const c of changes) if (c.next) writeChanged(c.next)
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
  const lines: string[] = []
  for (const [name, t] of [['filter', delta.filter], ['nat', delta.nat]] as const) {
    if (t.chains.length === 0 && t.rules.length === 0 && t.deleted.length === 0) continue
    lines.push(`*${name}`)
    for (const c of t.chains) lines.push(`:${c} - [0:0]`)
    for (let i = 0; i < t.rules.length; i++) lines.push(ruleText(t.rules[i] as Rule))
    for (const c of t.deleted) lines.push(`-X ${c}`)
    lines.push('COMMIT')
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}

// A fixed chain such as KUBE-SERVICES is rewritten whole (a rule or two per service) whenever a
// Service comes or goes. Rules are immutable and shared between compiles, so the text of rules in
// fixed chains is kept, and after the first such delta those lines are not spelled again. (Only
// theirs: kept for every rule, the texts would grow to the size of the whole ruleset.)
const FIXED = new Set<string>(Object.values(CHAINS))
const texts = new WeakMap<Rule, string>()
function ruleText(rule: Rule): string {
  if (!FIXED.has(rule.chain)) return renderRule(rule)
  let text = texts.get(rule)
  if (text === undefined) {
    text = renderRule(rule)
    // A spelled rule is a tree of concatenated pieces that every join walks again (half of a
    // KUBE-SERVICES rewrite went there); reading a character makes V8 flatten it in place once.
    text.charCodeAt(0)
    texts.set(rule, text)
  }
  return text
}

/** diffRuleset then renderDelta: the partial-sync document from `old` to `next`. */
export function deltaRestore(old: RulesetParts, next: RulesetParts): string {
  return renderDelta(diffRuleset(old, next))
}


/** An unchanged port's rules in the fixed chains that are rewritten. */
function pickFixed(f: PortFragment, fixedNat: ReadonlySet<string>, changed: Record<TableName, Set<string>>, filter: Rule[], nat: Rule[]): void {
  if (changed.filter.size > 0) {
    for (let i = 0; i < f.filterRules.length; i++) {
      const r = f.filterRules[i] as Rule
      if (changed.filter.has(r.chain)) filter.push(r)
    }
  }
  if (changed.nat.size === 0) return
  // A port's rules in fixed chains come before those in its own chains (compile-port.ts).
  for (let i = 0; i < f.natRules.length; i++) {
    const r = f.natRules[i] as Rule
    if (!fixedNat.has(r.chain)) break
    if (changed.nat.has(r.chain)) nat.push(r)
  }
}

/** The rendered rules of a fragment's own chains, by chain. */
function ownRules(f: PortFragment | undefined): Map<string, string> {
  const out = new Map<string, string>()
  if (!f) return out
  const own = new Set(f.natChains)
  for (const r of f.natRules) if (own.has(r.chain)) out.set(r.chain, (out.get(r.chain) ?? '') + ruleText(r) + '\n')
  return out
}

/** Chains whose rule text differs between two rule lists (restricted to `only` when given). */
function diffByChain(before: readonly Rule[], after: readonly Rule[], only?: ReadonlySet<string>): Map<string, boolean> {
  const text = (rules: readonly Rule[]) => {
    const m = new Map<string, string>()
    for (const r of rules) if (!only || only.has(r.chain)) m.set(r.chain, (m.get(r.chain) ?? '') + ruleText(r) + '\n')
    return m
  }
  const a = text(before)
  const b = text(after)
  const out = new Map<string, boolean>()
  for (const [c, t] of a) out.set(c, b.get(c) !== t)
  for (const [c, t] of b) if (!a.has(c)) out.set(c, t !== '')
  return out
}
