/**
 * The cached-compile properties every backend with a FragmentCache shares: compiles through the
 * cache give a fresh compile's output, unchanged ports keep their entries (not compiled again)
 * through removals, insertions and replacements, and the changes a compile records equal what
 * changedFragments finds. Each backend's compile-cache.prop.test.ts binds them to its functions.
 */
import fc from 'fast-check'
import { type FragmentChange, type KeyedFragment, type LoadedObjects, ModelStore, type ProxyMode, type ProxyModel, type ServicePortModel, type StoreChange, changedFragments } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { objectChanges } from '../packages/cli/src/changes.js'
import { arbClusterPair } from './delta-cases.js'
import { syntheticCluster } from './synthetic.js'

export interface CachedCompiler<P extends { ports: readonly KeyedFragment<F>[] }, F, C> {
  mode: ProxyMode
  createCache: () => C
  compileParts: (model: ProxyModel, cache: C) => P
  /** The whole output of compiled parts, and of a fresh compile without a cache. */
  render: (parts: P) => unknown
  fresh: (model: ProxyModel) => unknown
  changedPorts: (prev: P, next: P) => FragmentChange<F>[]
  /** Whether ports may keep their entries from `prev` (false when family-level inputs changed). */
  keepsEntries: (prev: P, next: P) => boolean
}

/** Registers the shared properties for one backend. */
export function describeCachedCompile<P extends { ports: readonly KeyedFragment<F>[] }, F, C>(name: string, c: CachedCompiler<P, F, C>): void {
  const options = { nodeName: 'n1', families: ['IPv4'] as ('IPv4' | 'IPv6')[], mode: c.mode }

  function checkStep(prevModel: ProxyModel, prev: P, model: ProxyModel, next: P): void {
    expect(c.render(next)).toEqual(c.fresh(model))
    expect(c.changedPorts(prev, next)).toEqual(changedFragments(prev.ports, next.ports))
    if (!c.keepsEntries(prev, next)) return
    const before = new Map<ServicePortModel, KeyedFragment<F>>()
    const prevPorts = prevModel.families[0]?.servicePorts ?? []
    prevPorts.forEach((sp, i) => before.set(sp, prev.ports[i] as KeyedFragment<F>))
    const ports = model.families[0]?.servicePorts ?? []
    ports.forEach((sp, i) => {
      const kept = before.get(sp)
      if (kept) expect(next.ports[i]).toBe(kept)
    })
  }

  describe(`${name} with a cache`, () => {
    it('random store updates: a fresh compile\'s output, changedFragments\' changes', () => {
      fc.assert(fc.property(arbClusterPair(), arbClusterPair(), (a, b) => {
        const store = new ModelStore(options, a.old)
        const cache = c.createCache()
        let model = store.model
        let parts = c.compileParts(model, cache)
        let objects = a.old
        for (const target of [a.next, b.next, a.old]) {
          const next = store.apply(objectChanges(objects, target)).model
          objects = target
          const nextParts = c.compileParts(next, cache)
          checkStep(model, parts, next, nextParts)
          model = next
          parts = nextParts
        }
      }), { numRuns: 100 })
    })

    it('a large cluster: removals (one and many), insertions and in-place changes', () => {
      const objects = syntheticCluster({ services: 400, endpointsPerService: 3, affinityEvery: 9 })
      const store = new ModelStore(options, objects)
      const cache = c.createCache()
      let model = store.model
      let parts = c.compileParts(model, cache)
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
        // A new node address: family-level inputs (NodePort addresses) change.
        [{ op: 'upsert', kind: 'Node', object: { ...(objects.nodes[0] as LoadedObjects['nodes'][number]), status: { addresses: [{ type: 'InternalIP', address: '192.168.0.3' }] } } }],
      ]
      for (const step of steps) {
        const next = store.apply(typeof step === 'function' ? step(model) : step).model
        const nextParts = c.compileParts(next, cache)
        checkStep(model, parts, next, nextParts)
        model = next
        parts = nextParts
      }
      // The one-endpoint change is answered from the compile, not by walking the ports again.
      const next = store.apply(move(300, '10.250.0.5')).model
      const nextParts = c.compileParts(next, cache)
      expect(c.changedPorts(parts, nextParts)).toBe(c.changedPorts(parts, nextParts))
      expect(c.changedPorts(parts, nextParts).map((x) => x.key)).toEqual([next.families[0]?.servicePorts.find((p) => p.name === 'svc-300')?.key])
    })
  })
}
