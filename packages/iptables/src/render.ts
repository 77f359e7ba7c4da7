/**
 * IR → iptables-restore text: the one place that spells rules. Pure and total: every string that
 * reaches a comment is quoted and escaped here, so no input can end a comment early or start a rule.
 */
import type { IptProtocol, Match, Rule, Ruleset, Table, TableSection, Target } from './ir.js'
import { formatMark } from './names.js'

/** Marks the part of a table that kube-proxy installs with `iptables -I`, not iptables-restore. */
export const BUILTIN_JUMPS_HEADER = '# Jumps from built-in chains: kube-proxy inserts these with separate iptables commands.'

const SAFE_BARE = /^[A-Za-z0-9_./:@+-]+$/
// iptables-restore splits lines before parsing quotes, so control characters cannot be escaped.
const CONTROL = /[\u0000-\u001f\u007f]/g
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f]/

/**
 * One comment as a single iptables-restore word. kube-proxy writes some comments with literal
 * quotes and the bare ServicePortName without; that spelling is kept whenever it is already safe.
 * Inside quotes iptables-restore honours backslash escapes, so `\` and `"` are escaped; control
 * characters (which would end the line) become `?`.
 */
export function commentWord(text: string, quoted: boolean): string {
  if (!quoted && SAFE_BARE.test(text)) return text
  let body = text
  if (NEEDS_ESCAPE.test(body)) body = body.replace(/[\\"]/g, (c) => `\\${c}`).replace(CONTROL, '?')
  return `"${body}"`
}

const not = (negate: boolean) => (negate ? '! ' : '')

/**
 * The words of each match and target, from their fields. renderRule spells IR objects through
 * these, and the streaming emit (spell-port.ts) calls them directly, so both spell alike.
 */
export const WORDS = {
  comment: (text: string, quoted: boolean) => `-m comment --comment ${commentWord(text, quoted)}`,
  protocol: (p: IptProtocol) => `-m ${p} -p ${p}`,
  address: (direction: 'source' | 'destination', address: string, negate: boolean) => `${not(negate)}${direction === 'source' ? '-s' : '-d'} ${address}`,
  inInterface: (name: string, negate: boolean) => `${not(negate)}-i ${name}`,
  dport: (port: number) => `--dport ${port}`,
  addrtype: (direction: 'source' | 'destination') => `-m addrtype ${direction === 'source' ? '--src-type' : '--dst-type'} LOCAL`,
  mark: (mark: number, negate: boolean) => `-m mark ${not(negate)}--mark ${formatMark(mark)}/${formatMark(mark)}`,
  conntrack: (states: readonly string[], negate: boolean) => `-m conntrack ${not(negate)}--ctstate ${states.join(',')}`,
  recentSet: (name: string) => `-m recent --name ${name} --set`,
  recentCheck: (name: string, seconds: number) => `-m recent --name ${name} --rcheck --seconds ${seconds} --reap`,
  statistic: (probability: string) => `-m statistic --mode random --probability ${probability}`,
  nfacct: (name: string) => `-m nfacct --nfacct-name ${name}`,
  jump: (chain: string) => `-j ${chain}`,
  verdict: (verdict: string) => `-j ${verdict}`,
  dnat: (destination: string) => `-j DNAT --to-destination ${destination}`,
  markOr: (mark: number) => `-j MARK --or-mark ${formatMark(mark)}`,
  markXor: (mark: number) => `-j MARK --xor-mark ${formatMark(mark)}`,
  masquerade: (randomFully: boolean) => (randomFully ? '-j MASQUERADE --random-fully' : '-j MASQUERADE'),
} as const

type MatchOf<K extends Match['kind']> = Extract<Match, { kind: K }>
type TargetOf<K extends Target['kind']> = Extract<Target, { kind: K }>

const MATCH: { [K in Match['kind']]: (m: MatchOf<K>) => string } = {
  comment: (m) => WORDS.comment(m.text, m.quoted),
  protocol: (m) => WORDS.protocol(m.protocol),
  address: (m) => WORDS.address(m.direction, m.address, m.negate),
  inInterface: (m) => WORDS.inInterface(m.name, m.negate),
  dport: (m) => WORDS.dport(m.port),
  addrtype: (m) => WORDS.addrtype(m.direction),
  mark: (m) => WORDS.mark(m.mark, m.negate),
  conntrack: (m) => WORDS.conntrack(m.states, m.negate),
  recentSet: (m) => WORDS.recentSet(m.name),
  recentCheck: (m) => WORDS.recentCheck(m.name, m.seconds),
  statistic: (m) => WORDS.statistic(m.probability),
  nfacct: (m) => WORDS.nfacct(m.name),
}

const TARGET: { [K in Target['kind']]: (t: TargetOf<K>) => string } = {
  jump: (t) => WORDS.jump(t.chain),
  verdict: (t) => WORDS.verdict(t.verdict),
  dnat: (t) => WORDS.dnat(t.destination),
  markOr: (t) => WORDS.markOr(t.mark),
  markXor: (t) => WORDS.markXor(t.mark),
  masquerade: (t) => WORDS.masquerade(t.randomFully),
}

/** One match as its words. */
export function renderMatch(m: Match): string {
  return (MATCH[m.kind] as (m: Match) => string)(m)
}

/** One target as its words. */
export function renderTarget(t: Target): string {
  return (TARGET[t.kind] as (t: Target) => string)(t)
}

/** One `-A` line, without the newline. */
export function renderRule(rule: Rule): string {
  let line = `-A ${rule.chain}`
  const matches = rule.matches
  for (let i = 0; i < matches.length; i++) line += ` ${renderMatch(matches[i] as Match)}`
  if (rule.target) line += ` ${renderTarget(rule.target)}`
  return line
}

// Lines are joined, not appended: join returns one flat string, while `+=` keeps every piece of
// every line alive in a rope until the end (10^6 small strings the GC copies on large clusters).

/** `:NAME - [0:0]` lines. */
export function renderChainLines(chains: readonly string[]): string {
  if (chains.length === 0) return ''
  const lines = new Array<string>(chains.length)
  for (let i = 0; i < chains.length; i++) lines[i] = `:${chains[i]} - [0:0]\n`
  return lines.join('')
}

/** `-A` lines. */
export function renderRuleLines(rules: readonly Rule[]): string {
  if (rules.length === 0) return ''
  const lines = new Array<string>(rules.length)
  for (let i = 0; i < rules.length; i++) lines[i] = renderRule(rules[i] as Rule)
  return `${lines.join('\n')}\n`
}

function renderSection(section: TableSection): string {
  return renderChainLines(section.chains) + renderRuleLines(section.rules)
}

/** One table from its already spelled chain and rule lines (renderRuleset and the streaming emit share it). */
export function renderTableText(name: Table['name'], chainLines: string, ruleLines: string, builtin: TableSection): string {
  return `${tableHead(name)}${chainLines}${ruleLines}${tableTail(builtin)}`
}

/** The line that opens a table. */
export function tableHead(name: Table['name']): string {
  return `*${name}\n`
}

/** What closes a table after kube-proxy's lines: the built-in jumps, if any, and COMMIT. */
export function tableTail(builtin: TableSection): string {
  const jumps = builtin.chains.length > 0 || builtin.rules.length > 0 ? `${BUILTIN_JUMPS_HEADER}\n${renderSection(builtin)}` : ''
  return `${jumps}COMMIT\n`
}

function renderTable(table: Table): string {
  return renderTableText(table.name, renderChainLines(table.kubeProxy.chains), renderRuleLines(table.kubeProxy.rules), table.builtin)
}

/** The whole document: filter, then nat, each ending in COMMIT; LF line ends and a final newline. */
export function renderRuleset(ruleset: Ruleset): string {
  let out = ''
  for (const t of ruleset.tables) out += renderTable(t)
  return out
}
