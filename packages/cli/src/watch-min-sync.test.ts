/**
 * Where `kproxc watch` takes minSyncPeriod from: --min-sync-period when given, else the --config
 * file's field of the running mode's section (iptables treats 0 as unset, as kube-proxy's v1alpha1
 * defaulting does), else 1s. Observed through the number of syncs: three bursts of events 150 ms
 * apart are three syncs when the period is 0 and two (the last two batched) when it is longer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ProxyMode } from '@kproxc/core'
import { afterAll, describe, expect, it } from 'vitest'
import { syntheticCluster } from '../../../test/synthetic.js'
import { watchCommand } from './commands/watch.js'
import { runWatch } from './watch-harness.js'
import { minSyncPeriod } from './watch-plan.js'

const dir = mkdtempSync(join(tmpdir(), 'kproxc-watch-min-sync-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const objects = syntheticCluster({ services: 3, endpointsPerService: 2 })
const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1' }
const event = (type: string, kind: string, object: unknown) => `${JSON.stringify({ type, object: { apiVersion: API[kind], kind, ...(object as object) } }, null, 2)}\n`
const moved = (i: number, ip: string) => {
  const s = objects.endpointSlices[i]!
  return event('MODIFIED', 'EndpointSlice', { ...s, endpoints: (s.endpoints ?? []).map((e, j) => (j === 0 ? { ...e, addresses: [ip] } : e)) })
}
const chunks = [
  [...objects.nodes.map((n) => event('ADDED', 'Node', n)), ...objects.services.map((s) => event('ADDED', 'Service', s)), ...objects.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s))].join(''),
  moved(0, '10.200.0.1'),
  moved(1, '10.200.0.2'),
]

function config(name: string, sections: Record<string, unknown>): string {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', ...objects.config, ...sections }))
  return file
}

/** How many syncs watch ran over the three bursts. */
async function syncs(mode: ProxyMode, args: string[]): Promise<number> {
  const { stderr } = await runWatch({ argv: ['--mode', mode, '--initial-settle', '0s', ...args], chunks, gapMs: 150 })
  return stderr.split('\n').filter((l) => /^kproxc watch: sync \d+ /.test(l)).length
}

describe('kproxc watch: minSyncPeriod', () => {
  const fast = config('fast', { iptables: { minSyncPeriod: '10s' }, ipvs: { minSyncPeriod: '0s' }, nftables: { minSyncPeriod: '0s' } })
  const zeroIptables = config('zero', { iptables: { minSyncPeriod: '0s' } })

  it('takes the running mode\'s section of the config', async () => {
    expect(await syncs('ipvs', ['--config', fast])).toBe(3)
    expect(await syncs('nftables', ['--config', fast])).toBe(3)
    expect(await syncs('iptables', ['--config', fast])).toBe(2)
  })

  it('an explicit --min-sync-period wins over the config', async () => {
    expect(await syncs('iptables', ['--config', fast, '--min-sync-period', '0s'])).toBe(3)
    expect(await syncs('ipvs', ['--config', fast, '--min-sync-period', '1s'])).toBe(2)
  })

  it('without flag or config field, 1s; iptables.minSyncPeriod 0s is 1s as in kube-proxy', async () => {
    expect(await syncs('nftables', [])).toBe(2)
    expect(await syncs('iptables', ['--config', zeroIptables])).toBe(2)
  })

  it('--help says where the default comes from', () => {
    const help = watchCommand({ stdout: () => {}, stderr: () => {}, stdin: async () => '', stdinIsTTY: true, env: {} }).helpInformation().replace(/\s+/g, ' ')
    expect(help).toContain("default: the --config file's minSyncPeriod of the --mode section, else 1s")
  })

  it('resolves the value and says where it came from', () => {
    expect(minSyncPeriod('250ms', { iptables: { minSyncPeriod: '5s' } }, 'iptables')).toEqual({ seconds: 0.25, source: '--min-sync-period' })
    expect(minSyncPeriod(undefined, { iptables: { minSyncPeriod: '5s' }, ipvs: { minSyncPeriod: '2s' } }, 'ipvs')).toEqual({ seconds: 2, source: 'ipvs.minSyncPeriod of --config' })
    expect(minSyncPeriod(undefined, { ipvs: { minSyncPeriod: '2s' } }, 'nftables')).toEqual({ seconds: 1, source: 'default' })
    expect(minSyncPeriod(undefined, { nftables: { minSyncPeriod: '0s' } }, 'nftables')).toEqual({ seconds: 0, source: 'nftables.minSyncPeriod of --config' })
    expect(() => minSyncPeriod('soon', undefined, 'iptables')).toThrow('--min-sync-period "soon" is not a duration such as 1s')
  })
})
