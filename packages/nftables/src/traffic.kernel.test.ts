/**
 * Real connections through the compiled nftables ruleset: a node namespace holding the JSON
 * output, pods and clients as namespaces routed through it. Each test names the behaviour of
 * kube-proxy's nftables mode it proves (who answered, which source address the server saw).
 */
import { type Family, buildModel, loadObjects } from '@kproxc/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab, type ProbeResult, kernelSupport, tally } from '../../../test/lab.js'
import { backend } from './index.js'
import { nftFile } from './nft-test-util.js'

const support = kernelSupport(['nft'])

const NODE4 = '192.168.0.2'
const NODE6 = 'fd00:1::2'
const CLIENT = { ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10' } // a pod on this node (cluster CIDR)
const POD1 = { ipv4: '10.244.1.5', ipv6: 'fd00:244:1::5' } // endpoint on this node (n1)
const POD2 = { ipv4: '10.244.2.5', ipv6: 'fd00:244:2::5' } // endpoint "on n2"
const EXT_A = { ipv4: '192.168.100.10', ipv6: 'fd00:100::10' } // outside the cluster, inside the LB source range
const EXT_B = { ipv4: '192.168.101.10' } // outside the cluster and the source range

function svc(name: string, spec: string, eps: [string, string][], extra = ''): string {
  const slice = eps.length === 0 ? '' : `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: default, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 5353, protocol: UDP}]
endpoints:
${eps.map(([ip, node]) => `- {addresses: ["${ip}"], nodeName: ${node}}`).join('\n')}
`
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
${spec}
${extra}${slice}`
}

const CLUSTER4 = `apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: ${NODE4}}]}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 10.244.0.0/16
${svc('web', `  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP, targetPort: 5353}]`, [[POD1.ipv4, 'n1'], [POD2.ipv4, 'n2']])}
${svc('sticky', `  clusterIP: 10.96.0.11
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  ports: [{name: http, port: 80}]`, [[POD1.ipv4, 'n1'], [POD2.ipv4, 'n2']])}
${svc('np', `  type: NodePort
  clusterIP: 10.96.0.12
  ports: [{name: http, port: 80, nodePort: 30080}]`, [[POD2.ipv4, 'n2']])}
${svc('local', `  type: NodePort
  clusterIP: 10.96.0.13
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, nodePort: 30081}]`, [[POD1.ipv4, 'n1']])}
${svc('nolocal', `  type: NodePort
  clusterIP: 10.96.0.14
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, nodePort: 30082}]`, [[POD2.ipv4, 'n2']])}
${svc('empty', `  type: NodePort
  clusterIP: 10.96.0.15
  ports: [{name: http, port: 80, nodePort: 30084}]`, [])}
${svc('hairpin', `  clusterIP: 10.96.0.16
  ports: [{name: http, port: 80}]`, [[POD1.ipv4, 'n1']])}
${svc('lb', `  type: LoadBalancer
  clusterIP: 10.96.0.17
  loadBalancerSourceRanges: [192.168.100.0/28]
  ports: [{name: http, port: 80, nodePort: 30083}]`, [[POD2.ipv4, 'n2']], 'status: {loadBalancer: {ingress: [{ip: 192.168.200.1}]}}\n')}
${svc('eip', `  clusterIP: 10.96.0.18
  externalIPs: [192.168.150.1]
  ports: [{name: http, port: 80}]`, [[POD2.ipv4, 'n2']])}
