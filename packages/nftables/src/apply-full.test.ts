/**
 * planFullSync against a recorded listing: testdata/listing-sticky-a.json is `nft -j list table ip
 * kube-proxy` (nft 1.0.6, Linux 6.18) after a fresh apply of stickyModel('A', 300) and one client
 * entry (10.0.0.9) added to the affinity set of endpoint 10.244.1.5. The kernel tests in
 * apply.kernel.test.ts run the same plans for real.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { planFullSync } from './apply-full.js'
import { compile } from './compile.js'
import type { Op } from './ir.js'
import { parseTableListing } from './table-listing.js'
import { stickyModel } from './testdata/affinity-scenario.js'

const RECORDED = JSON.parse(readFileSync(new URL('./testdata/listing-sticky-a.json', import.meta.url), 'utf8')) as { nftables: Record<string, Record<string, unknown>>[] }
const live = parseTableListing(RECORDED, 'ip', 'kube-proxy')
const AFF1 = 'affinity-DKRCPAQX-default/sticky/tcp/p__10.244.1.5/8080'
const AFF2 = 'affinity-77AOEGQW-default/sticky/tcp/p__10.244.2.5/8080'
const STICKY_CHAIN = 'service-UWZAREQS-default/sticky/tcp/p'

const plan = (state: 'A' | 'B', timeout: number | null, listing = live, defer = false) =>
  planFullSync(compile(stickyModel(state, timeout), { family: 'IPv4' }), listing, { deferStaleChains: defer })
const idx = (ops: readonly Op[], pred: (o: Op) => boolean) => ops.findIndex(pred)
const is = (kind: Op['kind'], name: string) => (o: Op) => o.kind === kind && 'name' in o && o.name === name

describe('parseTableListing', () => {
  it('reads chains, base specs, set specs and which sets each chain names', () => {
    expect(live.chains.get('nat-prerouting')?.base).toEqual({ type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' })
    expect(live.chains.get('services')?.base).toBeUndefined()
    expect(live.sets.get(AFF1)).toEqual({ name: AFF1, container: 'set', type: ['ipv4_addr'], flags: ['timeout'], timeoutSeconds: 300, elements: 1 })
    expect(live.sets.get('service-ips')).toMatchObject({ container: 'map', type: ['ipv4_addr', 'inet_proto', 'inet_service'] })
    expect([...(live.chains.get(STICKY_CHAIN)?.setRefs ?? [])].sort()).toEqual([AFF2, AFF1])
    expect(parseTableListing(RECORDED, 'ip6', 'kube-proxy').chains.size).toBe(0)
  })
})

describe('planFullSync over the recorded table', () => {
  it('the same state: no table reset, every chain and non-affinity set flushed, affinity sets untouched', () => {
    const { ruleset, summary } = plan('A', 300)
    const ops = ruleset.ops
    expect(ops.filter((o) => o.kind === 'deleteTable' || o.kind === 'deleteChain' || o.kind === 'deleteSet')).toEqual([])
    expect(ops.filter((o) => o.kind === 'addTable')).toHaveLength(1)
    for (const name of live.chains.keys()) expect(idx(ops, is('flushChain', name)), name).toBeGreaterThan(-1)
    for (const s of live.sets.values()) {
      const flushed = idx(ops, is('flushSet', s.name)) > -1
      expect(flushed, s.name).toBe(!s.name.startsWith('affinity-'))
    }
    expect(ops.filter((o) => o.kind === 'addSet' && o.name.startsWith('affinity-'))).toEqual([])
    expect(summary).toEqual({ keptAffinitySets: 2, keptAffinityElements: 1, recreatedSets: [], staleChains: [], staleSets: [], recreatedBaseChains: [] })
    // The rules that use the kept sets come back after their chains were flushed.
    const update = idx(ops, (o) => o.kind === 'addRule' && o.stmts.some((s) => s.kind === 'setUpdate' && s.set === AFF1))
    expect(update).toBeGreaterThan(idx(ops, is('flushChain', 'endpoint-DKRCPAQX-default/sticky/tcp/p__10.244.1.5/8080')))
  })

  it('a stale chain is flushed before anything else and deleted at the end, after the maps that point at it', () => {
    const { ruleset, summary } = plan('B', 300)
    const ops = ruleset.ops
    const stale = 'service-525EHWLU-default/gone/tcp/p'
    expect(summary.staleChains).toEqual([stale])
    expect(ops[1]).toEqual({ kind: 'flushChain', name: stale })
    expect(ops.at(-1)).toEqual({ kind: 'deleteChain', name: stale })
    expect(idx(ops, is('flushSet', 'service-ips'))).toBeLessThan(ops.length - 1)
    expect(summary.keptAffinitySets).toBe(2)
    // Deferred (kernels before 6.2): flushed only.
    const d = plan('B', 300, live, true).ruleset.ops
    expect(d[1]).toEqual({ kind: 'flushChain', name: stale })
    expect(d.filter((o) => o.kind === 'deleteChain')).toEqual([])
  })

  it('without the affinity Service: its chains flushed first, its affinity sets deleted after them', () => {
    const { ruleset, summary } = plan('A', null)
    const ops = ruleset.ops
    expect(summary.staleSets).toEqual([AFF2, AFF1])
    expect(summary.staleChains).toEqual(['endpoint-77AOEGQW-default/sticky/tcp/p__10.244.2.5/8080', 'endpoint-DKRCPAQX-default/sticky/tcp/p__10.244.1.5/8080', STICKY_CHAIN])
    for (const chain of summary.staleChains) {
      expect(idx(ops, is('flushChain', chain))).toBeGreaterThan(0)
      expect(idx(ops, is('flushChain', chain))).toBeLessThan(idx(ops, is('deleteSet', AFF1)))
      expect(idx(ops, is('deleteChain', chain))).toBeGreaterThan(idx(ops, is('flushSet', 'service-ips')))
    }
    expect(ops.slice(-5).map((o) => o.kind)).toEqual(['deleteSet', 'deleteSet', 'deleteChain', 'deleteChain', 'deleteChain'])
  })

  it('a changed affinity timeout re-creates the set after every chain that names it was flushed', () => {
    const { ruleset, summary } = plan('A', 600)
    const ops = ruleset.ops
    expect(summary.recreatedSets).toEqual([AFF1, AFF2])
    expect(summary.keptAffinitySets).toBe(0)
    for (const set of [AFF1, AFF2]) {
      const del = idx(ops, is('deleteSet', set))
      expect(ops[del + 1]).toMatchObject({ kind: 'addSet', name: set, timeoutSeconds: 600 })
      expect(idx(ops, is('flushChain', STICKY_CHAIN))).toBeLessThan(del)
      expect(idx(ops, is('flushChain', `endpoint-${set.slice('affinity-'.length)}`))).toBeLessThan(del)
    }
  })

  it('re-creates a base chain only when its priority or policy differs, or when it should be regular', () => {
    const moved = JSON.parse(JSON.stringify(RECORDED)) as typeof RECORDED
    for (const o of moved.nftables) if (o.chain?.name === 'nat-output') o.chain.prio = -99
    for (const o of moved.nftables) if (o.chain?.name === 'filter-input') o.chain.policy = 'drop'
    for (const o of moved.nftables) if (o.chain?.name === 'services') Object.assign(o.chain, { type: 'nat', hook: 'output', prio: 5 })
    const { ruleset, summary } = plan('A', 300, parseTableListing(moved, 'ip', 'kube-proxy'))
    expect(summary.recreatedBaseChains).toEqual(['filter-input', 'nat-output', 'services'])
    const services = idx(ruleset.ops, is('deleteChain', 'services'))
    expect(ruleset.ops.slice(services, services + 3)).toEqual([{ kind: 'deleteChain', name: 'services' }, { kind: 'addChain', name: 'services' }, { kind: 'flushChain', name: 'services' }])
    const add = idx(ruleset.ops, (o) => o.kind === 'addChain' && o.name === 'nat-output' && !o.base)
    expect(ruleset.ops[add + 1]).toEqual({ kind: 'deleteChain', name: 'nat-output' })
    expect(ruleset.ops.filter((o) => o.kind === 'deleteChain')).toHaveLength(3)
  })

  it('a set whose listed spec differs is re-created; an unknown leftover set or map is deleted', () => {
    const odd = JSON.parse(JSON.stringify(RECORDED)) as typeof RECORDED
    for (const o of odd.nftables) if (o.set?.name === 'cluster-ips') o.set.flags = ['interval']
    odd.nftables.push({ map: { family: 'ip', table: 'kube-proxy', name: 'old-map', type: 'inet_service', map: 'verdict' } })
    odd.nftables.push({ rule: { family: 'ip', table: 'kube-proxy', chain: 'services', expr: [{ vmap: { key: 'x', data: '@old-map' } }] } })
    const { ruleset, summary } = plan('A', 300, parseTableListing(odd, 'ip', 'kube-proxy'))
    expect(summary.recreatedSets).toEqual(['cluster-ips'])
    expect(summary.staleSets).toEqual(['old-map'])
    expect(ruleset.ops.at(-1)).toEqual({ kind: 'deleteSet', name: 'old-map', container: 'map' })
    // The chains that name either are emptied before anything is deleted.
    const first = ruleset.ops.slice(1, idx(ruleset.ops, (o) => o.kind !== 'flushChain' && o.kind !== 'addTable'))
    expect(first).toEqual([{ kind: 'flushChain', name: 'cluster-ips-check' }, { kind: 'flushChain', name: 'services' }])
  })
})
