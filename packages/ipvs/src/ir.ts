import type { Family, Protocol } from '@kproxc/core'
import type { IpsetKey, IpsetType } from './names.js'

/** Which address of a service port a virtual server answers on. */
export type Frontend = 'clusterIP' | 'externalIP' | 'loadBalancer' | 'nodePort'

/** One IPVS destination: always masquerading (NAT), weight 1 (proxier.go syncEndpoint). */
export interface RealServer {
  kind: 'realServer'
  address: string
  port: number
  weight: number
  /** The model's endpoint key (`ip:port`). */
  endpoint: string
}

/** One IPVS virtual service (address, protocol, port) with its destinations. */
export interface VirtualServer {
  kind: 'virtualServer'
  /** The model key of the service port that produced it. */
  servicePort: string
  frontend: Frontend
  protocol: Protocol
  address: string
  port: number
  scheduler: string
  /** Persistence timeout in seconds (session affinity ClientIP), or null. */
  persistenceTimeout: number | null
  /** Scheduler flags by ipvsadm name, e.g. `mh-port`. */
  schedulerFlags: readonly string[]
  realServers: readonly RealServer[]
}

/** Kernel-wide IPVS connection timeouts (`ipvsadm --set`; 0 keeps the kernel value). */
export interface IpvsTimeouts {
  tcp: number
  tcpFin: number
  udp: number
}

/** One ipset with its desired, sorted, de-duplicated members. */
export interface Ipset {
  kind: 'ipset'
  key: IpsetKey
  /** Kernel name in this family (`KUBE-6-…` for IPv6). */
  name: string
  type: IpsetType
  family: 'inet' | 'inet6'
  comment: string
  entries: readonly string[]
}

/** One iptables rule: table, chain, and the argument tokens after `-A CHAIN` (comments unquoted). */
export interface IptablesRule {
  kind: 'rule'
  table: 'nat' | 'filter'
  chain: string
  args: readonly string[]
}

/** One table: kube-proxy's restore text, then the jumps it installs from built-in chains with `iptables -I`. */
export interface IptablesTable {
  chains: readonly string[]
  rules: readonly IptablesRule[]
  /** Empty when the built-in jumps are left out. */
  builtin: readonly IptablesRule[]
}

/** The restore document of one family: nat, then filter (kube-proxy's IPVS-mode order). */
export interface IptablesDocument {
  nat: IptablesTable
  filter: IptablesTable
}

/** One `sysctl -p` line. */
export interface Sysctl {
  kind: 'sysctl'
  key: string
  value: number
}

/** Everything IPVS mode programs for one family, in final order. */
export interface IpvsRuleset {
  family: Family
  timeouts: IpvsTimeouts | null
  virtualServers: readonly VirtualServer[]
  ipsets: readonly Ipset[]
  iptables: IptablesDocument
  /** Addresses bound to kube-ipvs0 (also the members of KUBE-IPVS-IPS). */
  boundAddresses: readonly string[]
  sysctls: readonly Sysctl[]
  /** Explanatory lines for sysctl.conf (why a key kube-proxy may set is absent). */
  sysctlNotes: readonly string[]
}
