import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Family, joinHostPort, parseIP } from '../ip.js'
import type { Diagnostic, EndpointModel, Protocol } from '../model.js'
import type { EndpointSliceObject } from '../schema/endpoint-slice.js'
import { byteCompare } from '../select.js'
import { mergeEndpoints, sortSlices } from './endpoints.js'

// Addresses chosen so that one is often a prefix of another ("10.0.0.1" / "10.0.0.10"), where
// key order and IP order part ways, plus non-canonical spellings.
const V4 = ['10.0.0.1', '10.0.0.10', '10.0.0.100', '10.0.0.2', '10.0.1.1', '10.0.0.19', '010.0.0.1', '10.0.0.01', '9.0.0.1']
const V6 = ['fd00::1', 'fd00::10', 'fd00::1:2', 'fd00::a', 'fd00::a:1', 'fd00::1a', 'FD00::1', 'fd00:0::10', 'fd00::b']

const arbSlices = (family: Family) => fc.array(
  fc.record({
    name: fc.constantFrom('a', 'b', 'c', 'd'),
    ports: fc.array(fc.record({ name: fc.constantFrom('http', 'dns'), port: fc.constantFrom(80, 8, 8080, 9) }), { minLength: 1, maxLength: 2 }),
    endpoints: fc.array(fc.record({
      ip: fc.constantFrom(...(family === 'IPv4' ? V4 : V6)),
      ready: fc.option(fc.boolean(), { nil: undefined }),
      terminating: fc.option(fc.boolean(), { nil: undefined }),
      node: fc.option(fc.constantFrom('n1', 'n2'), { nil: undefined }),
    }), { maxLength: 8 }),
  }),
  { maxLength: 4 },
).map((list) => list.map((s): EndpointSliceObject => ({
  metadata: { name: s.name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'svc' } },
  addressType: family,
  ports: s.ports.map((p) => ({ ...p, protocol: 'TCP' })),
  endpoints: s.endpoints.map((e) => ({
    addresses: [e.ip],
    conditions: { ready: e.ready, terminating: e.terminating },
    ...(e.node ? { nodeName: e.node } : {}),
  })),
})))

/** model.md §4 spelled out plainly: merge by key in slice order, a non-terminating copy wins, sort by key. */
function reference(slices: readonly EndpointSliceObject[], family: Family, portName: string, protocol: Protocol, nodeName: string): EndpointModel[] {
  const byKey = new Map<string, EndpointModel>()
  for (const slice of slices) {
    if (slice.addressType !== family) continue
    for (const sp of slice.ports ?? []) {
      if ((sp.name ?? '') !== portName || (sp.protocol ?? 'TCP') !== protocol || !sp.port) continue
      for (const ep of slice.endpoints ?? []) {
        const parsed = parseIP(ep.addresses[0] ?? '')
        if ('error' in parsed) continue
        const next: EndpointModel = {
          key: joinHostPort(parsed.text, sp.port), ip: parsed.text, port: sp.port,
          isLocal: ep.nodeName != null && ep.nodeName === nodeName,
          ready: ep.conditions?.ready ?? true, serving: ep.conditions?.serving ?? true, terminating: ep.conditions?.terminating ?? false,
          nodeName: ep.nodeName ?? null, zone: ep.zone ?? null, zoneHints: [], nodeHints: [], sourceSlices: [slice.metadata.name],
        }
        const prior = byKey.get(next.key)
        if (!prior) byKey.set(next.key, next)
        else {
          const winner = prior.terminating && !next.terminating ? next : prior
          byKey.set(next.key, { ...winner, sourceSlices: [...new Set([...prior.sourceSlices, slice.metadata.name])].sort(byteCompare) })
        }
      }
    }
  }
  return [...byKey.values()].sort((a, b) => byteCompare(a.key, b.key))
}

describe('mergeEndpoints', () => {
  it('equals the plain merge: same endpoints, sorted byte-wise by key, duplicates merged', () => {
    const arbCase = fc.constantFrom<Family>('IPv4', 'IPv6').chain((family) => fc.tuple(fc.constant(family), arbSlices(family), fc.constantFrom('http', 'dns')))
    fc.assert(
      fc.property(arbCase, ([family, raw, portName]) => {
        // Names may repeat in the generator; slices are unique by name in a store.
        const slices = sortSlices([...new Map(raw.map((s) => [s.metadata.name, s])).values()])
        const diagnostics: Diagnostic[] = []
        const got = mergeEndpoints(slices, family, portName, 'TCP', 'n1', diagnostics)
        expect(got).toEqual(reference(slices, family, portName, 'TCP', 'n1'))
        expect(got.map((e) => e.key)).toEqual(got.map((e) => e.key).sort(byteCompare))
      }),
      { numRuns: 1000 },
    )
  })
})
