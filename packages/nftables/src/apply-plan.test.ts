import { buildModel, loadObjects } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { scenarioModel, scenarioYaml } from '../../../test/apply-scenario.js'
import { planTransaction, udpDnatTargets } from './apply-plan.js'
import { compile } from './compile.js'

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
})
