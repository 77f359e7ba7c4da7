import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import type { LoadedObjects } from './load.js'
import type { ProxyModel } from './model.js'
import type { EndpointSliceObject } from './schema/endpoint-slice.js'
import type { NodeObject } from './schema/node.js'
import type { ServiceObject } from './schema/service.js'
import type { ServiceCIDRObject } from './schema/service-cidr.js'
import { ModelStore, type StoreChange, buildModel } from './store.js'
import { stableJSON } from './json.js'

const opts = { nodeName: 'n1' }
const SERVICE_NAME = 'kubernetes.io/service-name'

/** Variants of a slice that move it or make kube-proxy ignore it (the store must re-home them). */
function sliceVariant(s: EndpointSliceObject, how: number, otherService: string): EndpointSliceObject {
  const labels = { ...s.metadata.labels }
  switch (how % 6) {
    case 0: return { ...s, metadata: { ...s.metadata, labels: { ...labels, [SERVICE_NAME]: otherService } } }
    case 1: {
      delete labels[SERVICE_NAME]
      return { ...s, metadata: { ...s.metadata, labels } }
    }
    case 2: return { ...s, metadata: { ...s.metadata, labels: { ...labels, 'service.kubernetes.io/headless': '' } } }
    case 3: return { ...s, metadata: { ...s.metadata, labels: { ...labels, 'service.kubernetes.io/service-proxy-name': 'other' } } }
    case 4: return { ...s, addressType: 'FQDN' }
    default: return { ...s, endpoints: (s.endpoints ?? []).slice(1) }
  }
}

/** Variants of a Service that skip it or change its ports' models. */
function serviceVariant(s: ServiceObject, how: number): ServiceObject {
  switch (how % 4) {
    case 0: return { ...s, metadata: { ...s.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'other' } } }
    case 1: return { ...s, spec: { ...s.spec, internalTrafficPolicy: s.spec.internalTrafficPolicy === 'Local' ? 'Cluster' : 'Local' } }
    case 2: return { ...s, spec: { ...s.spec, ports: (s.spec.ports ?? []).slice(0, 1) } }
    default: return { ...s, spec: { ...s.spec, trafficDistribution: 'PreferClose' } }
  }
}

const node = (name: string, zone: string | undefined, ip: string): NodeObject => ({
  metadata: { name, labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} },
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
})

const serviceCIDR = (name: string, ...cidrs: string[]): ServiceCIDRObject => ({ metadata: { name }, spec: { cidrs } })

/** ServiceCIDRs that overlap in name and in CIDR (one CIDR held by two objects, one object changing its CIDRs). */
const SERVICE_CIDRS: readonly ServiceCIDRObject[] = [
  serviceCIDR('kubernetes', '10.96.0.0/16', 'fd00:96::/112'),
  serviceCIDR('kubernetes', '10.96.0.0/12'),
  serviceCIDR('extra', '10.96.0.0/16'),
  serviceCIDR('extra', 'fd00:97::/112', '10.100.0.0/16'),
  serviceCIDR('v6', 'fd00:96::/112'),
]

/** Random changes drawn from a pool of objects: upserts, deletes, moved and ignored slices, node changes. */
function arbChanges(pool: LoadedObjects): fc.Arbitrary<StoreChange[]> {
  const svcNames = [...new Set(pool.services.map((s) => s.metadata.name)), 'svc-none']
  const ref = (o: { metadata: { namespace?: string; name: string } }) => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name })
  const options: fc.Arbitrary<StoreChange>[] = [
    fc.constantFrom<StoreChange>(
      { op: 'upsert', kind: 'Node', object: node('n9', 'z2', '192.168.0.9') },
      { op: 'delete', kind: 'Node', name: 'n9' },
      { op: 'upsert', kind: 'Node', object: node('n1', 'z2', '192.168.0.2') },
      { op: 'upsert', kind: 'Node', object: node('n1', 'z1', '192.168.0.3') },
      { op: 'delete', kind: 'Node', name: 'n1' },
    ),
    fc.constantFrom(...SERVICE_CIDRS).map((object): StoreChange => ({ op: 'upsert', kind: 'ServiceCIDR', object })),
    fc.constantFrom('kubernetes', 'extra', 'v6').map((name): StoreChange => ({ op: 'delete', kind: 'ServiceCIDR', name })),
  ]
  if (pool.services.length > 0) {
    options.push(
      fc.constantFrom(...pool.services).map((s): StoreChange => ({ op: 'upsert', kind: 'Service', object: s })),
      fc.constantFrom(...pool.services).map((s): StoreChange => ({ op: 'delete', kind: 'Service', ...ref(s) })),
      fc.tuple(fc.constantFrom(...pool.services), fc.nat()).map(([s, how]): StoreChange => ({ op: 'upsert', kind: 'Service', object: serviceVariant(s, how) })),
    )
  }
  if (pool.endpointSlices.length > 0) {
    options.push(
      fc.constantFrom(...pool.endpointSlices).map((s): StoreChange => ({ op: 'upsert', kind: 'EndpointSlice', object: s })),
      fc.constantFrom(...pool.endpointSlices).map((s): StoreChange => ({ op: 'delete', kind: 'EndpointSlice', ...ref(s) })),
      fc.tuple(fc.constantFrom(...pool.endpointSlices), fc.nat(), fc.constantFrom(...svcNames))
        .map(([s, how, other]): StoreChange => ({ op: 'upsert', kind: 'EndpointSlice', object: sliceVariant(s, how, other) })),
    )
  }
  return fc.array(fc.oneof(...options), { minLength: 1, maxLength: 6 })
}

