import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { scenarioYaml } from '../../../test/apply-scenario.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { clusterStats } from './commands/stats.js'
import { EXIT, type IO, run } from './main.js'

async function cli(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, env: {} }
  return { code: await run(argv, io), stdout, stderr }
}

describe('kproxc stats', () => {
  it('reports every mode for the node, as text and JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kproxc-stats-'))
    try {
      const file = join(dir, 'a.yaml')
      writeFileSync(file, scenarioYaml('A'))
      const r = await cli(['stats', file])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(EXIT.ok)
      expect(r.stdout).toContain('node n1, IPv4: 3 service ports, 5 endpoints')
      expect(r.stdout).toContain('first packet: up to 3 rules of nat KUBE-SERVICES before its Service matches')
      expect(r.stdout).toMatch(/ipvs\n {2}4 virtual servers, 7 real servers, 3 kube-ipvs0 addresses/)
      const j = await cli(['stats', file, '--json'])
      const data = JSON.parse(j.stdout) as { node: string; families: { ipvs: { virtualServers: number }; nftables: { perSet: Record<string, number> } }[] }
      expect(data.node).toBe('n1')
      expect(data.families[0]?.ipvs.virtualServers).toBe(4)
      expect(data.families[0]?.nftables.perSet['cluster-ips']).toBe(3)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('shows the iptables first-packet cost growing with Services while nftables and ipvs stay flat', () => {
    const at = (services: number) => {
      const objects = syntheticCluster({ services, endpointsPerService: 3 })
      const models = { iptables: 0, nftables: 0, ipvs: 0 } as Record<string, unknown>
      for (const m of ['iptables', 'nftables', 'ipvs'] as const) models[m] = buildModel(objects, { mode: m, nodeName: 'n1', families: ['IPv4'] })
      return clusterStats(models as Parameters<typeof clusterStats>[0])[0]
    }
    const small = at(10)
    const big = at(1000)
    expect(small?.iptables.firstPacketWorstCase).toBe(10)
    expect(big?.iptables.firstPacketWorstCase).toBe(1000)
    expect(big?.nftables.firstPacketRules).toBe(small?.nftables.firstPacketRules)
    expect(big?.ipvs.firstPacketRules).toBe(small?.ipvs.firstPacketRules)
    expect(big?.ipvs.virtualServers).toBeGreaterThanOrEqual(1000)
    expect(big?.nftables.perSet['service-ips']).toBe(1000)
  })
})
