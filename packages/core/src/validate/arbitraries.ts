/**
 * Test support (not part of the library): generators of Services and EndpointSlices as kubectl
 * prints them, every field the schemas read drawn through a `Field` (fuzz.ts), so the same generator
 * gives valid objects or nearly valid ones with an invalid field now and then.
 */
import fc from 'fast-check'
import { type Field, PRESENT_UNDEFINED as UNDEF, defined, fields } from './fuzz.js'

const ADDRESSES = {
  // Leading zeros, 0.x and 240+ are valid too: they take the exact path beside the shortcut.
  IPv4: ['10.0.0.1', '192.168.1.2', '1.1.1.1', '223.255.255.254', '010.001.0.1', '169.253.1.1', '0.1.2.3', '240.0.0.1', '100.64.0.1'],
  IPv6: ['fd00::1', '2001:db8::10', 'FD00::2', '2001:0db8:0000::1', 'fe00::1'],
  FQDN: ['example.com', 'anything at all', '', '10.0.0.1', '127.0.0.1'],
} as const
const BAD_ADDRESSES = ['0.0.0.0', '127.0.0.2', '169.254.0.1', '224.0.0.5', '10.0.0.256', '10.0.0.1/32', 'fd00::1', '10.0.0.1', '::1', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '', 1, null]

/** EndpointSlices: `field` draws valid values, and with `nearly` now and then an invalid one. */
export function sliceArb(field: Field) {
  const endpoint = (type: keyof typeof ADDRESSES) =>
    fc.record({
      addresses: fc.array(field([...ADDRESSES[type]], BAD_ADDRESSES), { minLength: type === 'FQDN' ? 0 : 1, maxLength: 3 }),
      conditions: field([undefined, null, {}, { ready: true, serving: true, terminating: false }, { ready: false, serving: null }, { terminating: true, ready: null }], [
        { ready: 'yes' }, { serving: 1 }, defined({ ready: UNDEF }), [], 'true', UNDEF,
      ]),
      nodeName: field([undefined, 'n1', 'node-2', 'a.b.c', null], ['Node_1', '', 'a'.repeat(254), 1, UNDEF]),
      zone: field([undefined, 'z1', 'us-east-1a', '', 'Any Zone', null], [1, {}, UNDEF]),
      hostname: field([undefined, 'h1', 'pod-0', null], ['a.b', 'A', '', UNDEF]),
      hints: field(
        [undefined, null, {}, { forZones: [{ name: 'z1' }, { name: 'z2' }] }, { forZones: null, forNodes: [{ name: 'n1' }] }, { forNodes: [{ name: 'n1' }, { name: 'n2.x' }], forZones: [{ name: '' }] }],
        [UNDEF, defined({ forZones: UNDEF }), { forZones: [{ name: 'z1' }, { name: 'z1' }] }, { forNodes: [{ name: 'n1' }, { name: 'n1' }] }, { forZones: Array.from({ length: 9 }, (_, i) => ({ name: `z${i}` })) }, { forZones: [{}] }, { forNodes: [{ name: 'N' }] }, []],
      ),
      targetRef: field([undefined, { kind: 'Pod', name: 'p', namespace: 'default' }], []),
    }).map(defined)

  const port = fc.record({
    name: field([undefined, 'http', 'https', '', 'dns-tcp', null], ['HTTP', 'a'.repeat(64), 1]),
    protocol: field([undefined, 'TCP', 'UDP', 'SCTP', null], ['HTTP', 'tcp', 6]),
    // Port 0 is valid only in FQDN slices (the rules return before checking it): it is planted as a near miss.
    port: field([undefined, 1, 80, 8080, 65535, null], [0, 65536, -1, 1.5, '80', Number.NaN, UNDEF]),
    appProtocol: field([undefined, 'http', 'kubernetes.io/h2c', null], ['a/b/c', '', '/x', UNDEF]),
  }).map(defined)

  return field(['IPv4', 'IPv6', 'FQDN'] as const, ['IPv5', 'ipv4', null]).chain((type) =>
    fc.record({
      apiVersion: fc.constant('discovery.k8s.io/v1'),
      kind: fc.constant('EndpointSlice'),
      metadata: fields.metadata(field, ['web-abc', 'a', 'web.v1-x', 'x'.repeat(253)], ['', 'Web', 'a_b', 'x'.repeat(254)], [
        { 'kubernetes.io/service-name': 'web' },
        { 'kubernetes.io/service-name': '', '1': 'one', 'a b': 'c' },
      ], [{ 'kubernetes.io/service-name': 'Web' }]),
      addressType: fc.constant(type),
      endpoints: fc.oneof(fc.constant(undefined), fc.constant(null), fc.array(endpoint(type in ADDRESSES ? (type as keyof typeof ADDRESSES) : 'IPv4'), { maxLength: 4 })),
      ports: fc.oneof(fc.constant(undefined), fc.constant(null), fc.array(port, { maxLength: 3 })),
    }).map(defined),
  )
}

