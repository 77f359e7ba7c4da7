import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { changedFragments } from './fragments.js'

describe('changedFragments', () => {
  it('reports exactly the keys whose fragment object differs, was added or was removed', () => {
    const objs = Array.from({ length: 6 }, (_, i) => ({ id: i }))
    const list = fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), fc.nat(5)), { selector: (t) => t[0], maxLength: 7 })
    fc.assert(
      fc.property(list, list, (xs, ys) => {
        // Sorted lists (the backends' case) and lists in any order.
        const a = (xs.length % 2 ? xs : xs.sort()).map(([key, o]) => ({ key, fragment: objs[o] }))
        const b = (ys.length % 2 ? ys : ys.sort()).map(([key, o]) => ({ key, fragment: objs[o] }))
        const before = new Map(a.map((e) => [e.key, e.fragment]))
        const after = new Map(b.map((e) => [e.key, e.fragment]))
        const expected = [...new Set([...before.keys(), ...after.keys()])]
          .filter((k) => before.get(k) !== after.get(k))
          .map((key) => ({ key, old: before.get(key), next: after.get(key) }))
        const got = changedFragments(a, b)
        // Ports still present come in the order of b, then the removed ones in the order of a.
        const present = got.filter((c) => c.next !== undefined).map((c) => c.key)
        expect(present).toEqual(b.map((e) => e.key).filter((k) => present.includes(k)))
        const removed = got.filter((c) => c.next === undefined).map((c) => c.key)
        expect(removed).toEqual(a.map((e) => e.key).filter((k) => removed.includes(k)))
        expect(got.slice(present.length).every((c) => c.next === undefined)).toBe(true)
        expect([...got].sort((x, y) => x.key.localeCompare(y.key))).toEqual(expected.sort((x, y) => x.key.localeCompare(y.key)))
      }),
      { numRuns: 1000 },
    )
  })
})
