import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { CORE_SCHEMA, loadAll } from 'js-yaml'
import { describe, expect, it } from 'vitest'
import { endpointSliceRules, endpointSliceSchema } from '../schema/endpoint-slice.js'
import { serviceRules, serviceSchema } from '../schema/service.js'
import fc from 'fast-check'
import { parseIP, specialAddressKind } from '../ip.js'
import { attempt, fastPathUsable, isOrdinaryIPv4 } from './fast-common.js'
import { fastEndpointSlice } from './fast-endpoint-slice.js'
import { fastService } from './fast-service.js'
import { agreesWithZod } from './fuzz.js'

const KINDS = {
  Service: { fast: fastService, shape: serviceSchema, rules: serviceRules },
  EndpointSlice: { fast: fastEndpointSlice, shape: endpointSliceSchema, rules: endpointSliceRules },
} as const

function fixtureObjects(): Record<string, unknown>[] {
  const dir = new URL('../../../../fixtures/', import.meta.url)
  return readdirSync(dir)
    .map((name) => new URL(`${name}/input.yaml`, dir))
    .filter((file) => existsSync(file))
    .flatMap((file) => loadAll(readFileSync(file, 'utf8'), undefined, { schema: CORE_SCHEMA }) as Record<string, unknown>[])
    .flatMap((doc) => (doc && Array.isArray(doc.items) ? (doc.items as Record<string, unknown>[]) : [doc]))
    .filter((doc) => doc && (doc.kind === 'Service' || doc.kind === 'EndpointSlice'))
}

describe('the fast validators', () => {
  it('answer every fixture object zod accepts (the fast path is the path taken), with zod’s value', () => {
    let answered = 0
    for (const obj of fixtureObjects()) {
      const { fast, shape, rules } = KINDS[obj.kind as keyof typeof KINDS]
      const valid = shape.safeParse(obj).success && rules.safeParse(obj).success
      expect(agreesWithZod(fast, shape, rules, obj)).toBe(valid)
      if (valid) answered++
    }
    expect(answered).toBeGreaterThan(100)
  })

  const slice = (extra: Record<string, unknown>) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, addressType: 'IPv4', ...extra })
  const endpoints = (n: number) => Array.from({ length: n }, (_, i) => ({ addresses: [`10.${i >> 8}.${i & 255}.1`] }))
  const named = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `z${i}` }))
  const svc = (spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }], ...spec } })

  it.each([
    ['addresses', 100, (n: number) => slice({ endpoints: [{ addresses: Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`) }] })],
    ['endpoints', 1000, (n: number) => slice({ endpoints: endpoints(n) })],
    ['zone hints', 8, (n: number) => slice({ endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: named(n) } }] })],
    ['node hints', 8, (n: number) => slice({ endpoints: [{ addresses: ['10.0.0.1'], hints: { forNodes: named(n) } }] })],
    ['ports', 20000, (n: number) => slice({ ports: Array.from({ length: n }, (_, i) => ({ name: `p${i}`, port: 80 })) })],
    ['clusterIPs', 2, (n: number) => svc({ clusterIPs: ['10.96.0.1', 'fd00::1', '10.96.0.2'].slice(0, n) })],
    ['ipFamilies', 2, (n: number) => svc({ ipFamilies: ['IPv4', 'IPv6', 'IPv4'].slice(0, n) })],
  ] as const)('hold the %s list to at most %i entries, as zod does', (_what, max, make) => {
    const kind = KINDS[make(1).kind as keyof typeof KINDS]
    expect(agreesWithZod(kind.fast, kind.shape, kind.rules, make(max))).toBe(true)
    expect(agreesWithZod(kind.fast, kind.shape, kind.rules, make(max + 1))).toBe(false)
    expect(kind.shape.safeParse(make(max + 1)).success).toBe(false)
  })

  it('return the raw nodes that already equal zod’s copy, and copy the rest in schema order', () => {
    const endpoint = { addresses: ['10.0.0.1'], conditions: { ready: true }, nodeName: 'n1' }
    const kubectl = { addresses: ['10.0.0.2'], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod' }, nodeName: 'n1' }
    const ports = [{ name: 'http', protocol: 'TCP', port: 80 }]
    const raw = slice({ endpoints: [endpoint, kubectl], ports })
    const out = attempt(fastEndpointSlice, raw)
    expect(out?.endpoints?.[0]).toBe(endpoint)
    expect(out?.endpoints?.[1]).toEqual({ addresses: ['10.0.0.2'], conditions: kubectl.conditions, nodeName: 'n1' })
    expect(out?.endpoints?.[1]?.conditions).toBe(kubectl.conditions)
    expect(out?.ports).toBe(ports)
    expect(Object.keys(attempt(fastService, svc({ type: 'ClusterIP', clusterIP: 'None' })) ?? {})).toEqual(['metadata', 'spec'])
  })

  it('stand aside when Object.prototype has an enumerable key (every for…in would see it)', () => {
    expect(fastPathUsable()).toBe(true)
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true, writable: true })
    try {
      expect(fastPathUsable()).toBe(false)
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted
    }
    expect(fastPathUsable()).toBe(true)
  })
})

describe('isOrdinaryIPv4', () => {
  it('is true exactly for canonical IPv4 texts that parseIP accepts and that are not special', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '010', '', 'a', '0x1', '255', '254', '169', '127', '223', '224'))
    const text = fc.oneof(
      fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')),
      fc.tuple(octet, octet, octet).map((o) => o.join('.')),
      fc.tuple(octet, octet, octet, octet, octet).map((o) => o.join('.')),
      fc.string({ maxLength: 16 }),
    )
    fc.assert(fc.property(text, (s) => {
      const p = parseIP(s)
      const ordinary = !('error' in p) && p.family === 'IPv4' && p.text === s && specialAddressKind(s) === undefined && Number(s.split('.')[0]) <= 223
      // The fast check may only say yes where the full checks do (it may decline more).
      if (isOrdinaryIPv4(s)) expect(ordinary).toBe(true)
    }), { numRuns: 5000 })
    for (const s of ['10.0.0.1', '1.2.3.4', '223.255.255.255', '169.253.0.1']) expect(isOrdinaryIPv4(s)).toBe(true)
    for (const s of ['0.1.2.3', '127.0.0.1', '169.254.1.1', '224.0.0.1', '10.0.0.01', '10.0.0', '10.0.0.256', '1.2.3.4 ']) expect(isOrdinaryIPv4(s)).toBe(false)
  })
})
