/**
 * Incremental compiles through a FragmentCache: the next model of a ModelStore keeps the object
 * of every port whose inputs did not change, so compileParts compares its port list with the last
 * one and compiles only what differs. The aim is a one-endpoint change in a 10k-service state in
 * well under a millisecond (issue 8): per unchanged port one pointer comparison and, when ports
 * came or went, a few integer moves; nothing per port touches strings, maps or the GC.
 */
import { type FamilyModel, type FragmentChange, type InputIssue, type ProxyModel, type ServicePortModel, changedFragments } from '@kproxc/core'
import type { FragmentCache, PortEntry, RulesetParts } from './compile.js'
import { type PortFragment, compileFragment } from './compile-port.js'
import { type FamilyContext, type FixedParts, contextKey, familyContext, fixedParts } from './context.js'
import type { IptablesOptions } from './options.js'
import { comparePorts } from './port-order.js'
import { assertValid, validateFamilyLevel, validatePort } from './validate.js'

/** What the next compile of a family compares its model with. */
export interface LastCompile {
  /** contextKey of the fragments. */
  inputs: string
  totalEndpoints: number
  /** A copy of the family's port list, in model order (in-place edits of the model's array cannot hide a change). */
  models: ServicePortModel[]
  /** The output; for each output position the model index it holds, and for each model index its output position. */
  ports: readonly PortEntry[]
  sources: Int32Array
  positions: Int32Array
  /** The fixed parts, reused while the objects they were built from are the same. */
  fixed: FixedParts
  fixedFrom: readonly unknown[]
}

/**
 * What an incremental compile changed, by the port list it returned: deltaRestore then skips the
 * comparison of every port (a walk of 10^4 entries that cost about as much as the rest of the delta).
 */
const hints = new WeakMap<readonly PortEntry[], { base: readonly PortEntry[]; changes: FragmentChange<PortFragment>[] }>()

/** changedFragments(old.ports, next.ports), from what the compile of `next` recorded when it can. */
export function portChanges(old: RulesetParts, next: RulesetParts): FragmentChange<PortFragment>[] {
  if (old.ports === next.ports) return []
  const hint = hints.get(next.ports)
  return hint && hint.base === old.ports ? hint.changes : changedFragments(old.ports, next.ports)
}

