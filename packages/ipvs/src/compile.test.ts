import { KproxcError } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { backend, compileIpvs, ipsetName } from './index.js'
import { filesOf, lines, modelOf } from './__fixtures__/model.js'

const NODE = `apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  addresses:
  - {type: InternalIP, address: 192.168.0.2}
  - {type: InternalIP, address: "fd00:1::2"}
`
const svc = (spec: string, name = 'web') => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
${spec}`
const slice = (name: string, family: string, eps: string[], port = 8080, proto = 'TCP') => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-${family.toLowerCase()}, namespace: default, labels: {kubernetes.io/service-name: ${name}}}
addressType: ${family}
ports: [{name: http, port: ${port}, protocol: ${proto}}]
endpoints:
${eps.map((e) => { const [ip, node] = e.split('@'); return `- {addresses: ["${ip}"], nodeName: ${node}}` }).join('\n')}
`
const NODEPORT = svc(`  type: NodePort
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  ipFamilies: [IPv4, IPv6]
  ipFamilyPolicy: RequireDualStack
  ports: [{name: http, port: 80, protocol: TCP, nodePort: 30080}]
`) + slice('web', 'IPv4', ['10.244.1.5@n1']) + slice('web', 'IPv6', ['fd00:244:1::5@n1'])

