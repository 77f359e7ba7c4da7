/**
 * The pure half of applying an iptables ruleset: from the desired tables and what `iptables-save`
 * prints now, the one `iptables-restore --noflush` payload that kube-proxy's sync would send
 * (pkg/proxy/iptables/proxier.go syncProxyRules). Nothing here runs a process; apply.ts does.
 * Shared on purpose with the IPVS backend, whose companion rules are applied the same way.
 */
import type { Family } from '@kproxc/core'
import { CHAIN_PREFIX } from './names.js'
import { renderRule } from './render.js'
import type { Ruleset } from './ir.js'

/** One table as kube-proxy owns it. */
export interface RestoreTable {
  table: 'filter' | 'nat'
  /** Declared with `:NAME - [0:0]`: created if missing, flushed if present, then refilled by `rules`. */
  chains: readonly string[]
  /** `-A CHAIN …` lines for the declared chains. */
  rules: readonly string[]
  /** Chains the jumps need that are created only when missing, never flushed (kubelet owns KUBE-FIREWALL). */
  ensureChains: readonly string[]
  /** `-A BUILTIN …` jumps from built-in chains, in the order they have on a fresh node. */
  jumps: readonly string[]
}

/** What one family should look like after the restore. */
export interface RestoreTarget {
  family: Family
  tables: readonly RestoreTable[]
  /** Chains of ours that may be deleted when no longer declared (kube-proxy: the per-service prefixes, nat only). */
  staleChain: (table: 'filter' | 'nat', chain: string) => boolean
}

/** One table as `iptables-save` printed it. */
export interface SavedTable {
  chains: readonly string[]
  /** `-A …` lines, in order. */
  rules: readonly string[]
}

/** The payload and what it will change, for reports and dry runs. */
export interface RestorePlan {
  family: Family
  /** Input for `iptables-restore --noflush` (IPv6: ip6tables-restore). */
  payload: string
  /** Tables the payload writes (each gets a snapshot for rollback). */
  tables: readonly ('filter' | 'nat')[]
  chainsWritten: number
  rulesWritten: number
  /** Jumps from built-in chains that were missing and are inserted (`table CHAIN rule`). */
  jumpsAdded: readonly string[]
  /** Chains created because a jump needs them. */
  chainsEnsured: readonly string[]
  /** Stale chains flushed and deleted (`table/CHAIN`). */
  chainsDeleted: readonly string[]
}

/** kube-proxy deletes only these when stale (proxier.go: isServiceChainName), and only in nat. */
const SERVICE_CHAIN_PREFIXES = Object.values(CHAIN_PREFIX)

/** iptables mode's stale-chain rule (reference iptables.md §10.3). */
export function isServiceChain(table: 'filter' | 'nat', chain: string): boolean {
  return table === 'nat' && SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p))
}

/** The restore target of an iptables-mode ruleset (the IR of compileRuleset). */
export function restoreTarget(ruleset: Ruleset): RestoreTarget {
  return {
    family: ruleset.family,
    tables: ruleset.tables.map((t) => ({
      table: t.name,
      chains: t.kubeProxy.chains,
      rules: t.kubeProxy.rules.map(renderRule),
      ensureChains: t.builtin.chains.filter((c) => !t.kubeProxy.chains.includes(c)),
      jumps: t.builtin.rules.map(renderRule),
    })),
    staleChain: isServiceChain,
  }
}

/** Reads `iptables-save` text into tables (comments and counters ignored). */
export function parseSave(text: string): Map<string, SavedTable> {
  const out = new Map<string, { chains: string[]; rules: string[] }>()
  let cur: { chains: string[]; rules: string[] } | undefined
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\[\d+:\d+\] /, '')
    if (line.startsWith('*')) {
      cur = { chains: [], rules: [] }
      out.set(line.slice(1).trim(), cur)
    } else if (!cur || line.startsWith('#') || line.trim() === '') {
      continue
    } else if (line.startsWith(':')) {
      cur.chains.push(line.slice(1).split(' ')[0] ?? '')
    } else if (line.startsWith('-A ')) {
      cur.rules.push(line)
    } else if (line === 'COMMIT') {
      cur = undefined
    }
  }
  return out
}

