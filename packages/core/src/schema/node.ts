import { z } from 'zod'
import { addIf, cidrText, crossCheck, ipText, list, str, subdomainMetadata, typeError } from './common.js'

/** Node address types kube-proxy takes node IPs from, in order of preference. */
export const NODE_IP_TYPES = ['InternalIP', 'ExternalIP'] as const

const nodeShape = z.object({
  metadata: subdomainMetadata,
  spec: z
    .object({ podCIDR: str(cidrText).optional(), podCIDRs: list(str(cidrText), 2).nullish() }, { error: typeError('an object') })
    .nullish(),
  status: z
    .object(
      { addresses: list(z.object({ type: str(), address: str() }, { error: typeError('an object') })).nullish() },
      { error: typeError('an object') },
    )
    .nullish(),
})

/** A v1 Node: its name, zone label, addresses and pod CIDRs. */
export const nodeSchema = nodeShape

/** Cross-field rules, run on the raw object even when fields failed (every problem at once). */
export const nodeRules = crossCheck((node: z.output<typeof nodeShape>, ctx) => {
    node.status?.addresses?.forEach((a, i) => {
      if ((NODE_IP_TYPES as readonly string[]).includes(a.type)) addIf(ctx, ipText(a.address), ['status', 'addresses', i, 'address'])
    })
})

export type NodeObject = z.infer<typeof nodeSchema>
