import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { fixtureModels } from '../../../test/fixture-models.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compileRuleset } from './compile.js'
import { emitRulesetText } from './emit.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'


describe('emitRulesetText', () => {
  it('spells every fixture exactly as renderRuleset(compileRuleset(...)), with every option', () => {
    let n = 0
    for (const { name, model } of fixtureModels('iptables')) {
      for (const fam of model.families) {
        for (const options of [DEFAULT_OPTIONS, { nfacct: false, randomFully: false, builtinJumps: false }]) {
          expect(emitRulesetText(model, fam.family, options), name).toBe(renderRuleset(compileRuleset(model, fam.family, options)))
          n++
        }
      }
    }
    expect(n).toBeGreaterThan(40)
  })

  it('and random and large (sorted differently from the model) clusters', () => {
    fc.assert(fc.property(arbCluster(), (c) => {
      const model = buildModel(c.objects, { nodeName: 'n1', mode: 'iptables' })
      for (const fam of model.families) expect(emitRulesetText(model, fam.family)).toBe(renderRuleset(compileRuleset(model, fam.family)))
    }), { numRuns: 100 })
    const big = buildModel(syntheticCluster({ services: 2000, endpointsPerService: 3, affinityEvery: 7 }), { mode: 'iptables', families: ['IPv4'] })
    expect(emitRulesetText(big, 'IPv4')).toBe(renderRuleset(compileRuleset(big, 'IPv4')))
  })
})
