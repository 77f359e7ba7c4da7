import { KproxcError } from './errors.js'
import type { Family, ProxyModel, ServicePortModel } from './model.js'
import { byteCompare } from './select.js'
import { type Splice, lowerBound } from './splice.js'

/** A service port whose model differs between two store states. */
export interface ChangedPort {
  family: Family
  key: string
  change: 'added' | 'removed' | 'modified'
}

/** A Service by namespace and name. */
export type Ref = readonly [namespace: string, name: string]

/** A Service's ports by family, as the store keeps them. */
export type PortsByFamily = Partial<Record<Family, readonly ServicePortModel[]>>

const NONE: readonly never[] = Object.freeze([])

/**
 * Edits that turn each Service's run of `list` (sorted by namespace, name) from its old items into
 * its new ones; refs in model order. Checks that the old items are where they should be.
 */
export function splicesFor<T extends { namespace: string; name: string }>(list: readonly T[], refs: readonly Ref[], old: readonly (readonly T[])[], now: readonly (readonly T[])[]): Splice<T>[] {
  const out: Splice<T>[] = []
  refs.forEach(([ns, name], i) => {
    const a = old[i] as readonly T[]
    const b = now[i] as readonly T[]
    if (sameRefs(a, b)) return
    const from = lowerBound(list, (x) => byteCompare(x.namespace, ns) || byteCompare(x.name, name))
    for (let k = 0; k < a.length; k++) {
      if (list[from + k] !== a[k]) throw new KproxcError('INTERNAL', `model store out of step at ${ns}/${name}`)
    }
    out.push({ from, to: from + a.length, items: b })
  })
  return out
}

/** Same length and the same objects in order. */
export function sameRefs<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Changed ports of the recomputed Services only (the fast path of apply); `before` and `after` by Service. */
export function diffServices(prev: ProxyModel, before: readonly (PortsByFamily | undefined)[], after: readonly (PortsByFamily | undefined)[]): ChangedPort[] {
  const out: ChangedPort[] = []
  for (const { family } of prev.families) {
    before.forEach((old, i) => {
      const beforePorts = new Map((old?.[family] ?? NONE).map((p) => [p.key, p]))
      const afterPorts = new Map((after[i]?.[family] ?? NONE).map((p) => [p.key, p]))
      for (const [k, p] of afterPorts) {
        const o = beforePorts.get(k)
        if (!o) out.push({ family, key: k, change: 'added' })
        else if (o !== p) out.push({ family, key: k, change: 'modified' })
      }
      for (const k of beforePorts.keys()) if (!afterPorts.has(k)) out.push({ family, key: k, change: 'removed' })
    })
  }
  return out.sort((a, b) => byteCompare(a.family, b.family) || byteCompare(a.key, b.key))
}

/** Changed ports between two whole models (after the context changed). */
export function diffPorts(prev: ProxyModel, next: ProxyModel): ChangedPort[] {
  const out: ChangedPort[] = []
  const famSet = new Set<Family>([...prev.families.map((f) => f.family), ...next.families.map((f) => f.family)])
  for (const family of [...famSet].sort()) {
    const before = new Map((prev.families.find((f) => f.family === family)?.servicePorts ?? []).map((p) => [p.key, p]))
    const after = new Map((next.families.find((f) => f.family === family)?.servicePorts ?? []).map((p) => [p.key, p]))
    for (const [key, p] of after) {
      const old = before.get(key)
      if (!old) out.push({ family, key, change: 'added' })
      else if (old !== p) out.push({ family, key, change: 'modified' })
    }
    for (const key of before.keys()) if (!after.has(key)) out.push({ family, key, change: 'removed' })
  }
  return out.sort((a, b) => byteCompare(a.family, b.family) || byteCompare(a.key, b.key))
}
