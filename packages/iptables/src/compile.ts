/**
 * Model → IR: the rules kube-proxy's iptables mode writes for one family, in the order
 * syncProxyRules (pkg/proxy/iptables/proxier.go) writes them. Endpoint selection and verdicts come
 * from the core model; compile-port.ts spells one service port as chains and rules, context.ts the
 * fixed chains around them. With a FragmentCache, unchanged ports are not compiled again
 * (incremental.ts).
 */
import type { Family, FamilyModel, InputIssue, ProxyModel, ServicePortModel } from '@kproxc/core'
import type { PortFragment } from './compile-port.js'
import { type FixedParts, contextKey, familyContext, familyOf, fixedParts } from './context.js'
import { type LastCompile, compileEntry, remember, updateParts } from './incremental.js'
import type { Rule, Ruleset, Table } from './ir.js'
import { DEFAULT_OPTIONS, type IptablesOptions } from './options.js'
import { outputOrder } from './port-order.js'
import { assertValid, validateFamilyLevel, validatePort } from './validate.js'

export { LARGE_CLUSTER_ENDPOINTS } from './context.js'
export type { PortFragment } from './compile-port.js'

/**
 * A compiled family before its per-port fragments are concatenated: what incremental compiles
 * reuse and what `deltaRestore` compares. `compileRuleset` is `assembleRuleset(compileParts(...))`.
 */
export interface RulesetParts extends FixedParts {
  /** Service ports in output order (by ServicePortName, then protocol). */
  ports: readonly PortEntry[]
}

/** One service port of RulesetParts: its model key and fragment (shared between compiles). */
export interface PortEntry {
  readonly key: string
  readonly fragment: PortFragment
}

/**
 * Compiled fragments by the model's ServicePortModel object, with the family-level inputs they
 * were compiled under. Pass the same cache to successive compiles of models from one ModelStore:
 * ports whose model kept its identity are not compiled again (their output is the same bytes).
 */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: PortEntry }>
  /** The last compile per family, which the next one compares its port list with. */
  last?: Partial<Record<Family, LastCompile>>
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

/** Compiles one family of the model into the ruleset kube-proxy would restore. Throws KproxcError on bad input. */
export function compileRuleset(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS, cache?: FragmentCache): Ruleset {
  return assembleRuleset(compileParts(model, family, options, cache))
}

/** Concatenates the parts into the flat ruleset (the fragments' rule objects are shared, not copied). */
export function assembleRuleset(parts: RulesetParts): Ruleset {
  const filterRules: Rule[] = [...parts.head.filterRules]
  const natChains: string[] = [...parts.head.natChains]
  const natRules: Rule[] = [...parts.head.natRules]
  for (const { fragment: f } of parts.ports) {
    for (const r of f.filterRules) filterRules.push(r)
    for (const c of f.natChains) natChains.push(c)
    for (const r of f.natRules) natRules.push(r)
  }
  for (const r of parts.tail.filterRules) filterRules.push(r)
  for (const r of parts.tail.natRules) natRules.push(r)
  const filter: Table = { name: 'filter', kubeProxy: { chains: parts.head.filterChains, rules: filterRules }, builtin: parts.builtin.filter }
  const nat: Table = { name: 'nat', kubeProxy: { chains: natChains, rules: natRules }, builtin: parts.builtin.nat }
  return { family: parts.family, tables: [filter, nat] }
}

/** Model → parts; with a cache, only service ports without a fragment for these inputs are compiled. */
export function compileParts(model: ProxyModel, family: Family, options: IptablesOptions = DEFAULT_OPTIONS, cache?: FragmentCache): RulesetParts {
  const fam = familyOf(model, family)
  const last = cache?.last?.[family]
  return (last && cache && updateParts(model, fam, options, cache, last)) || compileAll(model, fam, options, cache)
}

/** Compiles every port that has no cached fragment for these inputs, then orders the ports. */
function compileAll(model: ProxyModel, fam: FamilyModel, options: IptablesOptions, cache: FragmentCache | undefined): RulesetParts {
  const all = fam.servicePorts
  const hits = new Array<{ inputs: string; entry: PortEntry } | undefined>(all.length)
  let totalEndpoints = 0
  for (let i = 0; i < all.length; i++) {
    const sp = all[i] as ServicePortModel
    totalEndpoints += sp.endpoints.length
    if (cache) hits[i] = cache.fragments.get(sp)
  }
  const ctx = familyContext(model, fam, options, totalEndpoints)
  const inputs = contextKey(ctx)
  const entries = new Array<PortEntry | undefined>(all.length)
  for (let i = 0; i < all.length; i++) {
    const hit = hits[i]
    if (hit && hit.inputs === inputs) entries[i] = hit.entry
  }
  // Validation is per port too: a cached fragment's port was valid when it was compiled.
  const issues: InputIssue[] = validateFamilyLevel(model, fam)
  for (let i = 0; i < all.length; i++) if (!entries[i]) validatePort(all[i] as ServicePortModel, fam.family, issues)
  assertValid(fam.family, issues)
  for (let i = 0; i < all.length; i++) if (!entries[i]) entries[i] = compileEntry(ctx, all[i] as ServicePortModel, inputs, cache)

  const order = outputOrder(all)
  const ports = order ? order.map((j) => entries[j] as PortEntry) : (entries as PortEntry[])
  const fixed = fixedParts(model, ctx)
  if (cache) remember(cache, model, fam, options, { inputs, totalEndpoints, fixed, ports, order })
  return { ...fixed, ports }
}
