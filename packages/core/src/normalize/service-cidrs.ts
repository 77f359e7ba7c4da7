import { type Family, parseCIDR, sortAddresses } from '../ip.js'
import type { ServiceCIDRObject } from '../schema/service-cidr.js'

/**
 * The CIDRs of `family` over every ServiceCIDR object, canonical, de-duplicated and sorted.
 * kube-proxy's ServiceCIDR handler (pkg/proxy/config/config.go) keeps the union of spec.cidrs of
 * every object its informer holds, status and deletionTimestamp ignored: a ServiceCIDR being
 * deleted still counts until it is gone. Each family's proxier keeps its own family's CIDRs
 * (OnServiceCIDRsChanged in pkg/proxy/nftables/proxier.go).
 */
export function serviceCIDRsOfFamily(objects: Iterable<ServiceCIDRObject>, family: Family): string[] {
  const out: string[] = []
  for (const o of objects) {
    for (const cidr of o.spec.cidrs) {
      const p = parseCIDR(cidr)
      if (!('error' in p) && p.family === family) out.push(p.text)
    }
  }
  return sortAddresses(out)
}
