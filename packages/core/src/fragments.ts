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
