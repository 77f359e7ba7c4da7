import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { fixtureModels } from '../../../test/fixture-models.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compile } from './compile.js'
import { emitRuleset } from './emit.js'
import { renderJSON } from './render-json.js'
import { renderText } from './render-text.js'


describe('emitRuleset', () => {
  it('spells every fixture exactly as renderJSON / renderText of compile()', () => {
    let n = 0
    for (const { name, model } of fixtureModels('nftables')) {
      for (const fam of model.families) {
        for (const serviceCIDRs of [[], ['10.96.0.0/16', 'fd00:96::/112']]) {
          const rs = compile(model, { family: fam.family, serviceCIDRs })
          expect(emitRuleset(model, { family: fam.family, serviceCIDRs }, 'json'), name).toBe(renderJSON(rs))
          expect(emitRuleset(model, { family: fam.family, serviceCIDRs }, 'text'), name).toBe(renderText(rs))
          n++
        }
      }
    }
    expect(n).toBeGreaterThan(40)
  })

  it('and random and large clusters', () => {
    fc.assert(fc.property(arbCluster(), (c) => {
      const model = buildModel(c.objects, { nodeName: 'n1', mode: 'nftables' })
      for (const fam of model.families) {
        const rs = compile(model, { family: fam.family })
        expect(emitRuleset(model, { family: fam.family }, 'json')).toBe(renderJSON(rs))
        expect(emitRuleset(model, { family: fam.family }, 'text')).toBe(renderText(rs))
      }
    }), { numRuns: 100 })
    const big = buildModel(syntheticCluster({ services: 2000, endpointsPerService: 3, affinityEvery: 7 }), { mode: 'nftables', families: ['IPv4'] })
    expect(emitRuleset(big, { family: 'IPv4' }, 'json')).toBe(renderJSON(compile(big, { family: 'IPv4' })))
  })
})
