/**
 * fast-check generators of random, valid clusters covering every Service feature the core reads:
 * types, families (incl. dual-stack), multi-port TCP/UDP/SCTP, nodePorts, externalIPs, LB ingress
 * (VIP and Proxy), source ranges, traffic policies, affinity, endpoints with every condition mix,
 * duplicates across slices, node and zone hints, and KubeProxyConfiguration knobs. The raw objects go
 * through the real loader, so a generator bug shows up as a validation error, not a silent bad case.
 */
import fc from 'fast-check'
import { type LoadedObjects, loadObjects } from '@kproxc/core'

export interface ClusterCase {
  objects: LoadedObjects
  nodeName: string
  /** The raw kubectl-style items (for CLI runs and order shuffles). */
  items: Record<string, unknown>[]
}

type Fam = 'IPv4' | 'IPv6'
const NODES = ['n1', 'n2', 'n3'] as const
const ZONES = ['z1', 'z2'] as const

const endpointArb = fc.record({
  host: fc.integer({ min: 1, max: 6 }),
  node: fc.constantFrom(...NODES, undefined),
  ready: fc.constantFrom(true, false, undefined),
  serving: fc.constantFrom(true, false, undefined),
  terminating: fc.constantFrom(true, false, undefined),
  zoneHints: fc.subarray([...ZONES]),
  nodeHints: fc.subarray([...NODES]),
})

const sliceArb = fc.record({
  family: fc.constantFrom<Fam>('IPv4', 'IPv6'),
  /** Indexes of service ports this slice carries; -1 = a port name the Service does not have. */
  ports: fc.subarray([0, 1, 2, -1], { minLength: 1 }),
  targetBase: fc.integer({ min: 1, max: 60000 }),
  endpoints: fc.array(endpointArb, { maxLength: 4 }),
})

