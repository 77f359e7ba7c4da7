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
 * reused exactly while the model of its port is unchanged). Linear while both lists keep the same
 * order, which is the usual case for an update; removed ports come last.
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
  const rest = new Map<string, F>()
  for (let j = i; j < a.length; j++) rest.set((a[j] as KeyedFragment<F>).key, (a[j] as KeyedFragment<F>).fragment)
  for (let j = i; j < b.length; j++) {
    const { key, fragment } = b[j] as KeyedFragment<F>
    const o = rest.get(key)
    if (o !== fragment) out.push({ key, old: o, next: fragment })
    rest.delete(key)
  }
  for (const [key, fragment] of rest) out.push({ key, old: fragment, next: undefined })
  return out
}
