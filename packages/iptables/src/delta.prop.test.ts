/**
 * full(OLD) then delta loads to exactly full(NEW), checked on an iptables-restore model (chains
 * declared under --noflush are created or flushed, -A needs the chain, -X needs it empty and
 * unreferenced); and a delta touches only chains whose rules changed.
 */
import fc from 'fast-check'
import { buildModel, type ProxyModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbClusterPair, storeModels } from '../../../test/delta-cases.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { ModelStore, changedFragments } from '@kproxc/core'
import { type FragmentCache, assembleRuleset, compileParts, compileRuleset, createFragmentCache } from './compile.js'
import { objectChanges } from '../../cli/src/changes.js'
import { deltaRestore, diffRuleset } from './delta.js'
import { portChanges } from './incremental.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'

type Tables = Map<string, Map<string, string[]>>

/** iptables-restore --noflush over `state` (builtin chains exist implicitly). */
export function restore(state: Tables, text: string): void {
  let table: Map<string, string[]> | undefined
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('*')) {
      const name = line.slice(1)
      if (!state.has(name)) state.set(name, new Map())
      table = state.get(name)
    } else if (line === 'COMMIT') table = undefined
    else if (!table) throw new Error(`outside a table: ${line}`)
    else if (line.startsWith(':')) table.set(line.slice(1).split(' ')[0] as string, [])
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1] as string
      const builtin = /^[A-Z]+$/.test(chain) && !chain.startsWith('KUBE')
      if (!table.has(chain) && !builtin) throw new Error(`-A to missing chain ${chain}`)
      if (!table.has(chain)) table.set(chain, [])
      table.get(chain)?.push(line)
    } else if (line.startsWith('-X ')) {
      const chain = line.slice(3)
      if (!table.has(chain)) throw new Error(`-X of missing chain ${chain}`)
      if ((table.get(chain) ?? []).length > 0) throw new Error(`-X of non-empty chain ${chain}`)
      for (const rules of table.values()) if (rules.some((r) => r.endsWith(` -j ${chain}`) || r.includes(` -j ${chain} `))) throw new Error(`-X of referenced chain ${chain}`)
      table.delete(chain)
    } else throw new Error(`unknown line ${line}`)
  }
}

function dump(state: Tables): string {
  return [...state].sort().map(([t, chains]) => `*${t}\n${[...chains].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, rules]) => `:${c}\n${rules.join('\n')}`).join('\n')}`).join('\n')
}

function check(old: ProxyModel, next: ProxyModel, cache: FragmentCache | undefined): string {
  const before = compileParts(old, 'IPv4', DEFAULT_OPTIONS, cache)
  const after = compileParts(next, 'IPv4', DEFAULT_OPTIONS, cache)
  const state: Tables = new Map()
  restore(state, renderRuleset(assembleRuleset(before)))
  const delta = deltaRestore(before, after)
  restore(state, delta)
  const fresh: Tables = new Map()
  restore(fresh, renderRuleset(assembleRuleset(after)))
  expect(dump(state)).toBe(dump(fresh))
  return delta
}

const options = { nodeName: 'n1', families: ['IPv4'] as const, mode: 'iptables' as const }

