/**
 * @kproxc/iptables: the proxy model compiled into the iptables-restore document kube-proxy's
 * iptables mode writes (pkg/proxy/iptables/proxier.go). Pure: compile (model → IR) and render
 * (IR → text); nothing here touches the host.
 */
import type { Backend } from '@kproxc/core'
import { BACKEND_OPTIONS, readOptions } from './options.js'
import { emitRulesetText } from './emit.js'

export { compileRuleset, LARGE_CLUSTER_ENDPOINTS } from './compile.js'
export { assembleRuleset, compileParts, createFragmentCache, type FragmentCache, type PortFragment, type RulesetParts } from './compile.js'
export { deltaRestore, diffRuleset, renderDelta, type IptablesDelta } from './delta.js'
export { emitRulesetText } from './emit.js'
export { renderRuleset, renderRule, commentWord, BUILTIN_JUMPS_HEADER } from './render.js'
export { DEFAULT_OPTIONS, BACKEND_OPTIONS, readOptions, type IptablesOptions } from './options.js'
export { CHAINS, CHAIN_PREFIX, MAX_CHAIN_NAME, NFACCT, endpointChain, formatMark, servicePortChains, servicePortHash } from './names.js'
export { probability, formatFixed10 } from './probability.js'
export { sortLikeUpstream } from './upstream-order.js'
export type { IptProtocol, Match, Rule, Ruleset, Table, TableSection, Target } from './ir.js'
export * from './trace.js'

/** The file name the CLI and the golden fixtures use. */
export const OUTPUT_FILE = 'iptables.rules'

/** The iptables backend as the CLI sees it. */
export const backend: Backend = {
  mode: 'iptables',
  formats: ['text'],
  multiFile: false,
  options: BACKEND_OPTIONS,
  emit(model, request) {
    return [{ name: OUTPUT_FILE, content: emitRulesetText(model, request.family, readOptions(request.options)) }]
  },
}
