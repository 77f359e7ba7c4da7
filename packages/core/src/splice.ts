/** One edit of a list: the run [from, to) becomes `items`. */
export interface Splice<T> {
  from: number
  to: number
  items: readonly T[]
}

/** First index whose element is not before the target (`cmp(x) >= 0`), in a list sorted for `cmp`. */
export function lowerBound<T>(list: readonly T[], cmp: (x: T) => number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cmp(list[mid] as T) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * A new list with the edits applied (edits in order, not overlapping); `list` is left as it is,
 * because models handed out earlier still hold it.
 */
export function applySplices<T>(list: readonly T[], splices: readonly Splice<T>[]): T[] {
  const only = splices.length === 1 ? splices[0] : undefined
  if (only) {
    // One edit (the usual watch event): a native copy and splice beat an element-wise loop.
    const out = list.slice()
    if (only.items.length === only.to - only.from) {
      for (let i = 0; i < only.items.length; i++) out[only.from + i] = only.items[i] as T
    } else {
      out.splice(only.from, only.to - only.from, ...only.items)
    }
    return out
  }
  const out: T[] = []
  let at = 0
  for (const s of splices) {
    for (let i = at; i < s.from; i++) out.push(list[i] as T)
    for (const x of s.items) out.push(x)
    at = s.to
  }
  for (let i = at; i < list.length; i++) out.push(list[i] as T)
  return out
}
