/**
 * Model → iptables-restore text in one pass, for one-shot compiles (the CLI's `compile`): each
 * service port's fragment is compiled, spelled and dropped, so the IR of the whole ruleset never
 * lives at once. Same fragments and the same spelling as renderRuleset(compileRuleset(...)), so
 * the same bytes (emit.test.ts compares them on every fixture and on random clusters).
 */
import type { Family, ProxyModel } from '@kproxc/core'
import { compilePartsLazily } from './compile.js'
import { DEFAULT_OPTIONS, type IptablesOptions } from './options.js'
import { renderChainLines, renderRuleLines, renderTableText } from './render.js'

/** renderRuleset(compileRuleset(model, family, options)), without holding the IR. */
export function emitRulesetText(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS): string {
  const { fixed, ports, fragment } = compilePartsLazily(model, family, options)
  // Per-port texts are collected and joined once, so the result is one flat string.
  const filterRules = [renderRuleLines(fixed.head.filterRules)]
  const natChains = [renderChainLines(fixed.head.natChains)]
  const natRules = [renderRuleLines(fixed.head.natRules)]
  for (const sp of ports) {
    const f = fragment(sp)
    if (f.filterRules.length > 0) filterRules.push(renderRuleLines(f.filterRules))
    natChains.push(renderChainLines(f.natChains))
    natRules.push(renderRuleLines(f.natRules))
  }
  filterRules.push(renderRuleLines(fixed.tail.filterRules))
  natRules.push(renderRuleLines(fixed.tail.natRules))
  return (
    renderTableText('filter', renderChainLines(fixed.head.filterChains), filterRules.join(''), fixed.builtin.filter) +
    renderTableText('nat', natChains.join(''), natRules.join(''), fixed.builtin.nat)
  )
}
