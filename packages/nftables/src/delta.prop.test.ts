/**
 * full(OLD) then the delta transaction leaves exactly the table full(NEW) leaves, on a model of
 * nft's transaction rules (§10.7: add before use, flush needs the chain, no deleting a chain or
 * set something still refers to, EEXIST on re-adding an element, ENOENT on deleting a missing one).
 */
import fc from 'fast-check'
import { ModelStore, type ProxyModel, buildModel, sortAddresses } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { SERVICE_CIDR_SETS, arbClusterPair, storeModels } from '../../../test/delta-cases.js'
import { objectChanges } from '../../cli/src/changes.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { type FragmentCache, assembleRuleset, compileParts, createFragmentCache, elementKey } from './compile.js'
import { deltaTransaction } from './delta.js'
import type { Op, Ruleset } from './ir.js'
import { writeOp } from './write-json.js'
import { renderText } from './render-text.js'

interface Table {
  chains: Map<string, { spec: string; rules: string[] }>
  sets: Map<string, { spec: string; elements: Map<string, string> }>
}

/** Applies one transaction; throws where nft would reject it. */
function apply(state: { table?: Table }, rs: Ruleset): void {
  const ctx = { family: rs.family, table: rs.table }
  const refs = (t: Table, name: string) => {
    for (const c of t.chains.values()) if (c.rules.some((r) => r.includes(`"target":"${name}"`))) return true
    for (const s of t.sets.values()) for (const v of s.elements.values()) if (v.includes(`"target":"${name}"`)) return true
    return false
  }
  const setRefs = (t: Table, name: string) => [...t.chains.values()].some((c) => c.rules.some((r) => r.includes(`"@${name}"`)))
  for (const op of rs.ops as Op[]) {
    const t = state.table
    if (op.kind === 'addTable') {
      state.table ??= { chains: new Map(), sets: new Map() }
      continue
    }
    if (!t) throw new Error(`${op.kind} without a table`)
    switch (op.kind) {
      case 'deleteTable':
        state.table = undefined
        break
      case 'addChain':
        if (!t.chains.has(op.name)) t.chains.set(op.name, { spec: JSON.stringify(op.base ?? null), rules: [] })
        break
      case 'flushChain': {
        const c = t.chains.get(op.name)
        if (!c) throw new Error(`flush of missing chain ${op.name}`)
        c.rules = []
        break
      }
      case 'deleteChain':
        if (!t.chains.has(op.name)) throw new Error(`delete of missing chain ${op.name}`)
        if ((t.chains.get(op.name)?.rules.length ?? 0) > 0 && op.name.includes('/')) throw new Error(`delete of non-empty chain ${op.name}`)
        if (refs(t, op.name)) throw new Error(`delete of referenced chain ${op.name}`)
        t.chains.delete(op.name)
        break
      case 'addSet':
        if (!t.sets.has(op.name)) t.sets.set(op.name, { spec: writeOp({ ...op, comment: undefined } as Op, ctx), elements: new Map() })
        break
      case 'flushSet':
        t.sets.get(op.name)?.elements.clear()
        break
      case 'deleteSet':
        if (!t.sets.has(op.name)) throw new Error(`delete of missing set ${op.name}`)
        if (setRefs(t, op.name)) throw new Error(`delete of set in use ${op.name}`)
        t.sets.delete(op.name)
        break
      case 'addElement': {
        const s = t.sets.get(op.name)
        if (!s) throw new Error(`element of missing set ${op.name}`)
        const k = elementKey(op.key)
        if (s.elements.has(k)) throw new Error(`EEXIST ${op.name} ${k}`)
        if (op.value && (op.value.kind === 'goto' || op.value.kind === 'jump') && !t.chains.has(op.value.target)) throw new Error(`element to missing chain ${op.value.target}`)
        s.elements.set(k, JSON.stringify([op.value ?? null, op.comment ?? null]))
        break
      }
      case 'deleteElement': {
        const s = t.sets.get(op.name)
        const k = elementKey(op.key)
        if (!s?.elements.has(k)) throw new Error(`ENOENT ${op.name} ${k}`)
        s.elements.delete(k)
        break
      }
      case 'addRule': {
        const c = t.chains.get(op.chain)
        if (!c) throw new Error(`rule in missing chain ${op.chain}`)
        const text = writeOp(op, ctx)
        for (const m of text.matchAll(/"target":"([^"]+)"/g)) if (!t.chains.has(m[1] as string)) throw new Error(`rule to missing chain ${m[1]}`)
        c.rules.push(text)
        break
      }
    }
  }
}

function dump(state: { table?: Table }): string {
  const t = state.table
  if (!t) return 'no table'
  const chains = [...t.chains].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, c]) => `chain ${n} ${c.spec}\n${c.rules.join('\n')}`)
  const sets = [...t.sets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => `set ${n} ${s.spec}\n${[...s.elements].sort().map(([k, v]) => `${k} ${v}`).join('\n')}`)
  return [...chains, ...sets].join('\n')
}

function check(old: ProxyModel, next: ProxyModel, cache: FragmentCache | undefined): Ruleset {
  const before = compileParts(old, { family: 'IPv4' }, cache)
  const after = compileParts(next, { family: 'IPv4' }, cache)
  const state: { table?: Table } = {}
  apply(state, assembleRuleset(before))
  const delta = deltaTransaction(before, after)
  apply(state, delta)
  const fresh: { table?: Table } = {}
  apply(fresh, assembleRuleset(after))
  expect(dump(state)).toBe(dump(fresh))
  return delta
}

