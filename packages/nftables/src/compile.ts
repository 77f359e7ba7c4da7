/**
 * ProxyModel → nftables IR, reproducing the cold-start full-sync transaction of kube-proxy's
 * nftables proxier (pkg/proxy/nftables/proxier.go, v1.36 layout: DNAT through numgen maps in the
 * service chains, endpoint chains only for session affinity, `hairpin-connections`, masquerade
 * marking inlined). Endpoint selection and verdicts come from the core model; nothing here
 * re-derives them. The fixed part is in compile-head.ts, the per-service-port part in
 * compile-port.ts; this file puts them together, with a cache for incremental compiles.
 */
import { type Family, type FamilyModel, type FragmentChange, KproxcError, type ProxyModel, type ServicePortModel, alignPortEntries, changedFragments, parseCIDR, sortAddresses } from '@kproxc/core'
import { TABLE } from './names.js'
import type { NftFamily, Op, Ruleset } from './ir.js'
import { checkRuleset } from './check.js'
import { type HeadInputs, compileHead } from './compile-head.js'
import { type PortInputs, PortCompiler } from './compile-port.js'
import { Replay, type Step, StepRecorder } from './replay.js'

export { elementKey, type Step } from './replay.js'

/** Inputs that are not (yet) part of the core model. */
export interface CompileOptions {
  family: Family
  /**
   * ServiceCIDRs added to the model's (which come from ServiceCIDR objects in the input), for
   * inputs without those objects; any family, the other family's are ignored. With none from
   * either source there is no "drop traffic to unallocated ClusterIPs" rule, as upstream before it
   * has seen any ServiceCIDR.
   */
  serviceCIDRs?: readonly string[]
}

/** The steps of one service port. */
export interface PortFragment {
  readonly steps: readonly Step[]
}

/** A service port's key and fragment. */
export interface PortEntry {
  readonly key: string
  readonly fragment: PortFragment
}

/** A compiled family before the per-port steps are replayed into one transaction. */
export interface RulesetParts {
  family: NftFamily
  table: string
  /** The fixed part (table, base and fixed chains, sets and maps, their rules). */
  head: readonly Op[]
  /** Service ports in model order. */
  ports: readonly PortEntry[]
}

/**
 * Fragments by the model's ServicePortModel object and the family-level inputs they were compiled
 * under; pass one cache to successive compiles of models from one ModelStore.
 */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: PortEntry }>
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

/** Compiles one family of the model into the ordered operations of one transaction. */
export function compile(model: ProxyModel, options: CompileOptions, cache?: FragmentCache): Ruleset {
  return assembleRuleset(compileParts(model, options, cache))
}