`

function emit(yaml: string, family: Family, format: 'json' | 'text', serviceCidr: string): string {
  const model = buildModel(loadObjects([{ name: 'lab.yaml', text: yaml }]), { mode: 'nftables', families: [family] })
  const [file] = backend.emit(model, { family, format, options: { serviceCidr } })
  return file!.content
}

/**
 * Routes the service range to a "sink" namespace that answers nothing (as a real node's default
 * route would send it off-node), so packets that were not DNATed reach the forward hook, where
 * kube-proxy's checks live, instead of failing the route lookup.
 */
async function routeToSink(lab: Lab, cidrs: string[]): Promise<void> {
  await lab.addHost('sink', { ipv4: '10.255.0.1', ipv6: 'fd00:255::1' })
  const dev = (await lab.execOk('node', ['ip', '-o', 'route', 'get', '10.255.0.1'])).match(/ dev (\S+)/)?.[1]
  if (!dev) throw new Error('no route to the sink namespace')
  for (const cidr of cidrs) await lab.execOk('node', ['ip', ...(cidr.includes(':') ? ['-6'] : []), 'route', 'add', cidr, 'dev', dev])
}

const servers = (rs: ProbeResult[]) => Object.keys(tally(rs)).sort()

describe.skipIf(!support.ok)('traffic through the nftables ruleset (IPv4)', () => {
  let lab: Lab
  const json = emit(CLUSTER4, 'IPv4', 'json', '10.96.0.0/16')

  beforeAll(async () => {
    lab = await Lab.create({ ipv4: NODE4 })
    await lab.addHost('client', { ipv4: CLIENT.ipv4 })
    await lab.addHost('pod1', { ipv4: POD1.ipv4 })
    await lab.addHost('pod2', { ipv4: POD2.ipv4 })
    await lab.addHost('exta', { ipv4: EXT_A.ipv4 })
    await lab.addHost('extb', { ipv4: EXT_B.ipv4 })
    await lab.serve('pod1', 'pod1', { tcp: [8080], udp: [5353] })
    await lab.serve('pod2', 'pod2', { tcp: [8080], udp: [5353] })
    // The service range is routed (as on a real node's default route), so packets that were not
    // DNATed reach the forward hook where kube-proxy's checks live, instead of "unreachable".
    await routeToSink(lab, ['10.96.0.0/12'])
    const r = await nftFile(lab, 'node', ['-j', '-f'], json)
    expect(r.stderr).toBe('')
  })
  afterAll(async () => {
    await lab?.destroy()
  })

  it('ClusterIP: spreads TCP over all endpoints and keeps the pod client address', async () => {
    const rs = await lab.probe('client', '10.96.0.10', 80, { count: 40 })
    expect(servers(rs)).toEqual(['pod1', 'pod2'])
    expect(new Set(rs.map((r) => r.peer))).toEqual(new Set([CLIENT.ipv4]))
  })

  it('ClusterIP: UDP port of a multi-port service goes to its target port', async () => {
    const rs = await lab.probe('client', '10.96.0.10', 53, { proto: 'udp', count: 30 })
    expect(servers(rs)).toEqual(['pod1', 'pod2'])
    expect(rs.every((r) => r.port === 5353)).toBe(true)
  })

  it('ClusterIP: traffic from outside the cluster CIDR is masqueraded', async () => {
    const rs = await lab.probe('exta', '10.96.0.10', 80, { count: 4 })
    expect(rs.every((r) => r.ok)).toBe(true)
    expect(rs.some((r) => r.peer === EXT_A.ipv4)).toBe(false)
  })

  it('ClusterIP from the node itself (nat output hook)', async () => {
    const rs = await lab.probe('node', '10.96.0.10', 80, { count: 10 })
    expect(rs.every((r) => r.ok)).toBe(true)
  })

  it('session affinity: one client sticks to one endpoint', async () => {
    const rs = await lab.probe('client', '10.96.0.11', 80, { count: 25 })
    expect(rs.every((r) => r.ok)).toBe(true)
    expect(servers(rs)).toHaveLength(1)
    // The affinity set learnt the client, with a timeout.
    const set = await lab.execOk('node', ['nft', 'list', 'ruleset'])
    expect(set).toMatch(new RegExp(`elements = \\{ ${CLIENT.ipv4.replaceAll('.', '\\.')} (timeout|expires)`))
  })

  it('NodePort (eTP Cluster): reachable on the node IP from outside and from the node, masqueraded', async () => {
    const ext = await lab.probe('exta', NODE4, 30080, { count: 5 })
    expect(tally(ext)).toEqual({ pod2: 5 })
    expect(ext.some((r) => r.peer === EXT_A.ipv4)).toBe(false)
    expect(tally(await lab.probe('node', NODE4, 30080, { count: 3 }))).toEqual({ pod2: 3 })
    // nftables-mode default nodePortAddresses=primary: not on other node addresses.
    const other = await lab.probe('exta', '169.254.1.1', 30080, { timeoutMs: 700 })
    expect(other[0]?.ok).toBe(false)
  })

  it('eTP Local: the local endpoint sees the real client address', async () => {
    const rs = await lab.probe('exta', NODE4, 30081, { count: 5 })
    expect(tally(rs)).toEqual({ pod1: 5 })
    expect(new Set(rs.map((r) => r.peer))).toEqual(new Set([EXT_A.ipv4]))
  })

  it('eTP Local without a local endpoint: external traffic dropped, pods short-circuited to the cluster', async () => {
    const ext = await lab.probe('exta', NODE4, 30082, { timeoutMs: 800 })
    expect(ext[0]).toMatchObject({ ok: false, error: 'timeout' })
    const pod = await lab.probe('client', NODE4, 30082, { count: 3 })
    expect(tally(pod)).toEqual({ pod2: 3 })
    expect(pod.every((r) => r.peer === CLIENT.ipv4)).toBe(true)
  })

  it('no endpoints: ClusterIP and NodePort are rejected (ICMP port unreachable)', async () => {
    expect((await lab.probe('client', '10.96.0.15', 80))[0]).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
    expect((await lab.probe('exta', NODE4, 30084))[0]).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
  })

  it('undefined port of a ClusterIP is rejected; an unallocated IP of the service CIDR is dropped', async () => {
    expect((await lab.probe('client', '10.96.0.10', 81))[0]).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
    expect((await lab.probe('client', '10.96.0.99', 80, { timeoutMs: 800 }))[0]).toMatchObject({ ok: false, error: 'timeout' })
    // Outside the declared ServiceCIDR the ruleset does not interfere (the dummy route swallows it).
    expect((await lab.probe('client', '10.97.0.1', 80, { timeoutMs: 800 }))[0]).toMatchObject({ ok: false, error: 'timeout' })
  })

  it('hairpin: a pod reaching itself through its Service is masqueraded', async () => {
    const rs = await lab.probe('pod1', '10.96.0.16', 80, { count: 3 })
    expect(tally(rs)).toEqual({ pod1: 3 })
    expect(rs.some((r) => r.peer === POD1.ipv4)).toBe(false)
  })

  it('loadBalancerSourceRanges: allowed range reaches the VIP, others are dropped; NodePort is not filtered', async () => {
    expect(tally(await lab.probe('exta', '192.168.200.1', 80, { count: 3 }))).toEqual({ pod2: 3 })
    expect((await lab.probe('extb', '192.168.200.1', 80, { timeoutMs: 800 }))[0]).toMatchObject({ ok: false, error: 'timeout' })
    expect(tally(await lab.probe('extb', NODE4, 30083, { count: 2 }))).toEqual({ pod2: 2 })
  })

  it('externalIPs are served', async () => {
    expect(tally(await lab.probe('exta', '192.168.150.1', 80, { count: 3 }))).toEqual({ pod2: 3 })
  })

  it('reloading the same JSON and then the text form keeps every service working', async () => {
    expect((await nftFile(lab, 'node', ['-j', '-f'], json)).code).toBe(0)
    expect(servers(await lab.probe('client', '10.96.0.10', 80, { count: 30 }))).toEqual(['pod1', 'pod2'])
    const r = await nftFile(lab, 'node', ['-f'], emit(CLUSTER4, 'IPv4', 'text', '10.96.0.0/16'))
    expect(r.stderr).toBe('')
    expect(servers(await lab.probe('client', '10.96.0.10', 80, { count: 30 }))).toEqual(['pod1', 'pod2'])
    expect((await lab.probe('client', '10.96.0.15', 80))[0]).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
  })
})

const CLUSTER_DUAL = `apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: ${NODE4}}, {type: InternalIP, address: "${NODE6}"}]}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 10.244.0.0/16,fd00:244::/32
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv6, IPv4]
  clusterIP: fd00:96::10
  clusterIPs: [fd00:96::10, 10.96.0.10]
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-6, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: ["${POD1.ipv6}"], nodeName: n1}
- {addresses: ["${POD2.ipv6}"], nodeName: n2}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-4, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: ["${POD1.ipv4}"], nodeName: n1}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  ipFamilies: [IPv6]
  clusterIP: fd00:96::15
  ports: [{name: http, port: 80}]
