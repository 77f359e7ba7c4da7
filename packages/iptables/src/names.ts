/**
 * Kernel names of kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go): the fixed chains and
 * the hashed per-service and per-endpoint chains. Shared on purpose with the IPVS backend.
 */
import { sha256Base32_16 } from '@kproxc/core'

/** Fixed chains kube-proxy declares or jumps to, by their exact names. */
export const CHAINS = {
  services: 'KUBE-SERVICES',
  externalServices: 'KUBE-EXTERNAL-SERVICES',
  forward: 'KUBE-FORWARD',
  nodePorts: 'KUBE-NODEPORTS',
  proxyFirewall: 'KUBE-PROXY-FIREWALL',
  firewall: 'KUBE-FIREWALL',
  postrouting: 'KUBE-POSTROUTING',
  markMasq: 'KUBE-MARK-MASQ',
} as const

/** Name of one fixed chain. */
export type FixedChain = (typeof CHAINS)[keyof typeof CHAINS]

/** Prefixes of the per-service-port chains (SVC/SVL/EXT/FW) and the per-endpoint chain (SEP). */
export const CHAIN_PREFIX = {
  svc: 'KUBE-SVC-',
  svl: 'KUBE-SVL-',
  ext: 'KUBE-EXT-',
  fw: 'KUBE-FW-',
  sep: 'KUBE-SEP-',
} as const

/** iptables' limit on chain names (XT_EXTENSION_MAXNAMELEN - 1). */
export const MAX_CHAIN_NAME = 28

/** The nfacct counters kube-proxy creates at a full sync (pkg/proxy/metrics). */
export const NFACCT = {
  invalidDropped: 'ct_state_invalid_dropped_pkts',
  localhostNodePorts: 'localhost_nps_accepted_pkts',
} as const

/** Shared 16-character hash of SVC/SVL/EXT/FW chains: base32(SHA-256(SPN + protocol)). */
export function servicePortHash(displayName: string, protocolLower: string): string {
  return sha256Base32_16(displayName + protocolLower)
}

/** The four chain names of one service port, from its shared hash. */
export function servicePortChains(hash: string): { svc: string; svl: string; ext: string; fw: string } {
  return {
    svc: CHAIN_PREFIX.svc + hash,
    svl: CHAIN_PREFIX.svl + hash,
    ext: CHAIN_PREFIX.ext + hash,
    fw: CHAIN_PREFIX.fw + hash,
  }
}

/** `KUBE-SEP-` + base32(SHA-256(SPN + protocol + endpoint)), the endpoint as `ip:port` / `[ip]:port`. */
export function endpointChain(displayName: string, protocolLower: string, endpointKey: string): string {
  return CHAIN_PREFIX.sep + sha256Base32_16(displayName, protocolLower, endpointKey)
}

/** The masquerade mark as kube-proxy writes it: Go's `%#08x`, i.e. `0x` and 8 zero-padded hex digits. */
export function formatMark(mark: number): string {
  return `0x${(mark >>> 0).toString(16).padStart(8, '0')}`
}
