/**
 * Model → iptables-restore text in one pass, for one-shot compiles (the CLI's `compile`): each
 * service port is spelled straight to text (spell-port.ts) and the IR of the ruleset never exists.
 * Same rules, order and spelling as renderRuleset(compileRuleset(...)), so the same bytes
 * (emit.test.ts compares them on every fixture and on random clusters).
 */
import type { Family, InputIssue, ProxyModel, ServicePortModel } from '@kproxc/core'
import { outputOrder } from './port-order.js'
import { familyContext, familyOf, fixedParts } from './context.js'
import { DEFAULT_OPTIONS, type IptablesOptions } from './options.js'
import { renderChainLines, renderRuleLines, tableHead, tableTail } from './render.js'
import { type SpelledSections, spellContext, spellServicePort } from './spell-port.js'
import { TextSink } from './text-sink.js'
import { assertValid, validateFamilyLevel, validatePort } from './validate.js'

/** renderRuleset(compileRuleset(model, family, options)), without building the IR. */
export function emitRulesetText(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS): string {
  const fam = familyOf(model, family)
  const all = fam.servicePorts
  let totalEndpoints = 0
  for (const sp of all) totalEndpoints += sp.endpoints.length
  const issues: InputIssue[] = validateFamilyLevel(model, fam)
  for (const sp of all) validatePort(sp, family, issues)
  assertValid(family, issues)
  const ctx = familyContext(model, fam, options, totalEndpoints)
  const fixed = fixedParts(model, ctx)
  const sc = spellContext(ctx)

  const out: SpelledSections = { filterRules: new TextSink(), natChains: new TextSink(), natRules: new TextSink() }
  out.filterRules.text(renderRuleLines(fixed.head.filterRules))
  out.natChains.text(renderChainLines(fixed.head.natChains))
  out.natRules.text(renderRuleLines(fixed.head.natRules))
  const order = outputOrder(all)
  for (let i = 0; i < all.length; i++) spellServicePort(sc, all[order ? (order[i] as number) : i] as ServicePortModel, out)
  out.filterRules.text(renderRuleLines(fixed.tail.filterRules))
  out.natRules.text(renderRuleLines(fixed.tail.natRules))
  for (const sink of [out.filterRules, out.natChains, out.natRules]) sink.flush()
  // One join of every piece: the caller gets one flat string, copied once.
  return [
    tableHead('filter'),
    renderChainLines(fixed.head.filterChains),
    ...out.filterRules.chunks,
    tableTail(fixed.builtin.filter),
    tableHead('nat'),
    ...out.natChains.chunks,
    ...out.natRules.chunks,
    tableTail(fixed.builtin.nat),
  ].join('')
}
