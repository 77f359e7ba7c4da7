/**
 * Every kernel name and fixed string of kube-proxy's nftables mode, in one place
 * (upstream: pkg/proxy/nftables/proxier.go, v1.36 layout). Per-service names are
 * `<prefix><hash>-<ns>/<svc>/<proto>/<port>` with an 8-character base32(SHA-256) hash.
 */
import { sha256Base32 } from '@kproxc/core'

/** The one table kube-proxy owns per family. */
export const TABLE = 'kube-proxy'
export const TABLE_COMMENT = 'rules for kube-proxy'

/** Fixed chains, sets and maps. None contains `/`, which is how kube-proxy tells them from per-service chains. */
export const CHAIN = {
  filterPreroutingPreDNAT: 'filter-prerouting-pre-dnat',
  filterOutputPreDNAT: 'filter-output-pre-dnat',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  filterOutput: 'filter-output',
  natPrerouting: 'nat-prerouting',
  natOutput: 'nat-output',
  natPostrouting: 'nat-postrouting',
  services: 'services',
  serviceEndpointsCheck: 'service-endpoints-check',
  nodePortEndpointsCheck: 'nodeport-endpoints-check',
  reject: 'reject-chain',
  clusterIPsCheck: 'cluster-ips-check',
  firewallCheck: 'firewall-check',
  masquerading: 'masquerading',
} as const

export const SET = {
  nodePortIPs: 'nodeport-ips',
  clusterIPs: 'cluster-ips',
  hairpinConnections: 'hairpin-connections',
} as const

export const MAP = {
  serviceIPs: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  firewallIPs: 'firewall-ips',
} as const

/** Object and rule comments, verbatim from upstream. */
export const COMMENT = {
  hairpinConnections: 'service hairpin connections',
  clusterIPs: 'Active ClusterIPs',
  nodePortIPs: 'IPs that accept NodePort traffic',
  noEndpointServices: 'vmap to drop or reject packets to services with no endpoints',
  noEndpointNodePorts: 'vmap to drop or reject packets to service nodeports with no endpoints',
  rejectChain: 'helper for @no-endpoint-services / @no-endpoint-nodeports',
  firewallIPs: 'destinations that are subject to LoadBalancerSourceRanges',
  serviceIPs: 'ClusterIP, ExternalIP and LoadBalancer IP traffic',
  serviceNodePorts: 'NodePort traffic',
  rejectInvalidPorts: 'Reject traffic to invalid ports of ClusterIPs',
  dropUnallocated: 'Drop traffic to unallocated ClusterIPs',
  masqueradeAllClusterIP: 'masquerade all clusterIP traffic',
  masqueradeOffCluster: 'masquerade clusterIP traffic from outside cluster',
  masquerade: 'masquerade',
  shortCircuitPods: 'short-circuit pod traffic',
  masqueradeLocal: 'masquerade local traffic',
  shortCircuitLocal: 'short-circuit local traffic',
} as const

/** Per-service object prefixes (knftables reserves 16 characters for them). */
export const PREFIX = {
  cluster: 'service-',
  local: 'local-',
  external: 'external-',
  firewall: 'firewall-',
  endpoint: 'endpoint-',
  affinity: 'affinity-',
} as const

/** knftables.NameLengthMax (256) minus the 16 characters reserved for a prefix. */
const BASE_LENGTH_MAX = 240
/** knftables.CommentLengthMax: nft's text parser rejects longer comments. */
export const COMMENT_LENGTH_MAX = 128

/** The first 8 characters of RFC 4648 base32 (standard alphabet) of the SHA-256 of `s`. */
export function hash8(s: string): string {
  return sha256Base32(s, 8)
}

/** kube-proxy's hashAndTruncate: `HASH-name`, cut to 240 characters with a `...` tail. */
export function hashAndTruncate(name: string): string {
  const n = `${hash8(name)}-${name}`
  return n.length > BASE_LENGTH_MAX ? `${n.slice(0, BASE_LENGTH_MAX - 3)}...` : n
}

/** What names a service port: namespace, service, lower-case protocol and port name. */
export interface PortIdentity {
  namespace: string
  name: string
  protocolLower: string
  portName: string
}

/** `HASH-ns/svc/proto/port` (servicePortChainNameBase). */
export function servicePortBase(p: PortIdentity): string {
  return hashAndTruncate(`${p.namespace}/${p.name}/${p.protocolLower}/${p.portName}`)
}

/**
 * `HASH-ns/svc/proto/port__ip/port` (servicePortEndpointChainNameBase); IPv6 colons become dots
 * because nft names cannot hold `:`.
 */
export function endpointBase(p: PortIdentity, ip: string, port: number): string {
  const ipPart = ip.includes(':') ? ip.replaceAll(':', '.') : ip
  return hashAndTruncate(`${p.namespace}/${p.name}/${p.protocolLower}/${p.portName}__${ipPart}/${port}`)
}

/** The four chain names of one service port. */
export interface ServicePortNames {
  cluster: string
  local: string
  external: string
  firewall: string
}

/** Chain names of a service port. */
export function servicePortNames(p: PortIdentity): ServicePortNames {
  const base = servicePortBase(p)
  return {
    cluster: PREFIX.cluster + base,
    local: PREFIX.local + base,
    external: PREFIX.external + base,
    firewall: PREFIX.firewall + base,
  }
}

/** Endpoint chain and affinity set names of one endpoint of a service port. */
export function endpointNames(p: PortIdentity, ip: string, port: number): { chain: string; affinitySet: string } {
  const base = endpointBase(p, ip, port)
  return { chain: PREFIX.endpoint + base, affinitySet: PREFIX.affinity + base }
}

/** truncateNFTablesComment: at most 128 bytes (nft's limit; the 1.0.6 JSON parser does not check it). */
export function truncateComment(s: string): string {
  const bytes = Buffer.byteLength(s, 'utf8')
  if (bytes <= COMMENT_LENGTH_MAX) return s
  return Buffer.from(s, 'utf8').subarray(0, COMMENT_LENGTH_MAX).toString('utf8').replace(/\uFFFD+$/, '')
}

/**
 * The mark as kube-proxy spells it: Go's `%#08x`, whose width counts digits only (unlike C), so
 * bit 14 is `0x00004000` (golang/go#14616; upstream's unit tests inject `0x4000` instead).
 */
export function formatMark(mark: number): string {
  return `0x${mark.toString(16).padStart(8, '0')}`
}