/** What one family compiles from: the fixed part's and the service ports' inputs, and the ports. */
export function familyInputs(model: ProxyModel, options: CompileOptions): { family: NftFamily; head: HeadInputs; port: PortInputs; servicePorts: readonly ServicePortModel[] } {
  const fam: FamilyModel | undefined = model.families.find((f) => f.family === options.family)
  if (!fam) {
    throw new KproxcError('USAGE', `the model has no ${options.family} section (computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  const { masqueradeMark, masqueradeAll } = model.config
  return {
    family: fam.family === 'IPv4' ? 'ip' : 'ip6',
    head: { family: fam.family, masqueradeMark, masqueradeAll, localDetector: fam.localDetector, nodePortAddresses: fam.nodePortAddresses, serviceCIDRs: familyServiceCIDRs(fam, options) },
    port: { family: fam.family, masqueradeMark, localDetector: fam.localDetector },
    servicePorts: fam.servicePorts,
  }
}

/** What a cache remembers of its last compile, to reuse entries by position. */
interface LastCompile {
  inputs: string
  servicePorts: readonly ServicePortModel[]
  parts: RulesetParts
  headKey: string
}

const lastCompiles = new WeakMap<FragmentCache, LastCompile>()

/**
 * The ports whose fragment changed since the parts compiled before through the same cache, when
 * that compile saw them at the same positions (the usual watch event): what changedFragments
 * would return, without walking every port again.
 */
const knownChanges = new WeakMap<RulesetParts, { from: RulesetParts; changes: FragmentChange<PortFragment>[] }>()

/** changedFragments(old.ports, next.ports). */
export function changedPorts(old: RulesetParts, next: RulesetParts): FragmentChange<PortFragment>[] {
  const known = knownChanges.get(next)
  return known && known.from === old ? known.changes : changedFragments(old.ports, next.ports)
}

/**
 * Model → parts; with a cache, only service ports without a fragment for these inputs are
 * compiled. A model from the same ModelStore keeps unchanged ports' objects in the same order, so
 * most ports are matched against the last compile by position (one pointer comparison each).
 */
export function compileParts(model: ProxyModel, options: CompileOptions, cache?: FragmentCache): RulesetParts {
  const fi = familyInputs(model, options)
  const headKey = JSON.stringify(fi.head)
  let inputs = JSON.stringify(fi.port)
  const last = cache ? lastCompiles.get(cache) : undefined
  // The fixed part is kept by identity, so a delta sees at once that it did not change.
  const head = last && last.headKey === headKey ? last.parts.head : compileHead(fi.head)
  let compiler: PortCompiler | undefined
  const compilePort = (sp: ServicePortModel): PortEntry => {
    const rec = new StepRecorder()
    ;(compiler ??= new PortCompiler(fi.port)).compile(sp, rec)
    return { key: sp.key, fragment: { steps: rec.steps } }
  }
  let prev: LastCompile | undefined
  if (last && last.inputs === inputs) {
    prev = last
    // The same string object from here on, so cache hits compare pointers.
    inputs = last.inputs
  }
  const { ports, replaced } = alignPortEntries(fi.servicePorts, prev && { servicePorts: prev.servicePorts, entries: prev.parts.ports }, cache, inputs, compilePort)
  const parts: RulesetParts = { family: fi.family, table: TABLE, head, ports }
  if (prev && replaced) {
    const before = prev.parts.ports
    knownChanges.set(parts, { from: prev.parts, changes: replaced.map((i) => ({ key: (ports[i] as PortEntry).key, old: (before[i] as PortEntry).fragment, next: (ports[i] as PortEntry).fragment })) })
  }
  if (cache) lastCompiles.set(cache, { inputs, servicePorts: fi.servicePorts, parts, headKey })
  return parts
}

/** Replays the parts into one checked transaction. */
export function assembleRuleset(parts: RulesetParts): Ruleset {
  const ops: Op[] = []
  const r = new Replay((op) => ops.push(op))
  for (const op of parts.head) r.op(op)
  for (const { fragment } of parts.ports) r.steps(fragment.steps)
  const ruleset: Ruleset = { family: parts.family, table: parts.table, ops }
  checkRuleset(ruleset)
  return ruleset
}

/** The model's ServiceCIDRs of the family and those of the option, canonical, de-duplicated and sorted. */
function familyServiceCIDRs(fam: FamilyModel, options: CompileOptions): string[] {
  const extra = options.serviceCIDRs
  return extra && extra.length > 0 ? sortAddresses([...fam.serviceCIDRs, ...serviceCIDRsOf(extra, fam.family)]) : fam.serviceCIDRs
}

/** The ServiceCIDRs of one family, canonical and sorted; invalid entries are an input error. */
export function serviceCIDRsOf(cidrs: readonly string[], family: Family): string[] {
  const out: string[] = []
  for (const raw of cidrs) {
    const p = parseCIDR(raw.trim())
    if ('error' in p) {
      throw new KproxcError('INVALID_INPUT', 'invalid service CIDR', [{ object: { kind: 'Option', name: 'service-cidr' }, path: '', value: raw, message: p.error }])
    }
    if (p.family === family) out.push(p.text)
  }
  return sortAddresses(out)
}
