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
import { watchCommand } from './commands/watch.js'
import type { IO } from './io.js'

const input = readFileSync(new URL('../../../fixtures/affinity/input.yaml', import.meta.url), 'utf8')
const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1' }
const event = (type: string, kind: string, object: object) => `${JSON.stringify({ type, object: { apiVersion: API[kind], kind, ...object } })}\n`

async function watch(chunks: string[], runner: Runner): Promise<string> {
  let stderr = ''
  const io: IO = {
    stdout: () => {},
    stderr: (t) => void (stderr += t),
    stdin: async () => chunks.join(''),
    stdinChunks: async function* () {
      for (const c of chunks) {
        yield c
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    stdinIsTTY: false,
    env: {},
  }
  const cmd = watchCommand(io, () => runner)
  cmd.exitOverride()
  await cmd.parseAsync(['--mode', 'nftables', '--apply', '--min-sync-period', '0s', '--detect-local-mode', 'NodeCIDR'], { from: 'user' })
  return stderr
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
    const stderr = await watch([first.join(''), event('MODIFIED', 'Node', withCIDR('10.244.7.0/24'))], runner)
    const reads = calls.filter((c) => c.argv.includes('list'))
    const transactions = calls.filter((c) => c.mutates && c.argv[0] === 'nft')
    // One read and one transaction per full apply; the second sync must not send the delta.
    expect(reads).toHaveLength(2)
    expect(transactions).toHaveLength(2)
    expect(stderr).toContain('restates the whole table: applying the full ruleset in place instead')
    expect(transactions[1]?.stdin).toContain('"addr":"10.244.7.0"')
  })
})
