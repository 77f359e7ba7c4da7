import { buildModel, loadObjects } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { scenarioModel, scenarioYaml } from '../../../test/apply-scenario.js'
import { readFileSync } from 'node:fs'
import { planApply, planTransaction, staleChainDeletes, udpDnatTargets } from './apply-plan.js'
import { compile } from './compile.js'
import { stickyModel } from './testdata/affinity-scenario.js'

/** See apply-full.test.ts for how it was recorded. */
const RECORDED = JSON.parse(readFileSync(new URL('./testdata/listing-sticky-a.json', import.meta.url), 'utf8')) as unknown

describe('planTransaction', () => {
  it('joins every family into one JSON transaction that names only kube-proxy tables', () => {
    const yaml = scenarioYaml('A').replace('address: "192.168.0.2"}', 'address: "192.168.0.2"}\n    - {type: InternalIP, address: "fd00::2"}')
    const model = buildModel(loadObjects([{ name: 'a.yaml', text: yaml }]), { mode: 'nftables', nodeName: 'n1' })
    expect(model.families.map((f) => f.family)).toEqual(['IPv4', 'IPv6'])
    const plan = planTransaction(model.families.map((f) => compile(model, { family: f.family })))
    const doc = JSON.parse(plan.payload) as { nftables: Record<string, Record<string, { family: string; table?: string; name?: string }>>[] }
    expect(plan.tables).toEqual(['ip kube-proxy', 'ip6 kube-proxy'])
    const tables = new Set(doc.nftables.map((c) => { const o = Object.values(Object.values(c)[0] ?? {})[0]; return `${o?.family} ${o?.table ?? o?.name}` }))
    expect([...tables].sort()).toEqual(['ip kube-proxy', 'ip6 kube-proxy'])
    // Each family's table is replaced whole: add, delete, add, in one transaction.
    expect(doc.nftables.slice(0, 3).map((c) => Object.keys(c)[0])).toEqual(['add', 'delete', 'add'])
    expect(plan.counts.rules).toBeGreaterThan(0)
  })

  it('udpDnatTargets reads both dnat forms, UDP only', () => {
    const a = planTransaction([compile(scenarioModel('A', 'nftables'), { family: 'IPv4' })])
    expect([...udpDnatTargets(JSON.parse(a.payload))].sort()).toEqual(['10.244.1.5:5353', '10.244.2.5:5353'])
    const b = planTransaction([compile(scenarioModel('B', 'nftables'), { family: 'IPv4' })])
    expect([...udpDnatTargets(JSON.parse(b.payload))]).toEqual(['10.244.1.5:5353'])
    const listed = { nftables: [{ rule: { expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } }, { dnat: { addr: 'fd00::5', port: 53 } }] } }] }
    expect([...udpDnatTargets(listed)]).toEqual(['[fd00::5]:53'])
  })

  it('planApply replaces a family without a listing and updates a listed one in place, in one document', () => {
    const v4 = compile(stickyModel('B', 300), { family: 'IPv4' })
    const cold = planApply([v4], [null])
    expect(cold.payload).toBe(planTransaction([v4]).payload)
    expect(cold.families).toEqual([{ family: 'ip', table: 'kube-proxy', kind: 'replace' }])

    const warm = planApply([v4], [RECORDED])
    const doc = JSON.parse(warm.payload) as { nftables: Record<string, Record<string, { name?: string; table?: string }>>[] }
    expect(warm.families[0]).toMatchObject({ kind: 'in-place', summary: { keptAffinitySets: 2, staleChains: ['service-525EHWLU-default/gone/tcp/p'] } })
    expect(doc.nftables.filter((c) => c.delete?.table)).toEqual([])
    expect(doc.nftables.at(-1)).toEqual({ delete: { chain: { family: 'ip', table: 'kube-proxy', name: 'service-525EHWLU-default/gone/tcp/p' } } })
    expect(staleChainDeletes(warm)).toBe('{"nftables":[\n{"delete":{"chain":{"family":"ip","table":"kube-proxy","name":"service-525EHWLU-default/gone/tcp/p"}}}\n]}\n')
    expect(staleChainDeletes(cold)).toBe('')
    // The two kept affinity sets are not added again, but still counted as part of the table.
    expect(doc.nftables.filter((c) => c.add?.set?.name?.startsWith('affinity-'))).toEqual([])
    expect(warm.counts).toEqual(cold.counts)
  })

  it('planApply mixes the two ways in one transaction: a listed family in place, a new one replaced', () => {
    const yaml = scenarioYaml('A').replace('address: "192.168.0.2"}', 'address: "192.168.0.2"}\n    - {type: InternalIP, address: "fd00::2"}')
    const model = buildModel(loadObjects([{ name: 'a.yaml', text: yaml }]), { mode: 'nftables', nodeName: 'n1' })
    const plan = planApply(model.families.map((f) => compile(model, { family: f.family })), [RECORDED, null])
    expect(plan.families.map((f) => `${f.family} ${f.kind}`)).toEqual(['ip in-place', 'ip6 replace'])
    const doc = JSON.parse(plan.payload) as { nftables: Record<string, Record<string, { family: string }>>[] }
    expect(doc.nftables.filter((c) => c.delete?.table).map((c) => c.delete?.table?.family)).toEqual(['ip6'])
    // The recorded table has `sticky`, this state does not: its sets go, in the same document.
    expect(doc.nftables.filter((c) => c.delete?.set).map((c) => c.delete?.set?.family)).toEqual(['ip', 'ip'])
  })
})
