import { z } from 'zod'
import { parseCIDR } from '../ip.js'
import { addIf, crossCheck, list, str, subdomainMetadata, typeError } from './common.js'

/** apiVersions of ServiceCIDR kube-proxy has read: v1 since 1.33, v1beta1 in 1.31-1.32. */
export const SERVICE_CIDR_API_VERSIONS = ['networking.k8s.io/v1', 'networking.k8s.io/v1beta1'] as const

const serviceCIDRShape = z.object({
  metadata: subdomainMetadata,
  spec: z.object({ cidrs: list(str(), 2) }, { error: typeError('an object') }),
})

/** A networking.k8s.io ServiceCIDR: only spec.cidrs matters to a proxy (status is the allocator's). */
export const serviceCIDRSchema = serviceCIDRShape

/**
 * ValidateServiceCIDR (pkg/apis/networking/validation): at least one CIDR, at most one per
 * family, each in the strict, canonical form IsValidCIDR demands of new fields. kube-proxy relies
 * on that: it keeps the CIDR strings as given and only asks each one's family.
 */
export const serviceCIDRRules = crossCheck((obj: z.output<typeof serviceCIDRShape>, ctx) => {
  const cidrs = obj.spec.cidrs
  if (!Array.isArray(cidrs)) return
  if (cidrs.length === 0) addIf(ctx, 'must hold at least one CIDR', ['spec', 'cidrs'])
  if (cidrs.length > 2) return
  const families = new Map<string, number>()
  cidrs.forEach((cidr, i) => {
    if (typeof cidr !== 'string') return
    const p = parseCIDR(cidr)
    if ('error' in p) return addIf(ctx, p.error, ['spec', 'cidrs', i])
    if (p.text !== cidr) return addIf(ctx, `must be in canonical form (${JSON.stringify(p.text)})`, ['spec', 'cidrs', i])
    const first = families.get(p.family)
    if (first !== undefined) addIf(ctx, `is of the same family (${p.family}) as entry ${first}: at most one CIDR per family`, ['spec', 'cidrs', i])
    else families.set(p.family, i)
  })
})

export type ServiceCIDRObject = z.infer<typeof serviceCIDRSchema>
