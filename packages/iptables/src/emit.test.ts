import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { buildModel, modelFromTexts } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compileRuleset } from './compile.js'
import { emitRulesetText } from './emit.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url))

describe('emitRulesetText', () => {
  it('spells every fixture exactly as renderRuleset(compileRuleset(...)), with every option', () => {
    let n = 0
    for (const name of readdirSync(fixtures).sort()) {
      const input = `${fixtures}${name}/input.yaml`
      if (!existsSync(input)) continue
      let model
      try {
        model = modelFromTexts([{ name: input, text: readFileSync(input, 'utf8') }], { mode: 'iptables' })
      } catch {
        continue
      }
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