`

describe.skipIf(!support.ok)('traffic through the nftables ruleset (IPv6 and dual-stack)', () => {
  let lab: Lab

  beforeAll(async () => {
    lab = await Lab.create({ ipv4: NODE4, ipv6: NODE6 })
    await lab.addHost('client', CLIENT)
    await lab.addHost('pod1', POD1)
    await lab.addHost('pod2', POD2)
    await lab.addHost('exta', EXT_A)
    await lab.serve('pod1', 'pod1', { tcp: [8080] })
    await lab.serve('pod2', 'pod2', { tcp: [8080] })
    await routeToSink(lab, ['10.96.0.0/12', 'fd00:96::/112'])
    for (const family of ['IPv4', 'IPv6'] as const) {
      const r = await nftFile(lab, 'node', ['-j', '-f'], emit(CLUSTER_DUAL, family, 'json', '10.96.0.0/16,fd00:96::/112'))
      expect(r.stderr).toBe('')
    }
  })
  afterAll(async () => {
    await lab?.destroy()
  })

  it('both tables are loaded side by side', async () => {
    const tables = await lab.execOk('node', ['nft', 'list', 'tables'])
    expect(tables).toContain('table ip kube-proxy')
    expect(tables).toContain('table ip6 kube-proxy')
  })

  it('IPv6 ClusterIP spreads over the IPv6 endpoints and keeps the pod address', async () => {
    const rs = await lab.probe('client', 'fd00:96::10', 80, { count: 40 })
    expect(servers(rs)).toEqual(['pod1', 'pod2'])
    expect(new Set(rs.map((r) => r.peer))).toEqual(new Set([CLIENT.ipv6]))
  })

  it('IPv4 ClusterIP of the same service uses only its IPv4 endpoints', async () => {
    expect(tally(await lab.probe('client', '10.96.0.10', 80, { count: 10 }))).toEqual({ pod1: 10 })
  })

  it('IPv6 NodePort on the primary IPv6 node address, masqueraded', async () => {
    const rs = await lab.probe('exta', NODE6, 30080, { count: 6 })
    expect(rs.every((r) => r.ok)).toBe(true)
    expect(rs.some((r) => r.peer === EXT_A.ipv6)).toBe(false)
  })

  it('IPv6 reject with no endpoints (ICMPv6 port unreachable)', async () => {
    expect((await lab.probe('client', 'fd00:96::15', 80))[0]).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
  })
})
if (!support.ok) it.skip(`nftables traffic tests: ${support.reason}`, () => {})
