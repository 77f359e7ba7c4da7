/**
 * Incremental compiles through a FragmentCache: the same transaction as a fresh compile, unchanged
 * ports not compiled again (their entries kept by identity through removals, insertions and
 * replacements), and the changes a compile records the same as changedFragments finds.
 */
import fc from 'fast-check'
import { type LoadedObjects, ModelStore, type ProxyModel, type ServicePortModel, type StoreChange, changedFragments } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbClusterPair } from '../../../test/delta-cases.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { objectChanges } from '../../cli/src/changes.js'
import { type PortEntry, type RulesetParts, assembleRuleset, changedPorts, compile, compileParts, createFragmentCache } from './compile.js'
import { renderJSON } from './render-json.js'

const options = { nodeName: 'n1', families: ['IPv4'] as const, mode: 'nftables' as const }
const v4 = { family: 'IPv4' } as const

/** Checks `next` (compiled through the cache after `prev`) against a fresh compile and changedFragments. */
function checkStep(prevModel: ProxyModel, prev: RulesetParts, model: ProxyModel, next: RulesetParts): void {
  expect(renderJSON(assembleRuleset(next))).toBe(renderJSON(compile(model, v4)))
  expect(changedPorts(prev, next)).toEqual(changedFragments(prev.ports, next.ports))
  // A port whose model object is unchanged keeps its entry: it was not compiled again.
  const before = new Map<ServicePortModel, PortEntry>()
  const prevPorts = prevModel.families[0]?.servicePorts ?? []
  prevPorts.forEach((sp, i) => before.set(sp, prev.ports[i] as PortEntry))
  const ports = model.families[0]?.servicePorts ?? []
  ports.forEach((sp, i) => {
    const kept = before.get(sp)
    if (kept) expect(next.ports[i]).toBe(kept)
  })
}

describe('compileParts with a cache', () => {
  it('random store updates: a fresh compile\'s transaction, changedFragments\' changes', () => {
    fc.assert(fc.property(arbClusterPair(), arbClusterPair(), (a, b) => {
      const store = new ModelStore({ ...options, families: ['IPv4'] }, a.old)
      const cache = createFragmentCache()
      let model = store.model
      let parts = compileParts(model, v4, cache)
      let objects = a.old
      for (const target of [a.next, b.next, a.old]) {
        const next = store.apply(objectChanges(objects, target)).model
        objects = target
        const nextParts = compileParts(next, v4, cache)
        checkStep(model, parts, next, nextParts)
        model = next
        parts = nextParts
      }
    }), { numRuns: 100 })
  })

  it('a large cluster: removals (one and many), insertions and in-place changes', () => {
    const objects = syntheticCluster({ services: 400, endpointsPerService: 3, affinityEvery: 9 })
    const store = new ModelStore({ ...options, families: ['IPv4'] }, objects)
    const cache = createFragmentCache()
    let model = store.model
    let parts = compileParts(model, v4, cache)
    const extra = syntheticCluster({ services: 420, endpointsPerService: 2 })
    const del = (i: number): StoreChange[] => {
      const s = objects.services[i] as LoadedObjects['services'][number]
      return [{ op: 'delete', kind: 'Service', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name }]
    }
    const move = (i: number, ip: string): StoreChange[] => {
      const s = objects.endpointSlices[i] as LoadedObjects['endpointSlices'][number]
      return [{ op: 'upsert', kind: 'EndpointSlice', object: { ...s, endpoints: (s.endpoints ?? []).map((e, k) => (k === 0 ? { ...e, addresses: [ip] } : e)) } }]
    }
    const last = (m: ProxyModel): StoreChange[] => {
      const sp = m.families[0]?.servicePorts.at(-1) as ServicePortModel
      return [{ op: 'delete', kind: 'Service', namespace: sp.namespace, name: sp.name }]
    }
    const steps: (StoreChange[] | ((m: ProxyModel) => StoreChange[]))[] = [
      move(100, '10.250.0.1'),
      [...move(3, '10.250.0.2'), ...move(399, '10.250.0.3')],
      del(7),
      // Scattered over the model (services are ordered by namespace, then name).
      Array.from({ length: 30 }, (_, k) => del(40 + k)).flat(),
      // All of namespace ns-5: eight ports in a row, more than a few ahead.
      Array.from({ length: 8 }, (_, k) => del(5 + 50 * k)).flat(),
      (extra.services.slice(400, 410) as LoadedObjects['services']).map((object) => ({ op: 'upsert', kind: 'Service', object })),
      // As many ports removed as added: the same length, other ports.
      [...del(1), { op: 'upsert', kind: 'Service', object: extra.services[415] as LoadedObjects['services'][number] }],
      move(200, '10.250.0.4'),
      // The last port: every other one keeps its position.
      last,
      // A new node address changes the fixed part (nodeport-ips), not the ports.
      [{ op: 'upsert', kind: 'Node', object: { ...(objects.nodes[0] as LoadedObjects['nodes'][number]), status: { addresses: [{ type: 'InternalIP', address: '192.168.0.3' }] } } }],
    ]
    for (const step of steps) {
      const next = store.apply(typeof step === 'function' ? step(model) : step).model
      const nextParts = compileParts(next, v4, cache)
      checkStep(model, parts, next, nextParts)
      model = next
      parts = nextParts
    }
    // The one-endpoint change is answered from the compile, not by walking the ports again.
    const next = store.apply(move(300, '10.250.0.5')).model
    const nextParts = compileParts(next, v4, cache)
    expect(changedPorts(parts, nextParts)).toBe(changedPorts(parts, nextParts))
    expect(changedPorts(parts, nextParts).map((c) => c.key)).toEqual([next.families[0]?.servicePorts.find((p) => p.name === 'svc-300')?.key])
  })
})
