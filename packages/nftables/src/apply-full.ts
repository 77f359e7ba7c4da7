/**
 * kube-proxy's full sync over a table that already exists (pkg/proxy/nftables/proxier.go, reference
 * nftables.md §10.3–10.5), planned purely from the compiled cold-start ruleset and a listing of the
 * live table. Instead of deleting and re-creating the table, which would wipe every `affinity-*`
 * set and so every ClientIP session, the transaction:
 * - adds the table, and re-creates a base chain only when its type, hook, priority or policy
 *   differs from what kube-proxy sets (or when the new state wants a regular chain of that name);
 * - adds and flushes every chain of the new state and rewrites its rules;
 * - adds and flushes every set and map (then re-adds its elements), except affinity sets that
 *   exist with the same spec, which are left alone (P2: a JSON `add set` of a set nft promoted to
 *   dynamic fails with EEXIST) so their elements survive;
 * - deletes and re-adds a set whose spec changed (an affinity timeout), after flushing every chain
 *   whose rules name it;
 * - flushes the chains and deletes the sets and maps of the old table that the new state lacks,
 *   with the deletes at the end, once no rule or map element refers to them any more (in one
 *   transaction: Linux 6.2 or later; see `deferStaleChains` for older kernels).
 * Afterwards the table lists as a fresh apply of the same ruleset would, but for the affinity
 * sets' elements and the order of creation. Only objects of the ruleset's own table are named.
 */
import type { BaseChainSpec, Op, Ruleset } from './ir.js'
import type { ListedChain, ListedSet, TableListing } from './table-listing.js'

/** What the in-place transaction does beyond the compiled state, for the report. */
export interface FullSyncSummary {
  /** Affinity sets kept with their elements. */
  keptAffinitySets: number
  /** Elements those sets held when listed. */
  keptAffinityElements: number
  /** Sets whose spec changed, deleted and re-created. */
  recreatedSets: readonly string[]
  /** Chains of the old table the new state lacks: flushed, and deleted unless deferred. */
  staleChains: readonly string[]
  /** Sets and maps of the old table the new state lacks: deleted. */
  staleSets: readonly string[]
  /** Base chains re-created because their type, hook or priority changed. */
  recreatedBaseChains: readonly string[]
}

/** A full sync over an existing table. */
export interface FullSyncPlan {
  ruleset: Ruleset
  summary: FullSyncSummary
}

export interface FullSyncOptions {
  /**
   * Flush stale chains but leave their deletion to a later transaction, as kube-proxy does:
   * kernels before 6.2 notice only asynchronously that a chain lost its last map reference and
   * refuse (EBUSY) to delete it in the transaction that removed the reference.
   */
  deferStaleChains?: boolean
}

/** Affinity sets are the only dynamic ones: the packet path fills them, never kube-proxy. */
function isDynamic(op: Extract<Op, { kind: 'addSet' }>): boolean {
  return op.flags?.includes('dynamic') ?? false
}

/** Whether the listed set is what `op` would create (comments are not listed by nft 1.0.6, P1). */
function sameSpec(op: Extract<Op, { kind: 'addSet' }>, listed: ListedSet): boolean {
  if (listed.container !== op.container) return false
  if (listed.type.join(' . ') !== op.keyType.join(' . ')) return false
  // `dynamic` is added by nft itself and not listed in JSON; compare the rest.
  const want = (op.flags ?? []).filter((f) => f !== 'dynamic').sort().join(',')
  const have = listed.flags.filter((f) => f !== 'dynamic').sort().join(',')
  return want === have && listed.timeoutSeconds === op.timeoutSeconds
}

