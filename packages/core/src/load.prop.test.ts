import fc from 'fast-check'
import { dump } from 'js-yaml'
import { describe, expect, it } from 'vitest'
import { serviceArb, sliceArb } from './validate/arbitraries.js'
import { fields, loadOutcome as outcome, mutate, mutation, sameTree, shuffled } from './validate/fuzz.js'

const item = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(shuffled(serviceArb(fields.nearly)), fc.array(mutation, { maxLength: 1 })).map(([s, m]) => m.reduce(mutate, s)) },
  { weight: 4, arbitrary: fc.tuple(shuffled(sliceArb(fields.nearly)), fc.array(mutation, { maxLength: 1 })).map(([s, m]) => m.reduce(mutate, s)) },
  { weight: 1, arbitrary: fc.constantFrom({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }) },
)

describe('loadObjects gives the same objects and the same errors with and without the fast validators', () => {
  it('on kubectl Lists of nearly valid Services and slices (names collide, so duplicates are compared too), as JSON and YAML', () => {
    fc.assert(fc.property(fc.array(item, { maxLength: 6 }), fc.boolean(), (items, yaml) => {
      const list = { apiVersion: 'v1', kind: 'List', items }
      const text = yaml ? dump(JSON.parse(JSON.stringify(list))) : JSON.stringify(list)
      const sources = [{ name: 'dump', text }]
      const fast = outcome(sources, true)
      const slow = outcome(sources, false)
      if (!sameTree(fast, slow)) expect(fast).toEqual(slow)
      expect(sameTree(fast, slow)).toBe(true)
    }), { numRuns: 800 })
  })
})
