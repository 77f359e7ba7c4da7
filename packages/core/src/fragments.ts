import type { ServicePortModel } from './model.js'
/** A fragment some backend compiled for one service port (the port's key and any object). */
export interface KeyedFragment<F> {
  key: string
  fragment: F
}

/** One port whose fragment was added, removed or replaced by another object. */
export interface FragmentChange<F> {
  key: string
  old: F | undefined
  next: F | undefined
}

/**
 * Ports whose compiled fragment changed between two lists, by object identity (a fragment is
 * reused exactly while the model of its port is unchanged). Ports that kept their key at the same
 * distance from the start or from the end of both lists are compared one pointer each; only the
 * stretch between (ports added or removed, e.g. a new Service) goes through a Map. Changes come in
 * the order of `b`, then the removed ports in the order of `a`.
 */
export function changedFragments<F>(a: readonly KeyedFragment<F>[], b: readonly KeyedFragment<F>[]): FragmentChange<F>[] {
  const out: FragmentChange<F>[] = []
  let i = 0
  for (; i < a.length && i < b.length; i++) {
    const x = a[i] as KeyedFragment<F>
    const y = b[i] as KeyedFragment<F>
    if (x.key !== y.key) break
    if (x.fragment !== y.fragment) out.push({ key: x.key, old: x.fragment, next: y.fragment })
  }
  if (i === a.length && i === b.length) return out
  // The common tail, walked backwards, then reported in order after the middle.
  let endA = a.length
  let endB = b.length
  const tail: FragmentChange<F>[] = []
  for (; endA > i && endB > i; endA--, endB--) {
    const x = a[endA - 1] as KeyedFragment<F>
    const y = b[endB - 1] as KeyedFragment<F>
    if (x.key !== y.key) break
    if (x.fragment !== y.fragment) tail.push({ key: x.key, old: x.fragment, next: y.fragment })
  }
  const rest = new Map<string, F>()
  for (let j = i; j < endA; j++) rest.set((a[j] as KeyedFragment<F>).key, (a[j] as KeyedFragment<F>).fragment)
  for (let j = i; j < endB; j++) {
    const { key, fragment } = b[j] as KeyedFragment<F>
    const o = rest.get(key)
    if (o !== fragment) out.push({ key, old: o, next: fragment })
    rest.delete(key)
  }
  for (let j = tail.length - 1; j >= 0; j--) out.push(tail[j] as FragmentChange<F>)
  for (const [key, fragment] of rest) out.push({ key, old: fragment, next: undefined })
  return out
}

/** Per-port entries cached for one set of family-level inputs (the same string object each sync). */
export interface PortEntryCache<E> {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: E }>
}

/**
 * The entry of every service port of `list`: the last compile's entry at the aligned position when
 * the port object is the same, else a cached or fresh one. A model from one ModelStore keeps
 * unchanged ports' objects in order, so most ports cost one pointer comparison. Alignment follows
 * removals (a few ports ahead, or anywhere through a position index built on demand), insertions
 * (no advance) and in-place replacements (same key). `replaced` lists the positions replaced in
 * place when every port kept its position, else it is null (the caller then diffs in full).
 */
export function alignPortEntries<E>(
  list: readonly ServicePortModel[],
  prev: { servicePorts: readonly ServicePortModel[]; entries: readonly E[] } | undefined,
  cache: PortEntryCache<E> | undefined,
  inputs: string,
  compilePort: (sp: ServicePortModel) => E,
): { ports: E[]; replaced: number[] | null } {
  const out = new Array<E>(list.length)
  const before = prev?.servicePorts ?? []
  const entries = prev?.entries ?? []
  let replaced: number[] | null = list.length === before.length ? [] : null
  let j = 0
  let positions: Map<ServicePortModel, number> | undefined
  for (let i = 0; i < list.length; i++) {
    const sp = list[i] as ServicePortModel
    if (before[j] === sp) {
      out[i] = entries[j++] as E
      continue
    }
    const hit = cache?.fragments.get(sp)
    if (hit && hit.inputs === inputs) {
      out[i] = hit.entry
      // Unchanged, further on in the last compile: the ports in between were removed.
      let k = -1
      for (let d = 1; d <= 4 && k < 0; d++) if (before[j + d] === sp) k = j + d
      if (k < 0 && prev) k = (positions ??= new Map(before.map((p, n) => [p, n]))).get(sp) ?? -1
      if (k >= 0) j = k + 1
    } else {
      const entry = compilePort(sp)
      cache?.fragments.set(sp, { inputs, entry })
      out[i] = entry
      // Changed in place (same key), else new.
      if (j < before.length && (before[j] as ServicePortModel).key === sp.key) {
        replaced?.push(i)
        j++
      }
    }
    if (j !== i + 1) replaced = null
  }
  return { ports: out, replaced }
}
