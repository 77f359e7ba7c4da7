import { z } from 'zod'
import { addIf, bool, cidrText, crossCheck, int, ipText, list, oneOf, str, typeError
} from './common.js'

export const PROXY_MODES = ['iptables', 'ipvs', 'nftables'] as const
export const DETECT_LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'] as const

const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/

/** Seconds in a Go duration string ("30s", "1m30s", "0"). */
export function durationSeconds(text: string): number | undefined {
  if (text === '0') return 0
  if (!GO_DURATION.test(text)) return undefined
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }
  let total = 0
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * (unit[m[2] ?? 's'] ?? 1)
  return total
}

const duration = () => str((v) => (durationSeconds(v) === undefined ? 'is not a duration such as "30s"' : undefined))

const modeSection = z
  .object(
    {
      masqueradeAll: bool().optional(),
      masqueradeBit: int(0, 31).nullish(),
      localhostNodePorts: bool().nullish(),
      syncPeriod: duration().optional(),
      minSyncPeriod: duration().optional(),
    },
    { error: typeError('an object') },
  )
  .optional()

/** kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration: the fields that change rules. */
const configShape = z
  .object({
    hostnameOverride: str().optional(),
    bindAddress: str(ipText).optional(),
    clusterCIDR: str().optional(),
    mode: z.union([oneOf(PROXY_MODES), z.literal('')]).optional(),
    detectLocalMode: z.union([oneOf(DETECT_LOCAL_MODES), z.literal('')]).optional(),
    detectLocal: z
      .object({ bridgeInterface: str().optional(), interfaceNamePrefix: str().optional() }, { error: typeError('an object') })
      .optional(),
    nodePortAddresses: list(str()).nullish(),
    iptables: modeSection,
    nftables: modeSection,
    ipvs: z
      .object(
        {
          scheduler: str().optional(),
          strictARP: bool().optional(),
          excludeCIDRs: list(str(cidrText)).nullish(),
          tcpTimeout: duration().optional(),
          tcpFinTimeout: duration().optional(),
          udpTimeout: duration().optional(),
          syncPeriod: duration().optional(),
          minSyncPeriod: duration().optional(),
        },
        { error: typeError('an object') },
      )
      .optional(),
    conntrack: z.object({ tcpBeLiberal: bool().optional() }, { error: typeError('an object') }).passthrough().optional(),
  })

export const configSchema = configShape

/** Cross-field rules, run on the raw object even when fields failed (every problem at once). */
export const configRules = crossCheck((c: z.output<typeof configShape>, ctx) => {
    const cidrs = (c.clusterCIDR ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    cidrs.forEach((cidr) => addIf(ctx, cidrText(cidr) ? `holds ${JSON.stringify(cidr)}, which is not a CIDR` : undefined, ['clusterCIDR']))
    if (cidrs.length > 2) addIf(ctx, 'holds more than two CIDRs', ['clusterCIDR'])
    const mode = c.detectLocalMode || 'ClusterCIDR'
    if (mode === 'BridgeInterface' && !c.detectLocal?.bridgeInterface) {
      addIf(ctx, 'is required when detectLocalMode is BridgeInterface', ['detectLocal', 'bridgeInterface'])
    }
    if (mode === 'InterfaceNamePrefix' && !c.detectLocal?.interfaceNamePrefix) {
      addIf(ctx, 'is required when detectLocalMode is InterfaceNamePrefix', ['detectLocal', 'interfaceNamePrefix'])
    }
    for (const [field, value] of [['bridgeInterface', c.detectLocal?.bridgeInterface], ['interfaceNamePrefix', c.detectLocal?.interfaceNamePrefix]] as const) {
      // Interface names reach rule text: allow only what the kernel allows in a name (IFNAMSIZ 16).
      if (value && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(value)) addIf(ctx, 'is not a valid interface name', ['detectLocal', field])
    }
    const npa = c.nodePortAddresses ?? []
    npa.forEach((entry, i) => {
      if (entry === 'primary') {
        if (npa.length > 1) addIf(ctx, 'must be the only entry when given', ['nodePortAddresses', i])
        return
      }
      addIf(ctx, cidrText(entry) ? 'is neither "primary" nor a CIDR' : undefined, ['nodePortAddresses', i])
    })
    if (c.ipvs?.scheduler && !/^[a-z]{1,16}$/.test(c.ipvs.scheduler)) addIf(ctx, 'is not a scheduler name', ['ipvs', 'scheduler'])
})

export type ConfigObject = z.infer<typeof configSchema>