const serviceArb = fc.record({
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  families: fc.constantFrom<Fam[]>(['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']),
  namespace: fc.constantFrom('default', 'ns1'),
  ports: fc.array(fc.record({ protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'), port: fc.integer({ min: 1, max: 65535 }) }), { minLength: 1, maxLength: 3 }),
  externalIPs: fc.subarray(['192.168.10.1', '192.168.10.2', 'fd00:10::1']),
  ingress: fc.subarray([
    { ip: '192.168.20.1', ipMode: 'VIP' },
    { ip: '192.168.20.2', ipMode: 'Proxy' },
    { ip: 'fd00:20::1', ipMode: 'VIP' },
  ]),
  sourceRanges: fc.subarray(['192.168.0.0/24', '10.100.0.0/16', 'fd00::/8', '0.0.0.0/0']),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  affinity: fc.option(fc.integer({ min: 1, max: 86400 })),
  allocateNodePorts: fc.boolean(),
  slices: fc.array(sliceArb, { maxLength: 3 }),
})

const configArb = fc.record({
  clusterCIDR: fc.constantFrom(undefined, '10.244.0.0/16', '10.244.0.0/16,fd00:244::/48'),
  detectLocalMode: fc.constantFrom(undefined, 'ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'),
  masqueradeAll: fc.boolean(),
  nodePortAddresses: fc.constantFrom(undefined, ['primary'], ['192.168.0.0/24'], ['192.168.0.0/24', 'fd00:1::/64'], ['0.0.0.0/0']),
  localhostNodePorts: fc.constantFrom(undefined, true, false),
  zone: fc.constantFrom('z1', 'z2', undefined),
  dualStackNode: fc.boolean(),
})

/** Random clusters seen from node n1; `maxServices` bounds their size. */
export function arbCluster(opts: { maxServices?: number } = {}): fc.Arbitrary<ClusterCase> {
  return fc.record({ config: configArb, services: fc.array(serviceArb, { maxLength: opts.maxServices ?? 6 }) }).map(({ config, services }) => {
    const items: Record<string, unknown>[] = []
    const node: Record<string, unknown> = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: config.zone ? { 'topology.kubernetes.io/zone': config.zone } : {} },
      spec: { podCIDRs: config.dualStackNode ? ['10.244.1.0/24', 'fd00:244:1::/64'] : ['10.244.1.0/24'] },
      status: {
        addresses: [
          { type: 'InternalIP', address: '192.168.0.2' },
          ...(config.dualStackNode ? [{ type: 'InternalIP', address: 'fd00:1::2' }] : []),
        ],
      },
    }
    items.push(node)
    const kpc: Record<string, unknown> = { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration' }
    if (config.clusterCIDR) kpc.clusterCIDR = config.clusterCIDR
    if (config.detectLocalMode) kpc.detectLocalMode = config.detectLocalMode
    if (config.detectLocalMode === 'BridgeInterface') kpc.detectLocal = { bridgeInterface: 'cbr0' }
    if (config.detectLocalMode === 'InterfaceNamePrefix') kpc.detectLocal = { interfaceNamePrefix: 'veth' }
    kpc.iptables = { masqueradeAll: config.masqueradeAll, ...(config.localhostNodePorts !== undefined ? { localhostNodePorts: config.localhostNodePorts } : {}) }
    kpc.nftables = { masqueradeAll: config.masqueradeAll }
    if (config.nodePortAddresses) kpc.nodePortAddresses = config.nodePortAddresses
    items.push(kpc)

    let nodePort = 30000
    services.forEach((s, i) => {
      const name = `svc${i}`
      // Unique (protocol, port) pairs, as validation requires.
      const seen = new Set<string>()
      const ports = s.ports.filter((p) => !seen.has(`${p.protocol}/${p.port}`) && seen.add(`${p.protocol}/${p.port}`))
      const external = s.type !== 'ClusterIP' || s.externalIPs.length > 0
      const clusterIPs = s.families.map((f) => (f === 'IPv4' ? `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}` : `fd00:96::${(i + 1).toString(16)}`))
      const spec: Record<string, unknown> = {
        type: s.type,
        clusterIP: clusterIPs[0],
        clusterIPs,
        ipFamilies: s.families,
        ports: ports.map((p, k) => ({
          name: `p${k}`,
          protocol: p.protocol,
          port: p.port,
          targetPort: p.port,
          ...(s.type !== 'ClusterIP' && (s.type === 'NodePort' || s.allocateNodePorts) ? { nodePort: nodePort++ } : {}),
        })),
      }
      if (s.externalIPs.length) spec.externalIPs = s.externalIPs
      if (external) spec.externalTrafficPolicy = s.etpLocal ? 'Local' : 'Cluster'
      if (s.type === 'LoadBalancer' && s.etpLocal) spec.healthCheckNodePort = 32000 + i
      if (s.type === 'LoadBalancer' && !s.allocateNodePorts) spec.allocateLoadBalancerNodePorts = false
      if (s.type === 'LoadBalancer' && s.sourceRanges.length) spec.loadBalancerSourceRanges = s.sourceRanges
      spec.internalTrafficPolicy = s.itpLocal ? 'Local' : 'Cluster'
      if (s.affinity !== null) {
        spec.sessionAffinity = 'ClientIP'
        spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: s.affinity } }
      }
      const svc: Record<string, unknown> = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: s.namespace }, spec }
      if (s.type === 'LoadBalancer' && s.ingress.length) svc.status = { loadBalancer: { ingress: s.ingress } }
      items.push(svc)
      s.slices.forEach((sl, j) => {
        const slicePorts = sl.ports
          .filter((k) => k < ports.length)
          .map((k, n) => {
            const sp = k >= 0 ? ports[k] : undefined
            return { name: k >= 0 ? `p${k}` : 'other', protocol: sp?.protocol ?? 'TCP', port: ((sl.targetBase + n * 7) % 65535) + 1 }
          })
        items.push({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${name}-${j}`, namespace: s.namespace, labels: { 'kubernetes.io/service-name': name } },
          addressType: sl.family,
          ports: slicePorts,
          endpoints: sl.endpoints.map((e) => ({
            addresses: [sl.family === 'IPv4' ? `10.244.${e.host % 3 + 1}.${e.host}` : `fd00:244:${(e.host % 3) + 1}::${e.host}`],
            ...(e.ready !== undefined || e.serving !== undefined || e.terminating !== undefined
              ? { conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating } }
              : {}),
            ...(e.node ? { nodeName: e.node } : {}),
            ...(e.zoneHints.length || e.nodeHints.length
              ? { hints: { forZones: e.zoneHints.map((z) => ({ name: z })), forNodes: e.nodeHints.map((n) => ({ name: n })) } }
              : {}),
          })),
        })
      })
    })
    const objects = loadObjects([{ name: 'generated', text: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) }])
    return { objects, nodeName: 'n1', items }
  })
}
