import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import type { LoadedObjects } from './load.js'
import type { ProxyModel } from './model.js'
import { ModelStore, type StoreChange, buildModel } from './store.js'
import { stableJSON } from './json.js'

const opts = { nodeName: 'n1' }

function shuffle<T>(list: readonly T[], order: readonly number[]): T[] {
  return [...list].map((x, i) => [order[i % order.length] ?? 0, i, x] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((t) => t[2])
}

function endpointsByKey(model: ProxyModel) {
  return model.families.flatMap((f) => f.servicePorts.map((p) => ({ f, p, byKey: new Map(p.endpoints.map((e) => [e.key, e])) })))
}

describe('model properties', () => {
  it('input order never changes the model', () => {
    fc.assert(
      fc.property(arbCluster(), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (c, order) => {
        const shuffled: LoadedObjects = {
          ...c.objects,
          services: shuffle(c.objects.services, order),
          endpointSlices: shuffle(c.objects.endpointSlices, [...order].reverse()),
        }
        expect(stableJSON(buildModel(shuffled, opts))).toBe(stableJSON(buildModel(c.objects, opts)))
      }),
      { numRuns: 150 },
    )
  })

  it('every endpoint in a verdict is an input endpoint of that service port, usable, and sorted', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        for (const { p, byKey } of endpointsByKey(buildModel(c.objects, opts))) {
          for (const list of [p.clusterEndpoints ?? [], p.localEndpoints ?? [], p.reachableEndpoints]) {
            expect([...list].sort()).toEqual(list)
            for (const key of list) {
              const e = byKey.get(key)
              expect(e, `${p.key} ${key}`).toBeDefined()
              expect(e?.ready || (e?.serving && e?.terminating)).toBe(true)
            }
          }
          for (const e of p.endpoints) expect(e.key.endsWith(`:${e.port}`)).toBe(true)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('Local verdicts contain only local endpoints; Local with none drops, no endpoints rejects', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        for (const { p, byKey } of endpointsByKey(buildModel(c.objects, opts))) {
          for (const key of p.localEndpoints ?? []) expect(byKey.get(key)?.isLocal).toBe(true)
          if (!p.hasAnyEndpoints) expect(p.internal.action).toBe('reject')
          else if (p.internalPolicyLocal) expect(p.internal.action).toBe((p.localEndpoints ?? []).length > 0 ? 'forward' : 'drop')
          else expect(p.internal).toEqual({ action: 'forward', to: 'cluster' })
          if (p.external && p.hasAnyEndpoints && p.externalPolicyLocal && (p.localEndpoints ?? []).length === 0) {
            expect(p.external.policy.action).toBe('drop')
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it('with any ready endpoint no terminating endpoint is used for cluster traffic', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        for (const { p, byKey } of endpointsByKey(buildModel(c.objects, opts))) {
          const anyReady = p.endpoints.some((e) => e.ready)
          if (!anyReady || !p.clusterEndpoints) continue
          for (const key of p.clusterEndpoints) expect(byKey.get(key)?.ready).toBe(true)
          expect(p.clusterUsesTerminating).toBe(false)
          if (p.endpoints.some((e) => e.ready && e.isLocal)) {
            for (const key of p.localEndpoints ?? []) expect(byKey.get(key)?.ready).toBe(true)
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it('the incremental store always equals a from-scratch build of the final state', () => {
    const changeArb = (c: { objects: LoadedObjects }) =>
      fc.array(
        fc.oneof(
          fc.constantFrom(...c.objects.services.map((s): StoreChange => ({ op: 'delete', kind: 'Service', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name })), { op: 'delete', kind: 'Node', name: 'n9' } as StoreChange),
          fc.constantFrom(...c.objects.endpointSlices.map((s): StoreChange => ({ op: 'delete', kind: 'EndpointSlice', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name })), { op: 'delete', kind: 'Node', name: 'n9' } as StoreChange),
          fc.constantFrom(...c.objects.services.map((s): StoreChange => ({ op: 'upsert', kind: 'Service', object: s })), { op: 'delete', kind: 'Node', name: 'n9' } as StoreChange),
          fc.constantFrom(...c.objects.endpointSlices.map((s): StoreChange => ({ op: 'upsert', kind: 'EndpointSlice', object: s })), { op: 'delete', kind: 'Node', name: 'n9' } as StoreChange),
        ),
        { maxLength: 12 },
      )
    fc.assert(
      fc.property(
        arbCluster().chain((start) => arbCluster().chain((other) => {
          const pool = { ...start.objects, services: [...start.objects.services, ...other.objects.services], endpointSlices: [...start.objects.endpointSlices, ...other.objects.endpointSlices] }
          return fc.tuple(fc.constant(start), fc.array(changeArb({ objects: pool }), { maxLength: 4 }))
        })),
        ([start, batches]) => {
          const store = new ModelStore(opts, start.objects)
          for (const batch of batches) {
            const before = store.model
            const { model, changed } = store.apply(batch)
            const scratch = buildModel(
              store.objects(),
              opts,
            )
            expect(stableJSON(model)).toBe(stableJSON(scratch))
            // Ports not reported as changed keep their identity; reported ones really differ.
            const changedKeys = new Set(changed.map((c) => `${c.family} ${c.key}`))
            for (const f of model.families) {
              const prev = new Map((before.families.find((x) => x.family === f.family)?.servicePorts ?? []).map((p) => [p.key, p]))
              for (const p of f.servicePorts) {
                if (!changedKeys.has(`${f.family} ${p.key}`)) expect(prev.get(p.key)).toBe(p)
                else if (prev.has(p.key)) expect(stableJSON(prev.get(p.key))).not.toBe(stableJSON(p))
              }
            }
          }
        },
      ),
      { numRuns: 100 },
    )
  })
})