describe('compileIpvs', () => {
  it('refuses a family the model does not have', () => {
    const model = modelOf(NODE + NODEPORT, { families: ['IPv4'] })
    expect(() => compileIpvs(model, { family: 'IPv6' })).toThrow(/no IPv6 section/)
  })

  it('takes --scheduler over the configuration, and rejects names the kernel has no module for', () => {
    const model = modelOf(`${NODE}---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
ipvs: {scheduler: lc}
${NODEPORT}`, { families: ['IPv4'] })
    expect(lines(filesOf(model)['ipvsadm.rules'])[0]).toBe('-A -t 10.96.0.10:80 -s lc')
    expect(lines(filesOf(model, 'IPv4', { scheduler: 'sh' })['ipvsadm.rules'])[0]).toBe('-A -t 10.96.0.10:80 -s sh')
    const err = (() => { try { compileIpvs(model, { family: 'IPv4', scheduler: 'bogus' }) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(KproxcError)
    expect((err as KproxcError).code).toBe('USAGE')
    const badConfig = modelOf(`${NODE}---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
ipvs: {scheduler: xyz}
${NODEPORT}`, { families: ['IPv4'] })
    expect(() => compileIpvs(badConfig, { family: 'IPv4' })).toThrow(/ipvs.scheduler: "xyz" is not an IPVS scheduler/)
  })

  it('names IPv6 sets KUBE-6-… cut to 31 characters', () => {
    expect(ipsetName('KUBE-CLUSTER-IP', 'IPv6')).toBe('KUBE-6-CLUSTER-IP')
    expect(ipsetName('KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'IPv6')).toBe('KUBE-6-NODE-PORT-LOCAL-SCTP-HAS')
    expect(ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'IPv6')).toBe('KUBE-6-LOAD-BALANCER-SOURCE-CID')
    expect(ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'IPv4')).toBe('KUBE-LOAD-BALANCER-SOURCE-CIDR')
  })

  it('opens NodePorts on every non-loopback, non-link-local host address, never on loopback', () => {
    const model = modelOf(NODE + NODEPORT, { hostAddresses: ['192.168.0.2', '10.0.5.1', '127.0.0.1', 'fd00:1::2', 'fe80::1', '::1'] })
    const v4 = lines(filesOf(model, 'IPv4')['ipvsadm.rules']).filter((l) => l.startsWith('-A'))
    expect(v4).toEqual(['-A -t 10.96.0.10:80 -s rr', '-A -t 10.0.5.1:30080 -s rr', '-A -t 192.168.0.2:30080 -s rr'])
    const v6 = lines(filesOf(model, 'IPv6')['ipvsadm.rules']).filter((l) => l.startsWith('-A'))
    expect(v6).toEqual(['-A -t [fd00:96::10]:80 -s rr', '-A -t [fd00:1::2]:30080 -s rr'])
  })

  it('treats a zero-length source range as "allow all": no firewall entries at all', () => {
    const model = modelOf(NODE + svc(`  type: LoadBalancer
  clusterIP: 10.96.0.10
  loadBalancerSourceRanges: [10.0.0.0/8, 0.0.0.0/0]
  ports: [{name: http, port: 80, protocol: TCP, nodePort: 30080}]
status: {loadBalancer: {ingress: [{ip: 192.168.30.1}]}}
`), { families: ['IPv4'] })
    const f = filesOf(model)
    expect(lines(f['ipset.rules']).filter((l) => /^add KUBE-LOAD-BALANCER-(FW|SOURCE)/.test(l))).toEqual([])
    expect(f['iptables.rules']).not.toContain('-m ipvs')
  })

  it('uses the detector for the ClusterIP masquerade rule, src,dst without one, dst,dst with masqueradeAll', () => {
    const withConfig = (cfg: string) => modelOf(`${NODE}---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
${cfg}
${NODEPORT}`, { families: ['IPv4'] })
    const rule = (cfg: string) => lines(filesOf(withConfig(cfg))['iptables.rules']).find((l) => l.includes('cluster ip + port for masquerade'))
    expect(rule('clusterCIDR: 10.244.0.0/16')).toMatch(/--match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0\/16 -j KUBE-MARK-MASQ$/)
    expect(rule('detectLocalMode: BridgeInterface\ndetectLocal: {bridgeInterface: cbr0}')).toMatch(/dst,dst ! -i cbr0 -j KUBE-MARK-MASQ$/)
    expect(rule('detectLocalMode: InterfaceNamePrefix\ndetectLocal: {interfaceNamePrefix: veth}')).toMatch(/dst,dst ! -i veth\+ -j KUBE-MARK-MASQ$/)
    expect(rule('mode: ipvs')).toMatch(/--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ$/)
    expect(rule('clusterCIDR: 10.244.0.0/16\niptables: {masqueradeAll: true, masqueradeBit: 5}')).toMatch(/KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ$/)
    expect(filesOf(withConfig('iptables: {masqueradeBit: 5}'))['iptables.rules']).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000020\n')
  })

  it('honours the iptables writer options --no-random-fully and --no-builtin-jumps', () => {
    const model = modelOf(NODE + NODEPORT, { families: ['IPv4'] })
    const text = backend.emit(model, { family: 'IPv4', format: 'bundle', options: { randomFully: false, builtinJumps: false } })
      .find((f) => f.name === 'iptables.rules')?.content ?? ''
    expect(text).toContain('-j MASQUERADE\n')
    expect(text).not.toContain('--random-fully')
    expect(text).not.toMatch(/^-A (INPUT|PREROUTING) /m)
  })

  it('emits the five files in a fixed order, and refuses other formats and mistyped options', () => {
    const model = modelOf(NODE + NODEPORT, { families: ['IPv4'] })
    expect(backend.emit(model, { family: 'IPv4', format: 'bundle', options: {} }).map((f) => f.name))
      .toEqual(['ipvsadm.rules', 'ipset.rules', 'iptables.rules', 'kube-ipvs0.addresses', 'sysctl.conf'])
    expect(() => backend.emit(model, { family: 'IPv4', format: 'text', options: {} })).toThrow(/--format text is not available/)
    expect(() => backend.emit(model, { family: 'IPv4', format: 'bundle', options: { scheduler: true } })).toThrow(/scheduler must be a name/)
    expect(() => backend.emit(model, { family: 'IPv4', format: 'bundle', options: { randomFully: 'yes' } })).toThrow(KproxcError)
  })

  it('writes no real servers for endpoints that are neither ready nor serving-and-terminating', () => {
    const model = modelOf(NODE + svc('  clusterIP: 10.96.0.10\n  ports: [{name: http, port: 80, protocol: TCP}]\n') + `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.5], nodeName: n1, conditions: {ready: false, serving: false, terminating: true}}
`, { families: ['IPv4'] })
    const f = filesOf(model)
    expect(lines(f['ipvsadm.rules'])).toEqual(['-A -t 10.96.0.10:80 -s rr'])
    // ... but the local endpoint still gets its hairpin entry, whatever its conditions.
    expect(lines(f['ipset.rules'])).toContain('add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5')
  })
})
