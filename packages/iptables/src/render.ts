/**
 * IR → iptables-restore text: the one place that spells rules. Pure and total: every string that
 * reaches a comment is quoted and escaped here, so no input can end a comment early or start a rule.
 */
import type { Match, Rule, Ruleset, Table, TableSection, Target } from './ir.js'
import { formatMark } from './names.js'

/** Marks the part of a table that kube-proxy installs with `iptables -I`, not iptables-restore. */
export const BUILTIN_JUMPS_HEADER = '# Jumps from built-in chains: kube-proxy inserts these with separate iptables commands.'

const SAFE_BARE = /^[A-Za-z0-9_./:@+-]+$/
// iptables-restore splits lines before parsing quotes, so control characters cannot be escaped.
const CONTROL = /[\u0000-\u001f\u007f]/g

/**
 * One comment as a single iptables-restore word. kube-proxy writes some comments with literal
 * quotes and the bare ServicePortName without; that spelling is kept whenever it is already safe.
 * Inside quotes iptables-restore honours backslash escapes, so `\` and `"` are escaped; control
 * characters (which would end the line) become `?`.
 */
export function commentWord(text: string, quoted: boolean): string {
  if (!quoted && SAFE_BARE.test(text)) return text
  let body = text
  if (/["\\\u0000-\u001f\u007f]/.test(body)) body = body.replace(/[\\"]/g, (c) => `\\${c}`).replace(CONTROL, '?')
  return `"${body}"`
}

type MatchOf<K extends Match['kind']> = Extract<Match, { kind: K }>
type TargetOf<K extends Target['kind']> = Extract<Target, { kind: K }>

const not = (negate: boolean) => (negate ? '! ' : '')

const MATCH: { [K in Match['kind']]: (m: MatchOf<K>) => string } = {
  comment: (m) => `-m comment --comment ${commentWord(m.text, m.quoted)}`,
  protocol: (m) => `-m ${m.protocol} -p ${m.protocol}`,
  address: (m) => `${not(m.negate)}${m.direction === 'source' ? '-s' : '-d'} ${m.address}`,
  inInterface: (m) => `${not(m.negate)}-i ${m.name}`,
  dport: (m) => `--dport ${m.port}`,
  addrtype: (m) => `-m addrtype ${m.direction === 'source' ? '--src-type' : '--dst-type'} LOCAL`,
  mark: (m) => `-m mark ${not(m.negate)}--mark ${formatMark(m.mark)}/${formatMark(m.mark)}`,
  conntrack: (m) => `-m conntrack ${not(m.negate)}--ctstate ${m.states.join(',')}`,
  recentSet: (m) => `-m recent --name ${m.name} --set`,
  recentCheck: (m) => `-m recent --name ${m.name} --rcheck --seconds ${m.seconds} --reap`,
  statistic: (m) => `-m statistic --mode random --probability ${m.probability}`,
  nfacct: (m) => `-m nfacct --nfacct-name ${m.name}`,
}

const TARGET: { [K in Target['kind']]: (t: TargetOf<K>) => string } = {
  jump: (t) => `-j ${t.chain}`,
  verdict: (t) => `-j ${t.verdict}`,
  dnat: (t) => `-j DNAT --to-destination ${t.destination}`,
  markOr: (t) => `-j MARK --or-mark ${formatMark(t.mark)}`,
  markXor: (t) => `-j MARK --xor-mark ${formatMark(t.mark)}`,
  masquerade: (t) => (t.randomFully ? '-j MASQUERADE --random-fully' : '-j MASQUERADE'),
}

/** One `-A` line, without the newline. */
export function renderRule(rule: Rule): string {
  let line = `-A ${rule.chain}`
  for (const m of rule.matches) line += ` ${(MATCH[m.kind] as (m: Match) => string)(m)}`
  if (rule.target) line += ` ${(TARGET[rule.target.kind] as (t: Target) => string)(rule.target)}`
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
  let out = `*${name}\n${chainLines}${ruleLines}`
  if (builtin.chains.length > 0 || builtin.rules.length > 0) out += `${BUILTIN_JUMPS_HEADER}\n${renderSection(builtin)}`
  return `${out}COMMIT\n`
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