/**
 * Splits a rule line into words the way iptables-restore does (double quotes group, backslash
 * escapes inside them), so a rule compares equal however it was quoted.
 */
export function ruleWords(line: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i]
      else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') {
      quoted = true
      inWord = true
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) words.push(cur)
  return words
}

const sameRule = (a: string, b: string) => {
  const x = ruleWords(a)
  const y = ruleWords(b)
  return x.length === y.length && x.every((w, i) => w === y[i])
}

/**
 * Plans one restore. Declared chains are flushed and refilled (kube-proxy's full sync); missing jumps
 * are inserted at position 1 in reverse list order, which is what kube-proxy's sequence of
 * `iptables -C || iptables -I CHAIN 1` yields, and a jump already present is never added again;
 * stale chains get a declaration (flush) and `-X` after every rule, as proxier.go writes them.
 * Chains and rules of everyone else are not mentioned, so `--noflush` leaves them exactly as they are.
 */
export function planRestore(target: RestoreTarget, current: ReadonlyMap<string, SavedTable>): RestorePlan {
  const out: string[] = []
  const jumpsAdded: string[] = []
  const chainsEnsured: string[] = []
  const chainsDeleted: string[] = []
  let chainsWritten = 0
  let rulesWritten = 0
  for (const t of target.tables) {
    const saved = current.get(t.table) ?? { chains: [], rules: [] }
    const declared = new Set(t.chains)
    const ensure = t.ensureChains.filter((c) => !declared.has(c) && !saved.chains.includes(c))
    const stale = saved.chains.filter((c) => !declared.has(c) && target.staleChain(t.table, c)).sort()
    const missing = t.jumps.filter((j) => !saved.rules.some((r) => sameRule(r, j)))
    out.push(`*${t.table}`)
    for (const c of [...t.chains, ...ensure, ...stale]) out.push(`:${c} - [0:0]`)
    out.push(...t.rules)
    for (const c of stale) out.push(`-X ${c}`)
    for (const j of [...missing].reverse()) out.push(j.replace(/^-A (\S+)/, '-I $1 1'))
    out.push('COMMIT')
    chainsWritten += t.chains.length
    rulesWritten += t.rules.length
    chainsEnsured.push(...ensure.map((c) => `${t.table}/${c}`))
    chainsDeleted.push(...stale.map((c) => `${t.table}/${c}`))
    jumpsAdded.push(...missing.map((j) => `${t.table} ${j.slice(3)}`))
  }
  return {
    family: target.family,
    payload: `${out.join('\n')}\n`,
    tables: target.tables.map((t) => t.table),
    chainsWritten,
    rulesWritten,
    jumpsAdded,
    chainsEnsured,
    chainsDeleted,
  }
}

/**
 * The UDP endpoints (`ip:port`, IPv6 bracketed) that KUBE-SEP chains DNAT to, from restore or save
 * text: what `--conntrack` compares before and after an apply.
 */
export function udpDnatTargets(text: string): Set<string> {
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`-A ${CHAIN_PREFIX.sep}`)) continue
    const w = ruleWords(line)
    const p = w.indexOf('-p')
    const d = w.indexOf('--to-destination')
    if (p >= 0 && w[p + 1] === 'udp' && d >= 0 && w[d + 1]) out.add(w[d + 1] as string)
  }
  return out
}

/** Tables whose rules or chains differ between two saves (for rollback after a partial failure). */
export function changedTables(before: ReadonlyMap<string, SavedTable>, after: ReadonlyMap<string, SavedTable>, tables: readonly string[]): string[] {
  const key = (t: SavedTable | undefined) => JSON.stringify([t?.chains ?? [], t?.rules ?? []])
  return tables.filter((t) => key(before.get(t)) !== key(after.get(t)))
}

/** One table of a save, as text that `iptables-restore` (without --noflush) puts back exactly. */
export function tableSnapshot(saveText: string, table: string): string | undefined {
  const lines = saveText.split('\n')
  const start = lines.findIndex((l) => l.trim() === `*${table}`)
  if (start < 0) return undefined
  const end = lines.findIndex((l, i) => i > start && l.trim() === 'COMMIT')
  if (end < 0) return undefined
  return `${lines.slice(start, end + 1).join('\n')}\n`
}
