import type { IptablesDocument, IptablesRule, IptablesTable } from './ir.js'
import { BUILTIN_JUMPS_HEADER, commentWord } from './iptables-shared.js'

/**
 * `-A CHAIN args…`. Comment text goes through the iptables writer's quoting (kube-proxy quotes
 * every comment in IPVS mode), so no text can end a comment early.
 */
export function ruleLine(rule: IptablesRule): string {
  return ['-A', rule.chain, ...rule.args.map((a, i) => (rule.args[i - 1] === '--comment' ? commentWord(a, true) : a))].join(' ')
}

function renderTable(name: string, t: IptablesTable, out: string[]): void {
  out.push(`*${name}`)
  for (const chain of t.chains) out.push(`:${chain} - [0:0]`)
  for (const rule of t.rules) out.push(ruleLine(rule))
  if (t.builtin.length > 0) {
    out.push(BUILTIN_JUMPS_HEADER)
    for (const rule of t.builtin) out.push(ruleLine(rule))
  }
  out.push('COMMIT')
}

/**
 * The iptables-restore document: nat, then filter (kube-proxy's natChains, natRules, filterChains,
 * filterRules buffers), each optionally followed by the built-in jumps, as the iptables backend
 * writes them. Declaring a chain empties it, so the KUBE chains are rewritten whole.
 */
export function renderIptables(doc: IptablesDocument): string {
  const out: string[] = []
  renderTable('nat', doc.nat, out)
  renderTable('filter', doc.filter, out)
  return `${out.join('\n')}\n`
}
