/** Malformed inputs and the message each must produce (shared by the core and CLI tests). */
export interface BadCase {
  name: string
  yaml: string
  /** Substrings the formatted error must contain. */
  expect: string[]
}

const svc = (spec: string, meta = 'name: web\n  namespace: default') => `apiVersion: v1\nkind: Service\nmetadata:\n  ${meta}\nspec:\n${spec}`
const ports = '  clusterIP: 10.96.0.10\n  ports:\n  - {name: http, port: 80}\n'
const slice = (body: string) =>
  `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n  namespace: default\n  labels: {kubernetes.io/service-name: web}\n${body}`
const scidr = (cidrs: string) => `apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: kubernetes}\nspec:\n  cidrs: ${cidrs}\n`
const kpc = (body: string) => `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n${body}`

export const BAD_CASES: BadCase[] = [
  { name: 'port out of range', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: 70000}\n'), expect: ['Service default/web: spec.ports[0].port: 70000 is not in 1..65535'] },
  { name: 'huge port number', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: 100000000000000000000}\n'), expect: ['spec.ports[0].port: 100000000000000000000 is not in 1..65535'] },
  { name: 'fractional port', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: 80.5}\n'), expect: ['spec.ports[0].port: 80.5 is not an integer'] },
  { name: 'port as string', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: "80"}\n'), expect: ['spec.ports[0].port: "80" must be an integer, not a string'] },
  { name: 'bad protocol', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: 80, protocol: HTTP}\n'), expect: ['spec.ports[0].protocol: "HTTP" is not one of TCP, UDP, SCTP'] },
  { name: 'uppercase name', yaml: svc(ports, 'name: Web\n  namespace: default'), expect: ['Service default/Web: metadata.name: "Web" is not a DNS-1123 label'] },
  { name: 'bad namespace', yaml: svc(ports, 'name: web\n  namespace: "kube_system"'), expect: ['metadata.namespace: "kube_system" is not a DNS-1123 label'] },
  { name: 'name too long', yaml: svc(ports, `name: ${'a'.repeat(64)}\n  namespace: default`), expect: ['is longer than 63 characters'] },
  { name: 'duplicate port names', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {name: a, port: 80}\n  - {name: a, port: 81}\n'), expect: ['spec.ports[1].name: "a" duplicates the name of entry 0'] },
  { name: 'unnamed port among several', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {name: a, port: 80}\n  - {port: 81}\n'), expect: ['spec.ports[1].name: is required when the Service has more than one port'] },
  { name: 'duplicate protocol and port', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n'), expect: ['spec.ports[1].port: 80 duplicates the protocol and port of entry 0'] },
  { name: 'nodePort on ClusterIP', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {port: 80, nodePort: 30080}\n'), expect: ['spec.ports[0].nodePort: 30080 is forbidden for type ClusterIP'] },
  { name: 'port name injection', yaml: svc('  clusterIP: 10.96.0.10\n  ports:\n  - {name: "a\\" -j ACCEPT", port: 80}\n'), expect: ['spec.ports[0].name: "a\\" -j ACCEPT" is not a DNS-1123 label'] },
  { name: 'bad clusterIP', yaml: svc('  clusterIP: 10.96.0.300\n  ports:\n  - {port: 80}\n'), expect: ['spec.clusterIP: "10.96.0.300" is not an IP address'] },
  { name: 'clusterIP family mismatch', yaml: svc('  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.10]\n  ipFamilies: [IPv6]\n  ports:\n  - {port: 80}\n'), expect: ['spec.clusterIPs[0]: "10.96.0.10" is not of family IPv6'] },
  { name: 'clusterIP differs from clusterIPs[0]', yaml: svc('  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.11]\n  ports:\n  - {port: 80}\n'), expect: ['spec.clusterIP: "10.96.0.10" must equal spec.clusterIPs[0]'] },
  { name: 'IPv4-mapped IPv6', yaml: svc('  clusterIP: "::ffff:10.0.0.1"\n  ports:\n  - {port: 80}\n'), expect: ['is an IPv4-mapped IPv6 address'] },
  { name: 'duplicate ipFamilies', yaml: svc('  clusterIP: 10.96.0.10\n  ipFamilies: [IPv4, IPv4]\n  ports:\n  - {port: 80}\n'), expect: ['spec.ipFamilies[1]: "IPv4" duplicates the family of entry 0'] },
  { name: 'loopback externalIP', yaml: svc('  clusterIP: 10.96.0.10\n  externalIPs: [127.0.0.1]\n  ports:\n  - {port: 80}\n'), expect: ['spec.externalIPs[0]: "127.0.0.1" is a loopback address, which cannot be an external IP'] },
  { name: 'bad sessionAffinity', yaml: svc(`${ports}  sessionAffinity: Sticky\n`), expect: ['spec.sessionAffinity: "Sticky" is not one of None, ClientIP'] },
  { name: 'affinity timeout too large', yaml: svc(`${ports}  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\n`), expect: ['spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 is not in 1..86400'] },
  { name: 'affinity config without ClientIP', yaml: svc(`${ports}  sessionAffinityConfig: {clientIP: {timeoutSeconds: 10}}\n`), expect: ['spec.sessionAffinityConfig: {"clientIP":{"timeoutSeconds":10}} must not be set when sessionAffinity is None'] },
  { name: 'source ranges on ClusterIP', yaml: svc(`${ports}  loadBalancerSourceRanges: [10.0.0.0/8]\n`), expect: ['spec.loadBalancerSourceRanges: ["10.0.0.0/8"] may only be set for type LoadBalancer'] },
  { name: 'bad source range', yaml: svc(`  type: LoadBalancer\n${ports}  loadBalancerSourceRanges: [10.0.0.0/33]\n`), expect: ['spec.loadBalancerSourceRanges[0]: "10.0.0.0/33" is not a CIDR'] },
  { name: 'ETP on internal Service', yaml: svc(`${ports}  externalTrafficPolicy: Local\n`), expect: ['spec.externalTrafficPolicy: "Local" may only be set for NodePort and LoadBalancer Services'] },
  { name: 'healthCheckNodePort on NodePort', yaml: svc(`  type: NodePort\n${ports}  externalTrafficPolicy: Local\n  healthCheckNodePort: 32000\n`), expect: ['spec.healthCheckNodePort: 32000 may only be set for type LoadBalancer'] },
  { name: 'ipMode without ip', yaml: `${svc(`  type: LoadBalancer\n${ports}`)}status:\n  loadBalancer:\n    ingress:\n    - {hostname: lb.example.com, ipMode: VIP}\n`, expect: ['status.loadBalancer.ingress[0].ipMode: "VIP" may only be set together with ip'] },
  { name: 'bad ipMode', yaml: `${svc(`  type: LoadBalancer\n${ports}`)}status:\n  loadBalancer:\n    ingress:\n    - {ip: 192.168.20.1, ipMode: Magic}\n`, expect: ['status.loadBalancer.ingress[0].ipMode: "Magic" is not one of VIP, Proxy'] },
  { name: 'bad type', yaml: svc(`  type: Internal\n${ports}`), expect: ['spec.type: "Internal" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName'] },
  { name: 'spec not an object', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: hello\n', expect: ['Service default/web: spec: "hello" must be an object, not a string'] },
  { name: 'ports not a list', yaml: svc('  clusterIP: 10.96.0.10\n  ports: {port: 80}\n'), expect: ['spec.ports: {"port":80} must be a list, not an object'] },
  { name: 'no ports', yaml: svc('  clusterIP: 10.96.0.10\n'), expect: ['spec.ports: is required (at least one port)'] },
  { name: 'missing name', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {namespace: default}\nspec:\n  clusterIP: 10.96.0.10\n  ports: [{port: 80}]\n', expect: ['Service <unnamed> (input.yaml): metadata.name: is required'] },
  { name: 'slice bad addressType', yaml: slice('addressType: IPv5\nendpoints: []\n'), expect: ['EndpointSlice default/web-1: addressType: "IPv5" is not one of IPv4, IPv6, FQDN'] },
  { name: 'slice address of the wrong family', yaml: slice('addressType: IPv4\nendpoints:\n- addresses: ["fd00::1"]\n'), expect: ['endpoints[0].addresses[0]: "fd00::1" is not an IPv4 address (addressType)'] },
  { name: 'slice loopback endpoint', yaml: slice('addressType: IPv4\nendpoints:\n- addresses: [127.0.0.2]\n'), expect: ['endpoints[0].addresses[0]: "127.0.0.2" is a loopback address, which cannot be an endpoint'] },
  { name: 'slice endpoint without address', yaml: slice('addressType: IPv4\nendpoints:\n- addresses: []\n'), expect: ['endpoints[0].addresses: [] must hold at least one address'] },
  { name: 'slice too many zone hints', yaml: slice(`addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  hints: {forZones: [${Array.from({ length: 9 }, (_, i) => `{name: z${i}}`).join(', ')}]}\n`), expect: ['endpoints[0].hints.forZones: ', 'has 9 entries, more than 8'] },
  { name: 'slice duplicate port names', yaml: slice('addressType: IPv4\nports: [{name: http, port: 80}, {name: http, port: 81}]\n'), expect: ['ports[1].name: "http" duplicates the name of entry 0'] },
  { name: 'slice port zero', yaml: slice('addressType: IPv4\nports: [{name: http, port: 0}]\n'), expect: ['ports[0].port: 0 is not in 1..65535'] },
  { name: 'slice condition not boolean', yaml: slice('addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  conditions: {ready: "yes"}\n'), expect: ['endpoints[0].conditions.ready: "yes" must be a boolean (true or false), not a string'] },
  { name: 'slice bad nodeName', yaml: slice('addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n  nodeName: "Node_1"\n'), expect: ['endpoints[0].nodeName: "Node_1" is not a DNS-1123 subdomain'] },
  { name: 'node bad address', yaml: 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n  - {type: InternalIP, address: 10.0.0.256}\n', expect: ['Node n1: status.addresses[0].address: "10.0.0.256" is not an IP address'] },
  { name: 'node bad podCIDR', yaml: 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDRs: [10.244.1.0]}\n', expect: ['spec.podCIDRs[0]: "10.244.1.0" is not a CIDR (missing /prefix)'] },
  { name: 'ServiceCIDR invalid CIDR', yaml: scidr('[10.96.0.0/33]'), expect: ['ServiceCIDR kubernetes: spec.cidrs[0]: "10.96.0.0/33" is not a CIDR (prefix longer than 32)'] },
  { name: 'ServiceCIDR not canonical', yaml: scidr('["10.96.0.1/16", "FD00:96:0:0::/64"]'), expect: ['spec.cidrs[0]: "10.96.0.1/16" must be in canonical form ("10.96.0.0/16")', 'spec.cidrs[1]: "FD00:96:0:0::/64" must be in canonical form ("fd00:96::/64")'] },
  { name: 'ServiceCIDR two of one family', yaml: scidr('[10.96.0.0/16, 10.100.0.0/16]'), expect: ['ServiceCIDR kubernetes: spec.cidrs[1]: "10.100.0.0/16" is of the same family (IPv4) as entry 0: at most one CIDR per family'] },
  { name: 'ServiceCIDR three CIDRs', yaml: scidr('[10.96.0.0/16, "fd00::/112", 10.100.0.0/16]'), expect: ['spec.cidrs: ["10.96.0.0/16","fd00::/112","10.100.0.0/16"] has 3 entries, more than 2'] },
  { name: 'ServiceCIDR without CIDRs', yaml: scidr('[]'), expect: ['ServiceCIDR kubernetes: spec.cidrs: [] must hold at least one CIDR'] },
  { name: 'config masqueradeBit', yaml: kpc('iptables: {masqueradeBit: 32}\n'), expect: ['KubeProxyConfiguration <unnamed> (input.yaml): iptables.masqueradeBit: 32 is not in 0..31'] },
  { name: 'config mode', yaml: kpc('mode: userspace\n'), expect: ['mode: "userspace"'] },
  { name: 'config detectLocal without bridge', yaml: kpc('detectLocalMode: BridgeInterface\n'), expect: ['detectLocal.bridgeInterface: is required when detectLocalMode is BridgeInterface'] },
  { name: 'config interface injection', yaml: kpc('detectLocalMode: BridgeInterface\ndetectLocal: {bridgeInterface: "cbr0 -j ACCEPT"}\n'), expect: ['detectLocal.bridgeInterface: "cbr0 -j ACCEPT" is not a valid interface name'] },
  { name: 'config primary mixed', yaml: kpc('nodePortAddresses: [primary, 10.0.0.0/8]\n'), expect: ['nodePortAddresses[0]: "primary" must be the only entry when given'] },
  { name: 'config bad clusterCIDR', yaml: kpc('clusterCIDR: 10.244.0.0/16,banana\n'), expect: ['clusterCIDR: "10.244.0.0/16,banana" holds "banana", which is not a CIDR'] },
  { name: 'config bad duration', yaml: kpc('ipvs: {tcpTimeout: soon}\n'), expect: ['ipvs.tcpTimeout: "soon" is not a duration'] },
  { name: 'two configs', yaml: `${kpc('clusterCIDR: 10.0.0.0/8\n')}---\n${kpc('clusterCIDR: 10.1.0.0/16\n')}`, expect: ['is a second KubeProxyConfiguration'] },
  { name: 'unknown apiVersion', yaml: 'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: e}\n', expect: ['EndpointSlice default/e: apiVersion: "discovery.k8s.io/v1beta1" is not supported for EndpointSlice (expected discovery.k8s.io/v1)'] },
  { name: 'truncated YAML', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web\n', expect: ['is not valid YAML'] },
  { name: 'scalar document', yaml: 'just a string\n', expect: ['document <unnamed> (input.yaml): "just a string" is not a Kubernetes object'] },
  { name: 'missing kind', yaml: 'apiVersion: v1\nmetadata: {name: x}\n', expect: ['kind: is required: every object needs a kind'] },
  { name: 'duplicate object with other contents', yaml: `${svc(ports)}---\n${svc('  clusterIP: 10.96.0.11\n  ports:\n  - {name: http, port: 80}\n')}`, expect: ['Service default/web: appears twice in the input with different contents'] },
]