/** The objects the fixed parts are built from (context.ts fixedParts), compared by identity. */
function fixedInputs(model: ProxyModel, fam: FamilyModel, options: IptablesOptions): readonly unknown[] {
  return [model.config, fam.family, fam.nodePortAddresses, fam.localDetector, options]
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Above this many ports added plus removed, a compile starts over (each costs an O(n) insert). */
const MAX_MOVED = 64

/** Compiles one port and caches its fragment. */
export function compileEntry(ctx: FamilyContext, sp: ServicePortModel, inputs: string, cache: FragmentCache | undefined): PortEntry {
  const entry: PortEntry = { key: sp.key, fragment: compileFragment(ctx, sp) }
  cache?.fragments.set(sp, { inputs, entry })
  return entry
}

/** Records a compile from scratch as the cache's last one. */
export function remember(
  cache: FragmentCache, model: ProxyModel, fam: FamilyModel, options: IptablesOptions,
  compiled: { inputs: string; totalEndpoints: number; fixed: FixedParts; ports: readonly PortEntry[]; order: readonly number[] | null },
): void {
  const n = fam.servicePorts.length
  const sources = new Int32Array(n)
  for (let k = 0; k < n; k++) sources[k] = compiled.order ? (compiled.order[k] as number) : k
  ;(cache.last ??= {})[fam.family] = {
    inputs: compiled.inputs,
    totalEndpoints: compiled.totalEndpoints,
    models: fam.servicePorts.slice(),
    ports: compiled.ports,
    sources,
    positions: inverse(sources),
    fixed: compiled.fixed,
    fixedFrom: fixedInputs(model, fam, options),
  }
}

function inverse(sources: Int32Array): Int32Array {
  const positions = new Int32Array(sources.length)
  for (let k = 0; k < sources.length; k++) positions[sources[k] as number] = k
  return positions
}

// The two scans below are the only per-port work of an incremental compile. They are separate,
// small functions so that V8 optimizes them within the first sync: inside the whole update it took
// ~0.1 s to compile, and the first few dozen syncs ran their 10^4 comparisons in baseline code.

/** How many ports both lists start with (the same port, or one with the same key: pushed to `changed`). */
function commonHead(all: readonly ServicePortModel[], old: readonly ServicePortModel[], changed: number[]): number {
  const end = Math.min(all.length, old.length)
  for (let i = 0; i < end; i++) {
    const a = all[i] as ServicePortModel
    const b = old[i] as ServicePortModel
    if (a !== b) {
      if (a.key !== b.key) return i
      changed.push(i)
    }
  }
  return end
}

/** How many ports both lists end with after their common head (changed ones pushed, by new index). */
function commonTail(all: readonly ServicePortModel[], old: readonly ServicePortModel[], head: number, changed: number[]): number {
  const n = all.length
  const m = old.length
  const end = Math.min(n, m) - head
  for (let t = 0; t < end; t++) {
    const a = all[n - 1 - t] as ServicePortModel
    const b = old[m - 1 - t] as ServicePortModel
    if (a !== b) {
      if (a.key !== b.key) return t
      changed.push(n - 1 - t)
    }
  }
  return end
}

/**
 * The parts of a model whose port list is the last one's with some ports changed in place and at
 * most MAX_MOVED added or removed between a common head and tail (a Service added or deleted).
 * Null when that does not hold or the family-level inputs changed: the caller compiles from scratch.
 */
export function updateParts(model: ProxyModel, fam: FamilyModel, options: IptablesOptions, cache: FragmentCache, last: LastCompile): RulesetParts | null {
  const all = fam.servicePorts
  const old = last.models
  const n = all.length
  const m = old.length
  // New indices of ports that kept their key and place but not their model object.
  const changed: number[] = []
  const head = commonHead(all, old, changed)
  const tail = commonTail(all, old, head, changed)
  // Between the common head and tail: the new ports all[head, n - tail) and the old ones
  // old[head, m - tail). A port on both sides (between two insertions) is matched by key.
  if (n - tail - head + (m - tail - head) > MAX_MOVED) return null
  const added: number[] = []
  const removed = new Set<number>()
  const matched = new Map<number, number>()
  if (n - tail > head || m - tail > head) {
    const byKey = new Map<string, number>()
    for (let j = head; j < m - tail; j++) {
      byKey.set((old[j] as ServicePortModel).key, j)
      removed.add(j)
    }
    for (let i = head; i < n - tail; i++) {
      const j = byKey.get((all[i] as ServicePortModel).key)
      if (j === undefined) {
        added.push(i)
        continue
      }
      matched.set(i, j)
      removed.delete(j)
      if (all[i] !== old[j]) changed.push(i)
    }
  }
  const structural = added.length > 0 || removed.size > 0 || matched.size > 0
  const oldIndex = (i: number) => (i < head ? i : i >= n - tail ? i - n + m : (matched.get(i) as number))

  let totalEndpoints = last.totalEndpoints
  for (const i of changed) totalEndpoints += (all[i] as ServicePortModel).endpoints.length - (old[oldIndex(i)] as ServicePortModel).endpoints.length
  for (const j of removed) totalEndpoints -= (old[j] as ServicePortModel).endpoints.length
  for (const i of added) totalEndpoints += (all[i] as ServicePortModel).endpoints.length
  const ctx = familyContext(model, fam, options, totalEndpoints)
  const inputs = contextKey(ctx)
  // Other family-level inputs (the cluster crossed the large-cluster size, options): every fragment changes.
  if (inputs !== last.inputs) return null
  // The family-level values were valid, and the fixed parts built from them, if they are the same objects.
  const from = fixedInputs(model, fam, options)
  const sameFamily = sameInputs(from, last.fixedFrom)
  const issues: InputIssue[] = sameFamily ? [] : validateFamilyLevel(model, fam)
  const fresh = [...changed, ...added]
  const hits = fresh.map((i) => {
    const hit = cache.fragments.get(all[i] as ServicePortModel)
    return hit && hit.inputs === inputs ? hit.entry : undefined
  })
  fresh.forEach((i, k) => hits[k] || validatePort(all[i] as ServicePortModel, fam.family, issues))
  assertValid(fam.family, issues)
  if (!sameFamily) {
    last.fixed = fixedParts(model, ctx)
    last.fixedFrom = from
  }
  const fixed = last.fixed
  if (changed.length === 0 && !structural) return { ...fixed, ports: last.ports }
  const entries = fresh.map((i, k) => hits[k] ?? compileEntry(ctx, all[i] as ServicePortModel, inputs, cache))

  // The last output stays as it was (the caller diffs against it).
  const ports = last.ports.slice()
  changed.forEach((i, k) => {
    ports[last.positions[oldIndex(i)] as number] = entries[k] as PortEntry
  })
  if (!structural) {
    const changes: FragmentChange<PortFragment>[] = []
    for (const k of changed.map((i) => last.positions[i] as number).sort((a, b) => a - b)) {
      const before = (last.ports[k] as PortEntry).fragment
      const after = ports[k] as PortEntry
      if (before !== after.fragment) changes.push({ key: after.key, old: before, next: after.fragment })
    }
    hints.set(ports, { base: last.ports, changes })
    for (const i of changed) old[i] = all[i] as ServicePortModel
    last.ports = ports
    last.totalEndpoints = totalEndpoints
    return { ...fixed, ports }
  }

  // Drop the removed ports from the output, renumber the rest, then insert the new ones in order
  // (a port keeps its place in the output as long as it keeps its key: the order is by name).
  const newIndex = new Int32Array(m)
  for (let j = 0; j < m; j++) newIndex[j] = j < head ? j : j >= m - tail ? j + n - m : -1
  for (const [i, j] of matched) newIndex[j] = i
  const kept: PortEntry[] = []
  const sources: number[] = []
  for (let k = 0; k < m; k++) {
    const i = newIndex[last.sources[k] as number] as number
    if (i < 0) continue
    kept.push(ports[k] as PortEntry)
    sources.push(i)
  }
  for (let a = 0; a < added.length; a++) {
    const i = added[a] as number
    const sp = all[i] as ServicePortModel
    let lo = 0
    let hi = sources.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (comparePorts(all[sources[mid] as number] as ServicePortModel, sp) < 0) lo = mid + 1
      else hi = mid
    }
    // Ports that compare equal are ordered by model index; leave that to the compile from scratch.
    if (lo < sources.length && comparePorts(all[sources[lo] as number] as ServicePortModel, sp) === 0) return null
    kept.splice(lo, 0, entries[changed.length + a] as PortEntry)
    sources.splice(lo, 0, i)
  }
  const src = Int32Array.from(sources)
  const positions = inverse(src)
  // The changes in the order of the new list, then the removed ports in the order of the old one.
  const isAdded = new Set(added)
  const changes: FragmentChange<PortFragment>[] = []
  for (const k of fresh.map((i) => positions[i] as number).sort((a, b) => a - b)) {
    const entry = kept[k] as PortEntry
    const i = src[k] as number
    const before = isAdded.has(i) ? undefined : (last.ports[last.positions[oldIndex(i)] as number] as PortEntry).fragment
    if (before !== entry.fragment) changes.push({ key: entry.key, old: before, next: entry.fragment })
  }
  for (const k of [...removed].map((j) => last.positions[j] as number).sort((a, b) => a - b)) {
    const entry = last.ports[k] as PortEntry
    changes.push({ key: entry.key, old: entry.fragment, next: undefined })
  }
  hints.set(kept, { base: last.ports, changes })
  ;(cache.last ??= {})[fam.family] = { ...last, inputs, totalEndpoints, models: all.slice(), ports: kept, sources: src, positions }
  return { ...fixed, ports: kept }
}
