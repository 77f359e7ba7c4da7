/** Compile speed on synthetic clusters (test/synthetic.ts): S services × 10 endpoints, one TCP port each. */
import { type ProxyModel, buildModel } from '@kproxc/core'
import { bench, describe } from 'vitest'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compileRuleset } from '../src/compile.js'
import { renderRuleset } from '../src/render.js'

for (const services of [1_000, 10_000]) {
  const objects = syntheticCluster({ services, endpointsPerService: 10, affinityEvery: 20 })
  const model: ProxyModel = buildModel(objects, { mode: 'iptables', families: ['IPv4'] })
  describe(`${services} services × 10 endpoints`, () => {
    bench('compile (model → IR)', () => {
      compileRuleset(model, 'IPv4')
    }, { iterations: 5, warmupIterations: 1 })
    bench('compile + render (model → text)', () => {
      renderRuleset(compileRuleset(model, 'IPv4'))
    }, { iterations: 5, warmupIterations: 1 })
    bench('model + compile + render (objects → text)', () => {
      renderRuleset(compileRuleset(buildModel(objects, { mode: 'iptables', families: ['IPv4'] }), 'IPv4'))
    }, { iterations: 3, warmupIterations: 1 })
  })
}