const options = { nodeName: 'n1', families: ['IPv4'] as const, mode: 'nftables' as const }

describe('nftables delta', () => {
  it('full(OLD) + delta = full(NEW), with shared fragments (one store) and without', () => {
    fc.assert(fc.property(arbClusterPair(), (pair) => {
      const m = storeModels(pair, { ...options, families: ['IPv4'] })
      check(m.old, m.next, createFragmentCache())
      check(buildModel(pair.old, { ...options, families: ['IPv4'] }), buildModel(pair.next, { ...options, families: ['IPv4'] }), undefined)
    }), { numRuns: 150 })
  })

  it('successive deltas (the element index handed from compile to compile) add up to the last full ruleset', () => {
    fc.assert(fc.property(arbClusterPair(), arbClusterPair(), arbClusterPair(), (a, b, c) => {
      const store = new ModelStore({ ...options, families: ['IPv4'] }, a.old)
      const cache = createFragmentCache()
      let parts = compileParts(store.model, { family: 'IPv4' }, cache)
      const state: { table?: Table } = {}
      apply(state, assembleRuleset(parts))
      let objects = a.old
      for (const target of [a.next, b.next, c.next, a.next]) {
        const model = store.apply(objectChanges(objects, target)).model
        objects = target
        const next = compileParts(model, { family: 'IPv4' }, cache)
        apply(state, deltaTransaction(parts, next))
        parts = next
        const fresh: { table?: Table } = {}
        apply(fresh, assembleRuleset(compileParts(model, { family: 'IPv4' })))
        expect(dump(state)).toBe(dump(fresh))
      }
    }), { numRuns: 100 })
  })

  it('a change of ServiceCIDR objects alone keeps every port fragment and changes the drop of unallocated ClusterIPs to the new CIDRs', () => {
    fc.assert(fc.property(arbClusterPair(), fc.nat(SERVICE_CIDR_SETS.length - 1), (pair, i) => {
      const next = { ...pair.old, serviceCIDRs: [...(SERVICE_CIDR_SETS[i] ?? [])] }
      const store = new ModelStore({ ...options, families: ['IPv4'] }, pair.old)
      const cache = createFragmentCache()
      const old = store.model
      const before = compileParts(old, { family: 'IPv4' }, cache)
      const model = store.apply(objectChanges(pair.old, next)).model
      expect(model.families[0]?.servicePorts).toBe(old.families[0]?.servicePorts)
      const after = compileParts(model, { family: 'IPv4' }, cache)
      after.ports.forEach((p, k) => expect(p).toBe(before.ports[k]))
      // The chain is rewritten in place, as kube-proxy does each sync: the table and its sets stay.
      const delta = check(old, model, cache)
      const same = JSON.stringify(old.families[0]?.serviceCIDRs) === JSON.stringify(model.families[0]?.serviceCIDRs)
      const rules = (model.families[0]?.serviceCIDRs.length ?? 0) > 0 ? ['addRule', 'addRule'] : ['addRule']
      expect(delta.ops.map((o) => o.kind)).toEqual(same ? [] : ['addChain', 'flushChain', ...rules])
      const cidrs = next.serviceCIDRs.flatMap((o) => o.spec.cidrs).filter((c) => !c.includes(':'))
      const drop = renderText(assembleRuleset(after)).split('\n').filter((l) => l.includes('Drop traffic to unallocated ClusterIPs'))
      expect(drop).toEqual(cidrs.length === 0 ? [] : [`add rule ip kube-proxy cluster-ips-check ip daddr { ${sortAddresses(cidrs).join(',')} } drop comment "Drop traffic to unallocated ClusterIPs"`])
      // The --service-cidr option adds to the objects' CIDRs.
      const withOption = renderText(assembleRuleset(compileParts(model, { family: 'IPv4', serviceCIDRs: ['10.96.0.0/16', '10.200.0.0/16'] })))
      expect(withOption).toContain(`ip daddr { ${sortAddresses([...cidrs, '10.96.0.0/16', '10.200.0.0/16']).join(',')} } drop`)
    }), { numRuns: 60 })
  })

  it('is empty without a change', () => {
    fc.assert(fc.property(arbClusterPair(), (pair) => {
      const m = buildModel(pair.old, { ...options, families: ['IPv4'] })
      expect(check(m, m, createFragmentCache()).ops).toEqual([])
      expect(check(m, buildModel(pair.old, { ...options, families: ['IPv4'] }), undefined).ops).toEqual([])
    }), { numRuns: 50 })
  })

  it('a one-endpoint change in a large cluster rewrites one chain and one hairpin element at most', () => {
    const objects = syntheticCluster({ services: 300, endpointsPerService: 5 })
    const store = new ModelStore({ ...options, families: ['IPv4'] }, objects)
    const cache = createFragmentCache()
    const before = compileParts(store.model, { family: 'IPv4' }, cache)
    const slice = objects.endpointSlices[7]!
    const changed = { ...slice, endpoints: (slice.endpoints ?? []).map((e, i) => (i === 1 ? { ...e, addresses: ['10.200.0.1'] } : e)) }
    const after = compileParts(store.apply([{ op: 'upsert', kind: 'EndpointSlice', object: changed }]).model, { family: 'IPv4' }, cache)
    const d = deltaTransaction(before, after)
    // add chain, flush chain, the one DNAT rule: endpoint 1 is on n2, so no hairpin element.
    expect(d.ops.map((o) => o.kind)).toEqual(['addChain', 'flushChain', 'addRule'])
  })
})