type Type = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName'
const V4 = ['10.96.0.10', '10.96.0.011', '192.168.0.1']
const V6 = ['fd00:96::10', 'FD00:96::A', '2001:db8::1']
const BAD_IPS = ['10.96.0.300', '::ffff:10.0.0.1', '10.96.0.1/32', 'None', 'fd00::1', '', 1, null]

/** Services of every type and field the schema reads: `field` draws valid values, with `nearly` now and then an invalid one. */
export function serviceArb(field: Field) {
  const ports = (type: Type) => {
    const nodePorts = type === 'NodePort' || type === 'LoadBalancer' ? [undefined, 0, 30080, 32767] : [undefined, 0]
    return fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('http', 'https', 'dns-tcp', 'p8080'),
        protocol: field([undefined, 'TCP', 'UDP', 'SCTP'], ['HTTP', 'tcp', null, UNDEF]),
        port: field([80, 443, 1, 65535], [0, 65536, 80.5, '80', 1e20, Number.NaN, null, undefined]),
        targetPort: field([undefined, 8080, 0, 65535, 'http', 'web-port', ''], [65536, -1, 'HTTP', 'a--b', '123', 1.5, null, UNDEF]),
        nodePort: field(nodePorts, [30080.5, 65536, '30080', null, ...(type === 'ClusterIP' ? [30080] : [])]),
        appProtocol: field([undefined, 'http', 'kubernetes.io/h2c'], ['a/b/c', '', null]),
      }),
      { minLength: 1, maxLength: 3, selector: (p) => p.name },
    ).chain((list) =>
      // One port may go unnamed; several must be named, with distinct protocol/port and nodePorts.
      fc.boolean().map((unnamed) => {
        const seen = new Set<string>()
        const kept = list.filter((p) => {
          const keys = [`${String(p.protocol ?? 'TCP')}/${String(p.port)}`, ...(p.nodePort ? [`${String(p.protocol ?? 'TCP')}/node${String(p.nodePort)}`] : [])]
          if (keys.some((k) => seen.has(k))) return false
          for (const k of keys) seen.add(k)
          return true
        })
        return kept.map((p) => defined({ ...p, name: unnamed && kept.length === 1 ? undefined : p.name }))
      }),
    )
  }

  const addresses = (type: Type) =>
    fc.record({
      family: fc.constantFrom('IPv4', 'IPv6', 'dual4', 'dual6'),
      form: fc.constantFrom('none', 'clusterIP', 'both', 'families', 'headless', 'empty'),
      v4: fc.constantFrom(...V4),
      v6: fc.constantFrom(...V6),
      policy: field([undefined, null, 'SingleStack', 'PreferDualStack', 'RequireDualStack'], ['Dual', UNDEF]),
      badIP: field([undefined], BAD_IPS),
      badFamilies: field([undefined], [['IPv4', 'IPv4'], ['IPv6'], ['IPv4', 'IPv6', 'IPv4'], ['ipv4'], []]),
    }).map(({ family, form, v4, v6, policy, badIP, badFamilies }) => {
      const fams = family === 'IPv4' ? ['IPv4'] : family === 'IPv6' ? ['IPv6'] : family === 'dual4' ? ['IPv4', 'IPv6'] : ['IPv6', 'IPv4']
      const ips = fams.map((f) => (f === 'IPv4' ? v4 : v6))
      const headless = form === 'headless' && type !== 'NodePort' && type !== 'LoadBalancer'
      const spec: Record<string, unknown> =
        type === 'ExternalName' ? (form === 'empty' ? { clusterIP: '', clusterIPs: [''] } : form === 'clusterIP' ? { clusterIP: '' } : {})
        : headless ? { clusterIP: 'None', ...(form === 'headless' ? { clusterIPs: ['None'] } : {}) }
        : form === 'none' ? {}
        : form === 'empty' ? { clusterIP: '' }
        : form === 'clusterIP' ? { clusterIP: ips[0] }
        : form === 'both' ? { clusterIP: ips[0], clusterIPs: ips }
        : { clusterIP: ips[0], clusterIPs: ips, ipFamilies: fams }
      if (badIP !== undefined) spec.clusterIP = badIP
      if (badFamilies !== undefined) spec.ipFamilies = badFamilies
      return { spec: defined({ ...spec, ipFamilyPolicy: policy }), headless: spec.clusterIP === 'None' }
    })

  return field<Type | undefined>([undefined, 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], ['Internal', 'clusterip', null, UNDEF]).chain((declared) => {
    const type: Type = (typeof declared === 'string' && ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(declared) ? declared : 'ClusterIP') as Type
    const lb = type === 'LoadBalancer'
    return fc.record({
      addresses: addresses(type),
      ports: ports(type),
      noPorts: fc.constantFrom<unknown>(undefined, null, []),
      externalIPs: field([undefined, null, [], ['192.168.10.1'], ['192.168.10.1', 'fd00:10::1']], [['127.0.0.1'], ['0.0.0.0'], ['fe80::1'], ['169.254.0.1'], ['10.0.0.256'], 'x', [1]]),
      externalName: field([undefined, 'example.com', ''], [null, 1]),
      loadBalancerIP: field([undefined, '192.168.20.1', 'fd00:20::1'], ['', 'lb', null]),
      sourceRanges: field(lb ? [undefined, null, [], ['10.0.0.0/8', 'fd00::/64', '10.1.2.3/8']] : [undefined, null, []], [['10.0.0.0/33'], ['10.0.0.1'], ...(lb ? [] : [['10.0.0.0/8']])]),
      etp: fc.constantFrom(undefined, 'Cluster', 'Local'),
      badEtp: field([undefined], ['Sometimes', null, 'Local']),
      itp: field([undefined, null, 'Cluster', 'Local'], ['Node']),
      hcnp: field([undefined, 0, 32000], [65536, '32000', null]),
      affinity: field([undefined, 'None', 'ClientIP'], ['Sticky', null]),
      affinityConfig: field([undefined, null, {}, { clientIP: null }, { clientIP: {} }, { clientIP: { timeoutSeconds: 10800 } }, { clientIP: { timeoutSeconds: 1 } }, { clientIP: { timeoutSeconds: 86400, extra: 1 } }], [
        { clientIP: { timeoutSeconds: 0 } }, { clientIP: { timeoutSeconds: 86401 } }, { clientIP: 'x' }, { clientIP: { timeoutSeconds: null } }, [],
      ]),
      distribution: field([undefined, null, 'PreferClose', 'PreferSameZone', 'PreferSameNode'], ['Anywhere']),
      allocate: field(lb ? [undefined, null, true, false] : [undefined, null], ['yes', ...(lb ? [] : [true])]),
      notReady: field([undefined, null, true, false], [0]),
      // Cross-field near misses: a port that repeats another's protocol/port (or nodePort), rules ignored.
      clash: field([undefined], ['port', 'nodePort', 'unnamed']),
      ignoreRules: field([false], [true]),
      status: field([undefined, null, {}, { loadBalancer: null }, { loadBalancer: {} }, { loadBalancer: { ingress: null } }, { loadBalancer: { ingress: [
        { ip: '192.168.20.1', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP', error: null }] },
        { hostname: 'lb.example.com' },
        { ip: 'fd00:20::1', hostname: 'x', ipMode: null, ports: null },
      ] } }], [
        { loadBalancer: { ingress: [{ hostname: 'lb', ipMode: 'VIP' }] } }, { loadBalancer: { ingress: [{ ip: '1.2.3.400' }] } },
        { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipMode: 'Magic' }] } }, { loadBalancer: { ingress: [{ ports: 'x' }] } }, { loadBalancer: [] }, 'x',
      ]),
      metadata: fields.metadata(field, ['web', 'a', 'x'.repeat(63)], ['Web', 'web.v1', 'x'.repeat(64), ''], [{ app: 'web' }], []),
    }).map((g) => {
      const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && Array.isArray(g.externalIPs) && g.externalIPs.length > 0)
      const etp = g.badEtp ?? (externallyAccessible ? g.etp : undefined)
      const affinityValid = g.ignoreRules || g.affinity === 'ClientIP' || !(g.affinityConfig as { clientIP?: unknown } | null | undefined)?.clientIP
      const first = g.ports[0] as Record<string, unknown>
      const clash =
        g.clash === 'port' ? { ...first, name: 'clash' }
        : g.clash === 'nodePort' ? { ...first, name: 'clash', port: 9, nodePort: first.nodePort || 30999 }
        : g.clash === 'unnamed' ? { port: 9 }
        : undefined
      const spec = defined({
        ports: g.addresses.headless || type === 'ExternalName' ? g.noPorts : clash ? [...g.ports, clash] : g.ports,
        selector: { app: 'web' },
        ...g.addresses.spec,
        type: declared,
        externalIPs: g.externalIPs,
        sessionAffinity: g.affinity,
        loadBalancerIP: g.loadBalancerIP,
        loadBalancerSourceRanges: g.sourceRanges,
        externalName: g.externalName,
        externalTrafficPolicy: etp,
        healthCheckNodePort: g.ignoreRules || (lb && etp === 'Local') ? g.hcnp : g.hcnp === 32000 ? undefined : g.hcnp,
        publishNotReadyAddresses: g.notReady,
        sessionAffinityConfig: affinityValid ? g.affinityConfig : undefined,
        allocateLoadBalancerNodePorts: g.allocate,
        loadBalancerClass: lb ? 'example.com/lb' : undefined,
        internalTrafficPolicy: g.itp,
        trafficDistribution: g.distribution,
      })
      return defined({ apiVersion: 'v1', kind: 'Service', metadata: g.metadata, spec, status: g.status })
    })
  })
}

