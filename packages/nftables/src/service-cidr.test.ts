import { type Packet, buildModel, expectedOutcome, loadObjects, outcomeOf } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { run } from '../../cli/src/main.js'
import { compile } from './compile.js'
import { renderJSON } from './render-json.js'
import { traceNftables } from './trace.js'

const serviceCIDR = (apiVersion: string, name: string, cidrs: string[], meta: object = {}) => ({ apiVersion, kind: 'ServiceCIDR', metadata: { name, ...meta }, spec: { cidrs } })

/** What `kubectl get services,endpointslices,nodes,servicecidrs -A -o json` prints (trimmed). */
const kubectlJSON = JSON.stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }, { type: 'InternalIP', address: 'fd00:1::2' }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 80 }] } },
    serviceCIDR('networking.k8s.io/v1', 'kubernetes', ['10.96.0.0/16', 'fd00:96::/112']),
    serviceCIDR('networking.k8s.io/v1beta1', 'extra', ['10.100.0.0/16'], { deletionTimestamp: '2026-01-02T00:00:00Z' }),
  ],
})

async function kproxcCompile(extra: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const argv = ['compile', '-', '--mode', 'nftables', '--format', 'text', ...extra]
  const code = await run(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), stdin: async () => kubectlJSON, stdinIsTTY: false, env: {} })
  return { code, out, err }
}

const dropRules = (text: string) => text.split('\n').filter((l) => l.includes('Drop traffic to unallocated ClusterIPs'))

describe('kproxc compile --mode nftables on ServiceCIDR objects', () => {
  it('drops unallocated cluster IPs of the ServiceCIDRs in the input, with no flag', async () => {
    const v4 = await kproxcCompile([])
    expect(v4.err).toBe('')
    expect(v4.code).toBe(0)
    expect(dropRules(v4.out)).toEqual(['add rule ip kube-proxy cluster-ips-check ip daddr { 10.96.0.0/16,10.100.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"'])
    const v6 = await kproxcCompile(['--ip-family', 'ipv6'])
    expect(dropRules(v6.out)).toEqual(['add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:96::/112 } drop comment "Drop traffic to unallocated ClusterIPs"'])
  })

  it('adds --service-cidr to them', async () => {
    const r = await kproxcCompile(['--service-cidr', '10.96.0.0/16,10.0.0.0/24,fd00:1::/120'])
    expect(r.code).toBe(0)
    expect(dropRules(r.out)).toEqual(['add rule ip kube-proxy cluster-ips-check ip daddr { 10.0.0.0/24,10.96.0.0/16,10.100.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"'])
  })

  it('traced packets follow the model with MODE_DIFFERENCES: unallocated addresses of a ServiceCIDR are dropped by nftables only', () => {
    const objects = loadObjects([{ name: 'dump.json', text: kubectlJSON }])
    const packet = (dst: string, dport: number): Packet => ({ family: 'IPv4', protocol: 'tcp', src: '10.244.1.77', dst, dport, from: 'pod', iif: 'veth77', dstLocal: false })
    const nft = buildModel(objects, { mode: 'nftables', families: ['IPv4'] })
    const rules = renderJSON(compile(nft, { family: 'IPv4' }))
    const fm = nft.families[0]!
    const iptables = buildModel(objects, { mode: 'iptables', families: ['IPv4'] }).families[0]!
    const cases: [string, number, string, string[]][] = [
      ['10.96.0.99', 80, 'drop', ['unallocated-clusterip-dropped']],
      ['10.100.255.1', 53, 'drop', ['unallocated-clusterip-dropped']],
      ['10.96.0.10', 81, 'reject', ['clusterip-other-port-rejected']],
      ['10.101.0.1', 80, 'none', []],
    ]
    for (const [dst, dport, verdict, differences] of cases) {
      const want = expectedOutcome('nftables', fm, false, packet(dst, dport))
      expect([dst, want.outcome.verdict, want.differences]).toEqual([dst, verdict, differences])
      expect([dst, outcomeOf(traceNftables(rules, packet(dst, dport))).verdict]).toEqual([dst, verdict])
      expect(expectedOutcome('iptables', iptables, false, packet(dst, dport)).outcome.verdict).toBe('none')
    }
  })
})
