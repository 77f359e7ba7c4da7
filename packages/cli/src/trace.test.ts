import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { type IO, run } from './main.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const fx = (name: string, file = 'input.yaml') => `${root}fixtures/${name}/${file}`

async function cli(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, env: {} }
  const code = await run(argv, io)
  return { code, stdout, stderr }
}

const etp = ['--src', '203.0.113.9', '--dst', '192.168.20.1', '--dport', '80', '--from', 'external']

describe('kproxc trace', () => {
  it('iptables golden: external traffic to an ETP Local VIP reaches only the local endpoint, unmasqueraded (json)', async () => {
    const r = await cli(['trace', '--rules', fx('etp-local', 'iptables.rules'), '--mode', 'iptables', ...etp, '--format', 'json'])
    expect(r.stderr).toBe('')
    const j = JSON.parse(r.stdout)
    expect(j.verdict).toBe('forward')
    expect(j.endpoints.map((e: { ip: string; port: number; probability: number }) => [e.ip, e.port, e.probability])).toEqual([['10.244.1.5', 8080, 1]])
    expect(j.masquerade).toBe(false)
    expect(j.path.map((s: { chain: string }) => s.chain)).toContain('KUBE-EXT-CDGGSHYLG3RE2FKL')
    expect(j.unknown).toEqual([])
  })

  it('--cluster compiles first; text names chains, comments and probabilities', async () => {
    const r = await cli(['trace', '--cluster', fx('case-07'), '--mode', 'iptables', '--src', '10.244.1.77', '--dst', '10.96.0.10', '--dport', '80', '--from', 'pod'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/KUBE-SERVICES/)
    expect(r.stdout).toMatch(/verdict: FORWARD/)
    expect(r.stdout).toMatch(/probability 0\.5000/)
    expect(r.stdout).toMatch(/masquerade: no/)
  })

  it('nftables text golden and ipvs bundle agree on a drop / fallback', async () => {
    const args = ['--src', '203.0.113.9', '--dst', '192.168.0.2', '--dport', '30080', '--local-address', '192.168.0.2', '--format', 'json']
    const nft = JSON.parse((await cli(['trace', '--rules', fx('etp-local-no-local', 'nftables.nft'), '--mode', 'nftables', ...args])).stdout)
    expect(nft.verdict).toBe('drop')
    const dir = fx('etp-local-no-local', 'ipvs')
    const ipvs = JSON.parse((await cli(['trace', '--rules', `${dir}/ipvsadm.rules`, `${dir}/ipset.rules`, `${dir}/iptables.rules`, '--mode', 'ipvs', ...args])).stdout)
    expect(ipvs.verdict).toBe('forward')
    expect(ipvs.endpoints[0].ip).toBe('10.244.2.5')
  })

  it('draws the path as Graphviz', async () => {
    const r = await cli(['trace', '--rules', fx('case-01', 'nftables.json'), '--mode', 'nftables', '--src', '10.244.1.77', '--dst', '10.96.0.10', '--dport', '80', '--from', 'pod', '--format', 'dot'])
    expect(r.stdout).toMatch(/^digraph trace \{/)
    expect(r.stdout).toMatch(/doubleoctagon/)
  })

  it('reports rules it does not understand', async () => {
    const { writeFileSync } = await import('node:fs')
    const path = `${root}node_modules/.kproxc-trace-test.rules`
    writeFileSync(path, '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m weird --thing 1 -j ACCEPT\nCOMMIT\n')
    const r = await cli(['trace', '--rules', path, '--mode', 'iptables', ...etp])
    expect(r.stdout).toMatch(/warning: rule not understood.*weird/)
  })

  it('rejects bad usage', async () => {
    expect((await cli(['trace', '--mode', 'iptables', ...etp])).code).toBe(2)
    expect((await cli(['trace', '--rules', 'x', '--mode', 'iptables', '--src', 'nope', '--dst', '1.2.3.4', '--dport', '1'])).code).toBe(2)
  })
})

describe('kproxc compare', () => {
  it('lists the known differences of the compare-modes fixture, each with its reason', async () => {
    const nft = await cli(['compare', fx('compare-modes'), '--from', 'iptables', '--to', 'nftables', '--format', 'json'])
    expect(nft.code).toBe(0)
    const d = JSON.parse(nft.stdout).differences as { probe: string; reasons: { id: string }[] }[]
    const ids = new Set(d.flatMap((x) => x.reasons.map((r) => r.id)))
    expect(ids).toEqual(new Set(['nodeport-addresses-primary', 'no-localhost-nodeports', 'firewall-without-endpoints', 'clusterip-other-port-rejected', 'iptables-node-to-external-ip-no-reject']))
    expect(d.every((x) => x.reasons.length > 0)).toBe(true)
    const ipvs = JSON.parse((await cli(['compare', fx('compare-modes'), '--from', 'iptables', '--to', 'ipvs', '--format', 'json'])).stdout).differences as typeof d
    const ipvsIds = new Set(ipvs.flatMap((x) => x.reasons.map((r) => r.id)))
    for (const id of ['ipvs-local-fallback', 'ipvs-empty-virtual-server', 'ipvs-no-short-circuit', 'no-localhost-nodeports']) expect(ipvsIds).toContain(id)
    expect(ipvs.every((x) => x.reasons.length > 0)).toBe(true)
  })

  it('prints a readable migration report', async () => {
    const r = await cli(['compare', fx('compare-modes'), '--from', 'ipvs', '--to', 'nftables'])
    expect(r.stdout).toMatch(/behave differently in ipvs and nftables/)
    expect(r.stdout).not.toMatch(/not in the differences table/)
  })

  it('finds nothing to report for a plain ClusterIP Service between iptables and nftables', async () => {
    const r = await cli(['compare', fx('case-01'), '--from', 'iptables', '--to', 'nftables'])
    expect(r.stdout).toMatch(/^(no behavioural difference|\d+ probe)/)
  })
})
