/**
 * What IPVS mode shares with the iptables mode, taken from @kproxc/iptables on purpose (STYLE:
 * "the IPVS backend reuses the iptables rule writer and names"), plus the one piece that package
 * keeps private: the local-traffic detector's "not local" match.
 */
import type { LocalDetector } from '@kproxc/core'
import { CHAINS } from '@kproxc/iptables'

export { BACKEND_OPTIONS as IPTABLES_OPTIONS, BUILTIN_JUMPS_HEADER, commentWord, formatMark, readOptions as readIptablesOptions } from '@kproxc/iptables'

/** Chains both modes declare, with the iptables backend's names. */
export const SHARED_CHAINS = {
  services: CHAINS.services,
  postrouting: CHAINS.postrouting,
  markMasq: CHAINS.markMasq,
  forward: CHAINS.forward,
  proxyFirewall: CHAINS.proxyFirewall,
} as const

/**
 * The detector's "source is not a local pod" match (pkg/proxy/util LocalTrafficDetector.IfNotLocal).
 * Local copy: @kproxc/iptables computes the same fragment but does not export it.
 */
export function notLocalArgs(detector: LocalDetector): string[] {
  switch (detector.kind) {
    case 'none':
      return []
    case 'cidr':
      return ['!', '-s', detector.cidr]
    case 'bridgeInterface':
      return ['!', '-i', detector.name]
    case 'interfaceNamePrefix':
      return ['!', '-i', `${detector.prefix}+`]
  }
}
