import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { endpointSliceRules, endpointSliceSchema } from '../schema/endpoint-slice.js'
import { fastEndpointSlice } from './fast-endpoint-slice.js'
import { sliceArb } from './arbitraries.js'
import { agreesWithZod, fields, mutate, mutation, shuffled } from './fuzz.js'

const validSlice = shuffled(sliceArb(fields.valid))
const nearlyValidSlice = shuffled(sliceArb(fields.nearly))

describe('fastEndpointSlice agrees with endpointSliceSchema + endpointSliceRules', () => {
  const agrees = (input: Record<string, unknown>) => agreesWithZod(fastEndpointSlice, endpointSliceSchema, endpointSliceRules, input)

  it('answers every valid slice (unique port names), with zod’s value', () => {
    const uniqueNames = (s: Record<string, unknown>) => {
      const names = ((s.ports as { name?: string | null }[] | null | undefined) ?? []).map((p) => p.name ?? '')
      return new Set(names).size === names.length
    }
    fc.assert(fc.property(validSlice.filter(uniqueNames), (slice) => {
      expect(agrees(slice)).toBe(true)
    }), { numRuns: 500 })
  })

  it('answers only what zod accepts, with zod’s value, on nearly valid slices and their mutations', () => {
    let answered = 0
    let bailed = 0
    fc.assert(fc.property(nearlyValidSlice, fc.array(mutation, { maxLength: 2 }), (slice, mutations) => {
      if (agrees(mutations.reduce(mutate, slice))) answered++
      else bailed++
    }), { numRuns: 4000 })
    // Both outcomes must be common, or the property says little.
    expect(answered).toBeGreaterThan(400)
    expect(bailed).toBeGreaterThan(1000)
  })
})
