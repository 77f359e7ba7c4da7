import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { changedFragments } from './fragments.js'

describe('changedFragments', () => {
  it('reports exactly the keys whose fragment object differs, was added or was removed', () => {
    const objs = Array.from({ length: 6 }, (_, i) => ({ id: i }))
    const list = fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.nat(5)), { selector: (t) => t[0], maxLength: 5 })
    fc.assert(
      fc.property(list, list, (xs, ys) => {
        const a = xs.sort().map(([key, o]) => ({ key, fragment: objs[o] }))
        const b = ys.sort().map(([key, o]) => ({ key, fragment: objs[o] }))
        const before = new Map(a.map((e) => [e.key, e.fragment]))
        const after = new Map(b.map((e) => [e.key, e.fragment]))
        const expected = [...new Set([...before.keys(), ...after.keys()])]
          .filter((k) => before.get(k) !== after.get(k))
          .map((key) => ({ key, old: before.get(key), next: after.get(key) }))
        const got = changedFragments(a, b)
        expect([...got].sort((x, y) => x.key.localeCompare(y.key))).toEqual(expected.sort((x, y) => x.key.localeCompare(y.key)))
      }),
      { numRuns: 300 },
    )
  })
})
