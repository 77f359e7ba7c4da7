import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { serviceRules, serviceSchema } from '../schema/service.js'
import { fastService } from './fast-service.js'
import { serviceArb } from './arbitraries.js'
import { agreesWithZod, fields, mutate, mutation, shuffled } from './fuzz.js'

const validService = shuffled(serviceArb(fields.valid))
const nearlyValidService = shuffled(serviceArb(fields.nearly))

describe('fastService agrees with serviceSchema + serviceRules', () => {
  const agrees = (input: Record<string, unknown>) => agreesWithZod(fastService, serviceSchema, serviceRules, input)

  it('answers every valid Service, with zod’s value', () => {
    fc.assert(fc.property(validService, (svc) => {
      expect(agrees(svc)).toBe(true)
    }), { numRuns: 600 })
  })

  it('answers only what zod accepts, with zod’s value, on nearly valid Services and their mutations', () => {
    let answered = 0
    let bailed = 0
    fc.assert(fc.property(nearlyValidService, fc.array(mutation, { maxLength: 2 }), (svc, mutations) => {
      if (agrees(mutations.reduce(mutate, svc))) answered++
      else bailed++
    }), { numRuns: 4000 })
    // Both outcomes must be common, or the property says little.
    expect(answered).toBeGreaterThan(400)
    expect(bailed).toBeGreaterThan(1000)
  })
})
