import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { fixtureModels } from '../../../test/fixture-models.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { type IpvsCompileOptions, compileIpvs } from './compile.js'
import { emitIpvsFiles } from './emit.js'
import { renderIpvsFiles } from './index.js'

const variants: Omit<IpvsCompileOptions, 'family'>[] = [{}, { scheduler: 'mh', randomFully: false, builtinJumps: false }]

describe('emitIpvsFiles', () => {
  it('writes every fixture exactly as renderIpvsFiles(compileIpvs())', () => {
    let n = 0
    let timeouts = 0
    for (const { name, model } of fixtureModels('ipvs')) {
      for (const fam of model.families) {
        for (const v of variants) {
          const ir = compileIpvs(model, { family: fam.family, ...v })
          if (ir.timeouts) timeouts++
          expect(emitIpvsFiles(model, { family: fam.family, ...v }), name).toEqual(renderIpvsFiles(ir))
          n++
        }
      }
    }
    expect(n).toBeGreaterThan(40)
    // The timeouts line goes first, before any virtual server.
    expect(timeouts).toBeGreaterThan(0)
  })

  it('and random and large clusters', () => {
    fc.assert(fc.property(arbCluster(), (c) => {
      const model = buildModel(c.objects, { nodeName: 'n1', mode: 'ipvs' })
      for (const fam of model.families) {
        expect(emitIpvsFiles(model, { family: fam.family })).toEqual(renderIpvsFiles(compileIpvs(model, { family: fam.family })))
      }
    }), { numRuns: 100 })
    const big = buildModel(syntheticCluster({ services: 2000, endpointsPerService: 3, affinityEvery: 7 }), { mode: 'ipvs', families: ['IPv4'] })
    expect(emitIpvsFiles(big, { family: 'IPv4' })).toEqual(renderIpvsFiles(compileIpvs(big, { family: 'IPv4' })))
  })
})
