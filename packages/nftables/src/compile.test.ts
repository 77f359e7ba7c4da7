import { readFileSync } from 'node:fs'
import { type ModelOptions, KproxcError, modelFromTexts } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { compile } from './compile.js'
import { backend } from './index.js'
import { renderJSON } from './render-json.js'
import { renderText } from './render-text.js'

const here = (f: string) => new URL(`./testdata/${f}`, import.meta.url)
const overallYAML = readFileSync(here('upstream-overall.yaml'), 'utf8')

function text(yaml: string, serviceCIDRs: string[] = [], opts: ModelOptions = {}): string {
  const model = modelFromTexts([{ name: 'in.yaml', text: yaml }], { mode: 'nftables', families: ['IPv4'], ...opts })
  return renderText(compile(model, { family: opts.families?.[0] ?? 'IPv4', serviceCIDRs }))
}

/** The per-service part of the output: everything after the fixed skeleton, without chain flushes. */
function perService(out: string): string[] {
  const lines = out.trimEnd().split('\n')
  const start = lines.findIndex((l) => l.includes('vmap @service-nodeports'))
  return lines.slice(start + 1).filter((l) => !l.startsWith('flush chain '))
}

describe('compile (v1.36 layout)', () => {
  it('reproduces the upstream TestOverallNFTablesRules scenario line for line', () => {
    // testdata/upstream-overall.expected.nft: the v1.36 ("Profile B") rendering of upstream's golden
    // scenario from the reference (§7.7), mark spelled as the real proxier does.
    const expected = readFileSync(here('upstream-overall.expected.nft'), 'utf8').trimEnd().split('\n')
    const got = perService(text(overallYAML, ['172.30.0.0/16']))
    expect([...got].sort()).toEqual([...expected].sort())
    // Objects are created before anything refers to them (nft rejects the transaction otherwise).
    const firstUse = (name: string) => got.findIndex((l) => l.includes(name) && !l.startsWith(`add chain ip kube-proxy ${name}`) && !l.startsWith(`add set ip kube-proxy ${name}`))
    for (const l of got.filter((x) => x.startsWith('add chain') || x.startsWith('add set'))) {
      const name = l.split(' ')[4] as string
      expect(got.indexOf(l), name).toBeLessThan(firstUse(name) === -1 ? Infinity : firstUse(name))
    }
  })

  it('writes the fixed skeleton as kube-proxy does', () => {
    const out = text(overallYAML, ['172.30.0.0/16', 'fd00::/64'])
    expect(out.startsWith('add table ip kube-proxy { comment "rules for kube-proxy" ; }\ndelete table ip kube-proxy\nadd table ip kube-proxy')).toBe(true)
    expect(out).toContain('add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }\n')
    expect(out).toContain('add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }\n')
    expect(out).toContain('add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"\n')
    expect(out).toContain('add rule ip kube-proxy services ip daddr @cluster-ips ip saddr != 10.0.0.0/8 mark set mark or 0x00004000 comment "masquerade clusterIP traffic from outside cluster"\n')
    expect(out).toContain('add element ip kube-proxy nodeport-ips { 192.168.0.2 }\n')
    expect(out).toContain('add rule ip kube-proxy masquerading mark and 0x00004000 != 0 mark set mark xor 0x00004000 masquerade fully-random\n')
    // The jumps from base chains, in upstream order.
    const jumps = out.split('\n').filter((l) => / (filter|nat)-[a-z-]+ (ct state new )?jump /.test(l)).map((l) => l.split(' ').slice(4).join(' '))
    expect(jumps).toEqual([
      'filter-input ct state new jump nodeport-endpoints-check',
      'filter-input ct state new jump service-endpoints-check',
      'filter-forward ct state new jump service-endpoints-check',
      'filter-output ct state new jump service-endpoints-check',
      'filter-prerouting-pre-dnat ct state new jump firewall-check',
      'filter-output-pre-dnat ct state new jump firewall-check',
      'nat-output jump services',
      'nat-prerouting jump services',
      'nat-postrouting jump masquerading',
      'filter-forward ct state new jump cluster-ips-check',
      'filter-output ct state new jump cluster-ips-check',
    ])
  })

  it('omits the unallocated-ClusterIP drop without ServiceCIDRs, and masquerades all with masqueradeAll', () => {
    const out = text(overallYAML.replace('clusterCIDR: 10.0.0.0/8', 'clusterCIDR: 10.0.0.0/8\nnftables: {masqueradeAll: true, masqueradeBit: 3}'))
    expect(out).not.toContain('Drop traffic to unallocated')
    expect(out).toContain('add rule ip kube-proxy services ip daddr @cluster-ips mark set mark or 0x00000008 comment "masquerade all clusterIP traffic"\n')
  })

  it('uses fib daddr type local when NodePorts open on every address', () => {
    const out = text(overallYAML.replace('nodePortAddresses: [192.168.0.2/32]', 'nodePortAddresses: [0.0.0.0/0]'))
    expect(out).toContain('add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }\ndelete set ip kube-proxy nodeport-ips\n')
    expect(out).toContain('add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports\n')
    expect(out).toContain('add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports\n')
  })

  it('spells interface detectors as kube-proxy (iifname, prefix wildcard)', () => {
    const cfg = (mode: string, extra: string) => overallYAML.replace('clusterCIDR: 10.0.0.0/8', `detectLocalMode: ${mode}\ndetectLocal: {${extra}}`)
    expect(text(cfg('BridgeInterface', 'bridgeInterface: cbr0'))).toContain('ip daddr @cluster-ips iifname != cbr0 mark set mark or')
    const prefix = text(cfg('InterfaceNamePrefix', 'interfaceNamePrefix: veth'))
    expect(prefix).toContain('ip daddr @cluster-ips iifname != veth* mark set mark or')
    expect(prefix).toContain('add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 iifname veth* goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit pod traffic"')
  })

  it('resolves a key claimed twice like nftElementStorage: delete, then the later value', () => {
    const yaml = overallYAML.replace('externalIPs: [192.168.99.33]', 'externalIPs: [192.168.99.22]')
    const out = text(yaml)
    const i = out.indexOf('delete element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 }')
    expect(i).toBeGreaterThan(0)
    expect(out.indexOf('add element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }')).toBeGreaterThan(i)
  })

  it('renders IPv6 with ip6, ipv6_addr, ::1 and bracketed DNAT targets', () => {
    const yaml = `apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: "fd00:1::2"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: fd00:96::10
  ipFamilies: [IPv6]
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
ports: [{name: http, port: 8080}]
endpoints: [{addresses: ["fd00:244::5"], nodeName: n1}]
`
    const out = text(yaml, ['10.96.0.0/12', 'fd00:96::/112'], { families: ['IPv6'] })
    expect(out).toContain('add table ip6 kube-proxy')
    expect(out).toContain('add set ip6 kube-proxy affinity-')
    expect(out).toContain('{ type ipv6_addr ; flags dynamic,timeout ; timeout 10800s ; }')
    expect(out).toContain('meta l4proto tcp dnat to [fd00:244::5]:8080\n')
    expect(out).toContain('ip6 daddr { fd00:96::/112 } drop')
    expect(out).toContain('add element ip6 kube-proxy hairpin-connections { fd00:244::5 . fd00:244::5 . tcp . 8080 }')
    expect(out).not.toContain('10.96.0.0')
  })

  it('rejects a family the model does not have, and invalid service CIDRs', () => {
    const model = modelFromTexts([{ name: 'in.yaml', text: overallYAML }], { mode: 'nftables', families: ['IPv4'] })
    expect(() => compile(model, { family: 'IPv6' })).toThrow(KproxcError)
    expect(() => backend.emit(model, { family: 'IPv4', format: 'json', options: { serviceCidr: '10.96.0.0/33' } })).toThrow(/invalid service CIDR/)
  })

  it('is deterministic and JSON mirrors text command for command', () => {
    const model = modelFromTexts([{ name: 'in.yaml', text: overallYAML }], { mode: 'nftables', families: ['IPv4'] })
    const rs = compile(model, { family: 'IPv4', serviceCIDRs: ['172.30.0.0/16'] })
    const json = renderJSON(rs)
    expect(renderJSON(compile(model, { family: 'IPv4', serviceCIDRs: ['172.30.0.0/16'] }))).toBe(json)
    const doc = JSON.parse(json) as { nftables: Record<string, unknown>[] }
    const verbs = doc.nftables.map((c) => Object.keys(c)[0])
    const textVerbs = renderText(rs).trimEnd().split('\n').map((l) => l.split(' ')[0])
    expect(verbs).toEqual(textVerbs)
    expect(json.endsWith('\n]}\n')).toBe(true)
    // P2/P3: no `dynamic` flag and integer priorities in JSON.
    expect(json).not.toContain('"dynamic"')
    expect(json).toContain('"type":"filter","hook":"prerouting","prio":-110}')
  })
})
