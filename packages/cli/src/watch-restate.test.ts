/**
 * `kproxc watch --apply --mode nftables` when a change reaches the fixed part of the table (here the
 * node's pod CIDR under detect-local NodeCIDR): the delta transaction would delete and re-create the
 * `kube-proxy` table, wiping every affinity set, so watch runs the full applier instead, which reads
 * the table and updates it in place. A recording runner stands in for nft.
 */
import { loadObjects } from '@kproxc/core'
import type { Command, Runner } from '@kproxc/iptables/apply'
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { runWatch } from './watch-harness.js'

const input = readFileSync(new URL('../../../fixtures/affinity/input.yaml', import.meta.url), 'utf8')
const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1', ServiceCIDR: 'networking.k8s.io/v1' }
const event = (type: string, kind: string, object: object) => `${JSON.stringify({ type, object: { apiVersion: API[kind], kind, ...object } })}\n`

async function watch(chunks: string[], runner: Runner, flags: string[] = ['--apply', '--detect-local-mode', 'NodeCIDR']): Promise<{ stdout: string; stderr: string }> {
  return runWatch({ argv: ['--mode', 'nftables', '--initial-settle', '0s', '--min-sync-period', '0s', ...flags], chunks, runner })
}

describe('watch --apply, nftables, a change to the fixed part', () => {
  it('applies in full (reading the table first) instead of sending a table-replacing delta', async () => {
    const objects = loadObjects([{ name: 'affinity.yaml', text: input }])
    const node = objects.nodes[0] as (typeof objects.nodes)[number]
    const withCIDR = (cidr: string) => ({ ...node, spec: { ...node.spec, podCIDR: cidr, podCIDRs: [cidr] } })
    const first = [event('ADDED', 'Node', withCIDR('10.244.1.0/24')), ...objects.services.map((s) => event('ADDED', 'Service', s)), ...objects.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s))]
    const calls: Command[] = []
    const runner: Runner = async (c) => {
      calls.push(c)
      return { code: 0, stdout: '', stderr: '' }
    }
    const { stderr } = await watch([first.join(''), event('MODIFIED', 'Node', withCIDR('10.244.7.0/24'))], runner)
    const reads = calls.filter((c) => c.argv.includes('list'))
    const transactions = calls.filter((c) => c.mutates && c.argv[0] === 'nft')
    // One read and one transaction per full apply; the second sync must not send the delta.
    expect(reads).toHaveLength(2)
    expect(transactions).toHaveLength(2)
    expect(stderr).toContain('restates the whole table: applying the full ruleset in place instead')
    expect(transactions[1]?.stdin).toContain('"addr":"10.244.7.0"')
  })
})

describe('watch, nftables, ServiceCIDR events', () => {
  it('adds and removes the unallocated-ClusterIP drop with a rewrite of cluster-ips-check alone', async () => {
    const objects = loadObjects([{ name: 'affinity.yaml', text: input }])
    const first = [...objects.nodes.map((n) => event('ADDED', 'Node', n)), ...objects.services.map((s) => event('ADDED', 'Service', s)), ...objects.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s))]
    const cidr = { metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16'] } }
    const noop: Runner = async () => ({ code: 0, stdout: '', stderr: '' })
    const { stdout, stderr } = await watch([first.join(''), event('ADDED', 'ServiceCIDR', cidr), event('DELETED', 'ServiceCIDR', cidr)], noop, ['--format', 'text'])
    // Each sync's output, cut from stdout by the byte counts watch reports on stderr.
    let at = 0
    const [full, added, removed] = [...stderr.matchAll(/(\d+) bytes of output/g)].map((m) => stdout.slice(at, (at += Number(m[1]))))
    expect(at).toBe(stdout.length)
    expect(full).not.toContain('Drop traffic to unallocated ClusterIPs')
    expect(added).toBe(
      'add chain ip kube-proxy cluster-ips-check\n' +
        'flush chain ip kube-proxy cluster-ips-check\n' +
        'add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"\n' +
        'add rule ip kube-proxy cluster-ips-check ip daddr { 10.96.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"\n',
    )
    expect(removed).not.toContain('unallocated')
    expect(removed).toContain('flush chain ip kube-proxy cluster-ips-check')
  })
})
