/**
 * Compile speed on synthetic clusters (test/synthetic.ts): S services × 10 endpoints, one TCP port
 * each; and the incremental sync of a watch (one endpoint moved, one Service added) in the largest.
 */
import { ModelStore, type ProxyModel, buildModel } from '@kproxc/core'
import { bench, describe } from 'vitest'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compileParts, compileRuleset, createFragmentCache } from '../src/compile.js'
import { deltaRestore } from '../src/delta.js'
import { emitRulesetText } from '../src/emit.js'
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
    bench('emit (model → text, no IR: what `kproxc compile` runs)', () => {
      emitRulesetText(model, 'IPv4')
    }, { iterations: 5, warmupIterations: 1 })
    bench('model + compile + render (objects → text)', () => {
      renderRuleset(compileRuleset(buildModel(objects, { mode: 'iptables', families: ['IPv4'] }), 'IPv4'))
    }, { iterations: 3, warmupIterations: 1 })
  })
}

describe('deltas in a 10k × 10 state (store.apply, then compileParts with a cache and deltaRestore)', () => {
  const objects = syntheticCluster({ services: 10_000, endpointsPerService: 10, affinityEvery: 20 })
  const extra = syntheticCluster({ services: 10_001, endpointsPerService: 10 })
  const store = new ModelStore({ mode: 'iptables', families: ['IPv4'] }, objects)
  const cache = createFragmentCache()
  let last = compileParts(store.model, 'IPv4', undefined, cache)
  let serial = 0
  const sync = (model: ProxyModel) => {
    const parts = compileParts(model, 'IPv4', undefined, cache)
    deltaRestore(last, parts)
    last = parts
  }
  bench('one endpoint moved', () => {
    const i = (serial * 331) % 10_000
    const slice = objects.endpointSlices[i]!
    const ip = `10.254.${(serial >> 8) & 255}.${serial++ & 255}`
    const model = store.apply([{ op: 'upsert', kind: 'EndpointSlice', object: { ...slice, endpoints: (slice.endpoints ?? []).map((e, k) => (k === 0 ? { ...e, addresses: [ip] } : e)) } }]).model
    sync(model)
  }, { iterations: 50, warmupIterations: 5 })
  bench('one Service added, then deleted (KUBE-SERVICES is rewritten each time)', () => {
    const svc = extra.services[10_000]!
    sync(store.apply([{ op: 'upsert', kind: 'Service', object: svc }, { op: 'upsert', kind: 'EndpointSlice', object: extra.endpointSlices[10_000]! }]).model)
    sync(store.apply([{ op: 'delete', kind: 'Service', namespace: svc.metadata.namespace!, name: svc.metadata.name }]).model)
  }, { iterations: 10, warmupIterations: 1 })
})
