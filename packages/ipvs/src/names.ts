import type { Family } from '@kproxc/core'

/** The dummy interface kube-proxy binds service addresses to (pkg/proxy/ipvs/proxier.go). */
export const DUMMY_DEVICE = 'kube-ipvs0'

/** kube-proxy's default scheduler when `ipvs.scheduler` is empty. */
export const DEFAULT_SCHEDULER = 'rr'

/** Schedulers the `--scheduler` option offers (the list). */
export const SCHEDULER_CHOICES = ['rr', 'lc', 'dh', 'sh', 'sed', 'nq', 'wrr', 'mh'] as const

/**
 * Every scheduler the kernel ships an `ip_vs_<name>` module for. kube-proxy treats the name as
 * opaque and probes it at start-up; a name outside this list could never be programmed.
 */
export const KERNEL_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'] as const

/** ipset types kube-proxy uses. */
export type IpsetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port'

/** The seventeen ipsets of IPVS mode, by their IPv4 name (pkg/proxy/ipvs/ipset.go). */
export type IpsetKey =
  | 'KUBE-LOOP-BACK'
  | 'KUBE-CLUSTER-IP'
  | 'KUBE-EXTERNAL-IP'
  | 'KUBE-EXTERNAL-IP-LOCAL'
  | 'KUBE-LOAD-BALANCER'
  | 'KUBE-LOAD-BALANCER-FW'
  | 'KUBE-LOAD-BALANCER-LOCAL'
  | 'KUBE-LOAD-BALANCER-SOURCE-IP'
  | 'KUBE-LOAD-BALANCER-SOURCE-CIDR'
  | 'KUBE-NODE-PORT-TCP'
  | 'KUBE-NODE-PORT-LOCAL-TCP'
  | 'KUBE-NODE-PORT-UDP'
  | 'KUBE-NODE-PORT-LOCAL-UDP'
  | 'KUBE-NODE-PORT-SCTP-HASH'
  | 'KUBE-NODE-PORT-LOCAL-SCTP-HASH'
  | 'KUBE-HEALTH-CHECK-NODE-PORT'
  | 'KUBE-IPVS-IPS'

/** Type and iptables comment of one set. */
export interface IpsetInfo {
  type: IpsetType
  comment: string
}

/**
 * The sets in kube-proxy's declaration order (`ipsetInfo`), which is also the order we create them in.
 * Comments are the strings kube-proxy puts on the iptables rules that match each set.
 */
export const IPSETS: Readonly<Record<IpsetKey, IpsetInfo>> = {
  'KUBE-LOOP-BACK': { type: 'hash:ip,port,ip', comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose' },
  'KUBE-CLUSTER-IP': { type: 'hash:ip,port', comment: 'Kubernetes service cluster ip + port for masquerade purpose' },
  'KUBE-EXTERNAL-IP': { type: 'hash:ip,port', comment: 'Kubernetes service external ip + port for masquerade and filter purpose' },
  'KUBE-EXTERNAL-IP-LOCAL': { type: 'hash:ip,port', comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local' },
  'KUBE-LOAD-BALANCER': { type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  'KUBE-LOAD-BALANCER-FW': { type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange' },
  'KUBE-LOAD-BALANCER-LOCAL': { type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local' },
  'KUBE-LOAD-BALANCER-SOURCE-IP': { type: 'hash:ip,port,ip', comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose' },
  'KUBE-LOAD-BALANCER-SOURCE-CIDR': { type: 'hash:ip,port,net', comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose' },
  'KUBE-NODE-PORT-TCP': { type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port for masquerade purpose' },
  'KUBE-NODE-PORT-LOCAL-TCP': { type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local' },
  'KUBE-NODE-PORT-UDP': { type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port for masquerade purpose' },
  'KUBE-NODE-PORT-LOCAL-UDP': { type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local' },
  'KUBE-NODE-PORT-SCTP-HASH': { type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'" },
  'KUBE-NODE-PORT-LOCAL-SCTP-HASH': { type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'" },
  'KUBE-HEALTH-CHECK-NODE-PORT': { type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  'KUBE-IPVS-IPS': { type: 'hash:ip', comment: 'Addresses on the ipvs interface' },
}

/** The set keys in declaration order. */
export const IPSET_KEYS = Object.keys(IPSETS) as IpsetKey[]

/** ipset's limit on set names (IPSET_MAXNAMELEN - 1). */
export const IPSET_NAME_MAX = 31

/**
 * The kernel name of a set in one family. kube-proxy keeps the IPv4 names for upgrades and, for IPv6,
 * replaces the first `KUBE-` with `KUBE-6-` and cuts the result to 31 characters (NewIPSet in ipset.go),
 * which truncates two of the names.
 */
export function ipsetName(key: IpsetKey, family: Family): string {
  if (family === 'IPv4') return key
  return key.replace('KUBE-', 'KUBE-6-').slice(0, IPSET_NAME_MAX)
}

/** Chains of IPVS mode that the iptables mode does not have (pkg/proxy/ipvs/proxier.go constants). */
export const IPVS_CHAINS = {
  nodePort: 'KUBE-NODE-PORT',
  loadBalancer: 'KUBE-LOAD-BALANCER',
  ipvsFilter: 'KUBE-IPVS-FILTER',
  ipvsOutFilter: 'KUBE-IPVS-OUT-FILTER',
  sourceRangesFirewall: 'KUBE-SOURCE-RANGES-FIREWALL',
} as const

/** The sysctl keys IPVS mode sets (proxier.go NewProxier), in the order kube-proxy sets them. */
export const SYSCTLS = {
  vsConntrack: 'net/ipv4/vs/conntrack',
  connReuseMode: 'net/ipv4/vs/conn_reuse_mode',
  expireNoDestConn: 'net/ipv4/vs/expire_nodest_conn',
  expireQuiescentTemplate: 'net/ipv4/vs/expire_quiescent_template',
  ipForward: 'net/ipv4/ip_forward',
  arpIgnore: 'net/ipv4/conf/all/arp_ignore',
  arpAnnounce: 'net/ipv4/conf/all/arp_announce',
} as const

/** The file names the backend writes. */
export const OUTPUT_FILES = {
  ipvsadm: 'ipvsadm.rules',
  ipset: 'ipset.rules',
  iptables: 'iptables.rules',
  addresses: 'kube-ipvs0.addresses',
  sysctl: 'sysctl.conf',
} as const