/** A start cluster and batches of changes drawn from it and a second random cluster. */
const arbRun = arbCluster().chain((start) => arbCluster().chain((other) => {
  const pool: LoadedObjects = {
    ...start.objects,
    services: [...start.objects.services, ...other.objects.services],
    endpointSlices: [...start.objects.endpointSlices, ...other.objects.endpointSlices],
  }
  return fc.tuple(fc.constant(start.objects), fc.array(arbChanges(pool), { minLength: 1, maxLength: 8 }))
}))

describe('incremental store', () => {
  it('after any sequence of applies equals a build from scratch, keeps unchanged ports, and never changes an earlier model', () => {
    fc.assert(
      fc.property(arbRun, ([start, batches]) => {
        const store = new ModelStore(opts, start)
        const handedOut: [ProxyModel, string][] = [[store.model, stableJSON(store.model)]]
        for (const batch of batches) {
          const before = store.model
          const { model, changed } = store.apply(batch)
          expect(stableJSON(model)).toBe(stableJSON(buildModel(store.objects(), opts)))
          const changedKeys = new Set(changed.map((c) => `${c.family} ${c.key}`))
          for (const f of model.families) {
            const prev = new Map((before.families.find((x) => x.family === f.family)?.servicePorts ?? []).map((p) => [p.key, p]))
            for (const p of f.servicePorts) {
              if (!changedKeys.has(`${f.family} ${p.key}`)) expect(prev.get(p.key)).toBe(p)
              else if (prev.has(p.key)) expect(stableJSON(prev.get(p.key))).not.toBe(stableJSON(p))
            }
          }
          for (const c of changed) {
            const had = before.families.find((x) => x.family === c.family)?.servicePorts.some((p) => p.key === c.key) ?? false
            const has = model.families.find((x) => x.family === c.family)?.servicePorts.some((p) => p.key === c.key) ?? false
            expect(c.change).toBe(had && has ? 'modified' : has ? 'added' : 'removed')
          }
          handedOut.push([model, stableJSON(model)])
        }
        // Models are immutable for their holders: later applies copy, never patch in place.
        for (const [model, json] of handedOut) expect(stableJSON(model)).toBe(json)
      }),
      { numRuns: 200 },
    )
  })

  it('a batch that changes nothing returns the same model and no changed ports', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const store = new ModelStore(opts, c.objects)
        const before = store.model
        const same: StoreChange[] = [
          ...c.objects.services.map((s): StoreChange => ({ op: 'upsert', kind: 'Service', object: s })),
          ...c.objects.endpointSlices.map((s): StoreChange => ({ op: 'upsert', kind: 'EndpointSlice', object: s })),
          { op: 'delete', kind: 'Node', name: 'absent' },
          { op: 'delete', kind: 'ServiceCIDR', name: 'absent' },
          { op: 'delete', kind: 'Service', namespace: 'default', name: 'absent' },
        ]
        expect(store.apply(same)).toEqual({ model: before, changed: [] })
      }),
      { numRuns: 50 },
    )
  })

  it('a refused batch changes nothing', () => {
    fc.assert(
      fc.property(arbCluster(), fc.nat(), (c, i) => {
        // Without --node the only Node is chosen; a second one makes the choice ambiguous.
        const store = new ModelStore({}, c.objects)
        const before = store.model
        const objects = store.objects()
        const svc = c.objects.services[i % Math.max(1, c.objects.services.length)]
        const batch: StoreChange[] = [
          ...(svc ? [{ op: 'delete', kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name } as const] : []),
          { op: 'upsert', kind: 'Node', object: node('n9', 'z1', '192.168.0.9') },
        ]
        expect(() => store.apply(batch)).toThrow(/no node selected/)
        expect(store.model).toBe(before)
        expect(store.objects()).toEqual(objects)
        // And the store still works: the same change without the Node goes through.
        expect(stableJSON(store.apply(batch.slice(0, -1)).model)).toBe(stableJSON(buildModel(store.objects(), {})))
      }),
      { numRuns: 50 },
    )
  })

  it('state and objects() describe the current input', () => {
    fc.assert(
      fc.property(arbRun, ([start, batches]) => {
        const store = new ModelStore(opts, start)
        for (const batch of batches) store.apply(batch)
        const objects = store.objects()
        const state = store.state
        const flat = <T>(m: ReadonlyMap<string, ReadonlyMap<string, T>>) => [...m.values()].flatMap((inner) => [...inner.values()])
        expect(new Set(flat(state.services))).toEqual(new Set(objects.services))
        expect(new Set(flat(state.slices))).toEqual(new Set(objects.endpointSlices))
        expect(new Set(state.nodes.values())).toEqual(new Set(objects.nodes))
        expect(new Set(state.serviceCIDRs.values())).toEqual(new Set(objects.serviceCIDRs))
        expect(store.model.inputs).toMatchObject({
          services: objects.services.length, endpointSlices: objects.endpointSlices.length, nodes: objects.nodes.length, serviceCIDRs: objects.serviceCIDRs?.length,
        })
      }),
      { numRuns: 100 },
    )
  })
})