describe('iptables delta', () => {
  it('full(OLD) + delta = full(NEW), with shared fragments (one store) and without', () => {
    fc.assert(fc.property(arbClusterPair(), (pair) => {
      const m = storeModels(pair, { ...options, families: ['IPv4'] })
      check(m.old, m.next, createFragmentCache())
      check(buildModel(pair.old, { ...options, families: ['IPv4'] }), buildModel(pair.next, { ...options, families: ['IPv4'] }), undefined)
    }), { numRuns: 150 })
  })

  it('successive deltas with one cache add up to the last full ruleset', () => {
    fc.assert(fc.property(arbClusterPair(), arbClusterPair(), (a, b) => {
      const store = new ModelStore({ ...options, families: ['IPv4'] }, a.old)
      const cache = createFragmentCache()
      let parts = compileParts(store.model, 'IPv4', DEFAULT_OPTIONS, cache)
      const state: Tables = new Map()
      restore(state, renderRuleset(assembleRuleset(parts)))
      let objects = a.old
      for (const target of [a.next, b.next, a.old]) {
        const model = store.apply(objectChanges(objects, target)).model
        objects = target
        const next = compileParts(model, 'IPv4', DEFAULT_OPTIONS, cache)
        restore(state, deltaRestore(parts, next))
        parts = next
        const fresh: Tables = new Map()
        restore(fresh, renderRuleset(compileRuleset(model, 'IPv4')))
        expect(dump(state)).toBe(dump(fresh))
      }
    }), { numRuns: 100 })
  })

  it('is empty without a change, and from a model to itself', () => {
    fc.assert(fc.property(arbClusterPair(), (pair) => {
      const m = buildModel(pair.old, { ...options, families: ['IPv4'] })
      expect(check(m, m, createFragmentCache())).toBe('')
      expect(check(m, buildModel(pair.old, { ...options, families: ['IPv4'] }), undefined)).toBe('')
    }), { numRuns: 50 })
  })

  it('incremental compiles equal compiles from scratch as ports change, come and go, and keep unchanged fragments', () => {
    // 40 services in 8 namespaces: big enough for a common head and tail around the changes, with
    // single changes (the incremental paths) and bulk ones (more than it handles, or the cluster
    // crossing the large-cluster size: compiled from scratch).
    const base = syntheticCluster({ services: 40, endpointsPerService: 3, affinityEvery: 7 })
    const extra = syntheticCluster({ services: 80, endpointsPerService: 12 })
    type Op = { kind: 'move' | 'add' | 'delete' | 'grow'; i: number; n?: undefined } | { kind: 'bulk'; n: number; i?: undefined }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constantFrom('move' as const, 'add' as const, 'delete' as const), i: fc.nat(79) }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant('grow' as const), i: fc.nat(79) }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant('bulk' as const), n: fc.integer({ min: 20, max: 80 }) }), weight: 1 },
    )
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 8 }), (ops) => {
      const store = new ModelStore({ ...options, families: ['IPv4'] }, base)
      const cache = createFragmentCache()
      let model = store.model
      let parts = compileParts(model, 'IPv4', DEFAULT_OPTIONS, cache)
      const state: Tables = new Map()
      restore(state, renderRuleset(assembleRuleset(parts)))
      let serial = 0
      for (const o of ops) {
        const svc = (i: number) => extra.services[i]!
        const slice = (i: number) => extra.endpointSlices[i]!
        const moved = (i: number) => ({ ...slice(i), endpoints: (slice(i).endpoints ?? []).map((e, k) => (k === 0 ? { ...e, addresses: [`10.250.${serial >> 8}.${serial++ & 255}`] } : e)) })
        // One port alone takes the cluster past the large-cluster size (its fragment and every other change).
        const grown = (i: number) => ({ ...slice(i), endpoints: Array.from({ length: 1000 }, (_, k) => ({ ...(slice(i).endpoints ?? [])[0]!, addresses: [`10.251.${k >> 8}.${k & 255}`] })) })
        const changes: Parameters<ModelStore['apply']>[0] = o.kind === 'bulk'
          ? Array.from({ length: o.n }, (_, i) => [{ op: 'upsert' as const, kind: 'Service' as const, object: svc(i) }, { op: 'upsert' as const, kind: 'EndpointSlice' as const, object: moved(i) }]).flat()
          : o.kind === 'add' ? [{ op: 'upsert', kind: 'Service', object: svc(o.i) }, { op: 'upsert', kind: 'EndpointSlice', object: slice(o.i) }]
            : o.kind === 'delete' ? [{ op: 'delete', kind: 'Service', namespace: svc(o.i).metadata.namespace!, name: svc(o.i).metadata.name }]
              : o.kind === 'grow' ? [{ op: 'upsert', kind: 'EndpointSlice', object: grown(o.i % 40) }]
                : [{ op: 'upsert', kind: 'EndpointSlice', object: moved(o.i % 40) }]
        const next = store.apply(changes).model
        const after = compileParts(next, 'IPv4', DEFAULT_OPTIONS, cache)
        expect(renderRuleset(assembleRuleset(after))).toBe(renderRuleset(compileRuleset(next, 'IPv4')))
        // What the compile recorded is what comparing the two port lists finds.
        expect(portChanges(parts, after)).toEqual(changedFragments(parts.ports, after.ports))
        restore(state, deltaRestore(parts, after))
        const fresh: Tables = new Map()
        restore(fresh, renderRuleset(assembleRuleset(after)))
        expect(dump(state)).toBe(dump(fresh))
        // A port whose model object survived keeps its fragment (unless the cluster size class changed).
        const before = new Map(model.families[0]!.servicePorts.map((p) => [p.key, p]))
        const kept = new Map(parts.ports.map((p) => [p.key, p.fragment]))
        const large = (m: ProxyModel) => m.families[0]!.servicePorts.reduce((n, p) => n + p.endpoints.length, 0) > 1000
        if (large(model) === large(next)) {
          for (const p of next.families[0]!.servicePorts) {
            if (before.get(p.key) === p) expect(after.ports.find((e) => e.key === p.key)?.fragment).toBe(kept.get(p.key))
          }
        }
        model = next
        parts = after
      }
    }), { numRuns: 30 })
  })

  it('rewrites only the chains of a changed endpoint in a large cluster, and deletes the stale one', () => {
    const objects = syntheticCluster({ services: 300, endpointsPerService: 5 })
    const store = new ModelStore({ ...options, families: ['IPv4'] }, objects)
    const cache = createFragmentCache()
    const before = compileParts(store.model, 'IPv4', DEFAULT_OPTIONS, cache)
    const slice = objects.endpointSlices[7]!
    const changed = { ...slice, endpoints: (slice.endpoints ?? []).map((e, i) => (i === 0 ? { ...e, addresses: ['10.200.0.1'] } : e)) }
    const next = store.apply([{ op: 'upsert', kind: 'EndpointSlice', object: changed }]).model
    const after = compileParts(next, 'IPv4', DEFAULT_OPTIONS, cache)
    const d = diffRuleset(before, after)
    expect(d.filter.chains).toEqual([])
    // The SVC chain, the new SEP chain, and the old SEP chain (flushed, then deleted).
    expect(d.nat.chains.filter((c) => c.startsWith('KUBE-SVC-'))).toHaveLength(1)
    expect(d.nat.chains.filter((c) => c.startsWith('KUBE-SEP-'))).toHaveLength(2)
    expect(d.nat.chains).toHaveLength(3)
    expect(d.nat.deleted).toHaveLength(1)
    expect(d.nat.rules.every((r) => !r.chain.startsWith('KUBE-SERVICES'))).toBe(true)
    // SVC: the off-cluster masquerade rule and 5 endpoint rules; the new SEP: hairpin and DNAT.
    expect(d.nat.rules).toHaveLength(6 + 2)
  })
})