/** kube-proxy never sets a policy, and `add chain` without one would not reset another. */
function sameBase(a: BaseChainSpec, b: NonNullable<ListedChain['base']>): boolean {
  return a.type === b.type && a.hook === b.hook && a.priority === b.prio && (b.policy ?? 'accept') === 'accept'
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** The in-place full-sync transaction that turns the listed table into the compiled one. */
export function planFullSync(rs: Ruleset, live: TableListing, opts: FullSyncOptions = {}): FullSyncPlan {
  const src = rs.ops
  const baseSpecs = new Map<string, BaseChainSpec>()
  const finalChains = new Set<string>()
  const addedSets = new Map<string, Extract<Op, { kind: 'addSet' }>>()
  const deletedByCompile = new Set<string>()
  for (const op of src) {
    if (op.kind === 'addChain') {
      finalChains.add(op.name)
      if (op.base) baseSpecs.set(op.name, op.base)
    } else if (op.kind === 'deleteChain') finalChains.delete(op.name)
    else if (op.kind === 'addSet' && !addedSets.has(op.name)) addedSets.set(op.name, op)
    else if (op.kind === 'deleteSet') deletedByCompile.add(op.name)
  }

  const recreatedSets: string[] = []
  let keptAffinitySets = 0
  let keptAffinityElements = 0
  const decision = new Map<string, 'add' | 'keep' | 'flush' | 'recreate'>()
  for (const [name, op] of addedSets) {
    const listed = live.sets.get(name)
    if (!listed) decision.set(name, 'add')
    else if (!sameSpec(op, listed)) {
      decision.set(name, 'recreate')
      recreatedSets.push(name)
    } else if (isDynamic(op)) {
      decision.set(name, 'keep')
      keptAffinitySets++
      keptAffinityElements += listed.elements
    } else decision.set(name, 'flush')
  }
  const staleSets = [...live.sets.keys()].filter((n) => !addedSets.has(n)).sort(byName)
  const staleChains = [...live.chains.keys()].filter((n) => !finalChains.has(n)).sort(byName)

  // Rules naming a set about to be deleted must be gone first (§10.7 rule 4); stale chains are
  // emptied up front too, so nothing still jumps to a chain that is deleted at the end.
  const doomed = new Set([...staleSets, ...recreatedSets, ...[...deletedByCompile].filter((n) => live.sets.has(n))])
  const earlyFlush = new Set(staleChains)
  for (const c of live.chains.values()) for (const ref of c.setRefs) if (doomed.has(ref)) earlyFlush.add(c.name)

  const recreatedBaseChains: string[] = []
  const ops: Op[] = []
  const flushed = new Set<string>()
  const setsDone = new Set<string>()
  let tableAdded = false
  for (let i = 0; i < src.length; i++) {
    const op = src[i] as Op
    const next = src[i + 1]
    switch (op.kind) {
      case 'addTable':
        if (tableAdded) break
        tableAdded = true
        ops.push(op)
        for (const name of [...earlyFlush].sort(byName)) {
          ops.push({ kind: 'flushChain', name })
          flushed.add(name)
        }
        break
      case 'deleteTable':
        break
      case 'addChain': {
        const listed = live.chains.get(op.name)
        if (!op.base && next?.kind === 'deleteChain' && next.name === op.name) {
          // The first-sync pair that re-creates a base chain: needed only where the live chain
          // differs, since an `add chain` with another hook or priority fails (§10.7 rule 5).
          const want = baseSpecs.get(op.name)
          if (listed && want && (!listed.base || !sameBase(want, listed.base))) {
            ops.push(op, next)
            recreatedBaseChains.push(op.name)
          }
          i++
          break
        }
        if (!op.base && listed?.base) {
          // A base chain the new state wants regular: nothing can jump to a base chain, so it
          // can go (with its rules) and come back without a hook.
          ops.push({ kind: 'deleteChain', name: op.name })
          recreatedBaseChains.push(op.name)
        }
        ops.push(op)
        if (listed && !flushed.has(op.name) && !(next?.kind === 'flushChain' && next.name === op.name)) ops.push({ kind: 'flushChain', name: op.name })
        break
      }
      case 'flushChain':
        flushed.add(op.name)
        ops.push(op)
        break
      case 'addSet': {
        const d = decision.get(op.name)
        // A set is decided once; a repeated add could only fail on a kept dynamic set.
        if (d === 'keep' || setsDone.has(op.name)) break
        setsDone.add(op.name)
        if (d === 'recreate') ops.push({ kind: 'deleteSet', name: op.name, container: (live.sets.get(op.name) as ListedSet).container })
        ops.push(op)
        const emptied = next !== undefined && (next.kind === 'flushSet' || next.kind === 'deleteSet') && next.name === op.name
        if (d === 'flush' && !emptied) ops.push({ kind: 'flushSet', name: op.name, container: op.container })
        break
      }
      default:
        ops.push(op)
    }
  }
  // Stale maps go first: their elements may still point at stale chains.
  for (const name of staleSets) ops.push({ kind: 'deleteSet', name, container: (live.sets.get(name) as ListedSet).container })
  if (!opts.deferStaleChains) for (const name of staleChains) ops.push({ kind: 'deleteChain', name })

  return {
    ruleset: { family: rs.family, table: rs.table, ops },
    summary: { keptAffinitySets, keptAffinityElements, recreatedSets, staleChains, staleSets, recreatedBaseChains },
  }
}
