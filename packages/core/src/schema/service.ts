import { z } from 'zod'
import { familyOf, parseIP, specialAddressKind } from '../ip.js'
import {
  addIf, bool, cidrText, dns1123Label, ianaSvcName, int, ipText, list, metadata, oneOf, qualifiedName,
  reportDuplicates, str, typeError,
  crossCheck,
} from './common.js'

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const

const targetPort = z.custom<number | string>(
  (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535) || (typeof v === 'string' && (v === '' || !ianaSvcName(v))),
  { error: (iss: { input?: unknown }) => (typeof iss.input === 'number' ? 'is not in 1..65535' : 'is not a port number or an IANA_SVC_NAME') },
)

const servicePort = z.object(
  {
    name: str((v) => (v === '' ? undefined : dns1123Label(v))).optional(),
    protocol: oneOf(PROTOCOLS).optional(),
    port: int(1, 65535),
    targetPort: targetPort.optional(),
    nodePort: int(0, 65535).optional(),
    appProtocol: str(qualifiedName).optional(),
  },
  { error: typeError('an object') },
)

const externalIP = str((v) => {
  const bad = ipText(v)
  if (bad) return bad
  const special = specialAddressKind(v)
  return special ? `is ${special}, which cannot be an external IP` : undefined
})

const ingress = z.object(
  {
    ip: str(ipText).optional(),
    hostname: str().optional(),
    ipMode: oneOf(['VIP', 'Proxy'] as const).nullish(),
    ports: z.array(z.unknown()).nullish(),
  },
  { error: typeError('an object') },
)

const spec = z.object(
  {
    type: oneOf(SERVICE_TYPES).optional(),
    clusterIP: str().optional(),
    clusterIPs: list(str(), 2).optional(),
    ipFamilies: list(oneOf(['IPv4', 'IPv6'] as const), 2).optional(),
    ipFamilyPolicy: oneOf(['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const).nullish(),
    ports: list(servicePort).nullish(),
    externalIPs: list(externalIP).nullish(),
    externalName: str().optional(),
    loadBalancerIP: str(ipText).optional(),
    loadBalancerSourceRanges: list(str(cidrText)).nullish(),
    externalTrafficPolicy: oneOf(['Cluster', 'Local'] as const).optional(),
    internalTrafficPolicy: oneOf(['Cluster', 'Local'] as const).nullish(),
    healthCheckNodePort: int(0, 65535).optional(),
    sessionAffinity: oneOf(['None', 'ClientIP'] as const).optional(),
    sessionAffinityConfig: z
      .object({ clientIP: z.object({ timeoutSeconds: int(1, 86400).optional() }).nullish() }, { error: typeError('an object') })
      .nullish(),
    trafficDistribution: oneOf(['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const).nullish(),
    allocateLoadBalancerNodePorts: bool().nullish(),
    publishNotReadyAddresses: bool().nullish(),
  },
  { error: typeError('an object') },
)

const status = z
  .object(
    { loadBalancer: z.object({ ingress: list(ingress).nullish() }, { error: typeError('an object') }).nullish() },
    { error: typeError('an object') },
  )
  .nullish()

/** A v1 Service as kproxc reads it (fields kube-proxy ignores are not kept). */
const serviceShape = z
  .object({ metadata: metadata.extend({ name: str(dns1123Label) }), spec, status })

export const serviceSchema = serviceShape

/** Cross-field rules, run on the raw object even when fields failed (every problem at once). */
export const serviceRules = crossCheck((svc: z.output<typeof serviceShape>, ctx) => {
    const s = svc.spec
    const type = s.type ?? 'ClusterIP'
    const ports = s.ports ?? []
    const headless = s.clusterIP === 'None'
    const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0)

    if (ports.length === 0 && !headless && type !== 'ExternalName') addIf(ctx, 'is required (at least one port)', ['spec', 'ports'])
    if (ports.length > 1) {
      ports.forEach((p, i) => {
        if (!p.name) addIf(ctx, 'is required when the Service has more than one port', ['spec', 'ports', i, 'name'])
      })
    }
    reportDuplicates(ctx, ports, (p) => (p.name ? p.name : undefined), (i) => ['spec', 'ports', i, 'name'], 'the name')
    reportDuplicates(ctx, ports, (p) => `${p.protocol ?? 'TCP'}/${p.port}`, (i) => ['spec', 'ports', i, 'port'], 'the protocol and port')
    reportDuplicates(ctx, ports, (p) => (p.nodePort ? `${p.protocol ?? 'TCP'}/${p.nodePort}` : undefined), (i) => ['spec', 'ports', i, 'nodePort'], 'the protocol and nodePort')
    ports.forEach((p, i) => {
      if (p.nodePort && type === 'ClusterIP') addIf(ctx, 'is forbidden for type ClusterIP', ['spec', 'ports', i, 'nodePort'])
    })

    // clusterIP / clusterIPs / ipFamilies consistency (ValidateServiceClusterIPsRelatedFields).
    const ips = s.clusterIPs ?? (s.clusterIP !== undefined ? [s.clusterIP] : [])
    if (s.clusterIPs && s.clusterIP !== undefined && s.clusterIPs[0] !== s.clusterIP) {
      addIf(ctx, 'must equal spec.clusterIPs[0]', ['spec', 'clusterIP'])
    }
    if (type === 'ExternalName' && ips.length > 0 && ips.some((ip) => ip !== '')) {
      addIf(ctx, 'is forbidden for type ExternalName', ['spec', 'clusterIP'])
    }
    if (headless && (type === 'NodePort' || type === 'LoadBalancer')) addIf(ctx, `may not be "None" for type ${type}`, ['spec', 'clusterIP'])
    ips.forEach((ip, i) => {
      const path = s.clusterIPs ? ['spec', 'clusterIPs', i] : ['spec', 'clusterIP']
      if (ip === 'None') {
        if (ips.length > 1) addIf(ctx, 'may only be "None" as the sole entry', path)
        return
      }
      if (ip === '') return
      const bad = ipText(ip)
      if (bad) return addIf(ctx, bad, path)
      const fam = s.ipFamilies?.[i]
      if (fam && familyOf(ip) !== fam) addIf(ctx, `is not of family ${fam} (spec.ipFamilies[${i}])`, path)
    })
    if (ips.length === 2 && familyOf(ips[0] ?? '') && familyOf(ips[0] ?? '') === familyOf(ips[1] ?? '')) {
      addIf(ctx, 'must hold one address of each family', ['spec', 'clusterIPs'])
    }
    reportDuplicates(ctx, s.ipFamilies ?? [], (f) => f, (i) => ['spec', 'ipFamilies', i], 'the family')

    if (s.externalTrafficPolicy !== undefined && !externallyAccessible) {
      addIf(ctx, 'may only be set for NodePort and LoadBalancer Services, or Services with externalIPs', ['spec', 'externalTrafficPolicy'])
    }
    if (s.healthCheckNodePort) {
      if (!(type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local')) {
        addIf(ctx, 'may only be set for type LoadBalancer with externalTrafficPolicy Local', ['spec', 'healthCheckNodePort'])
      }
    }
    if ((s.sessionAffinity ?? 'None') === 'None' && s.sessionAffinityConfig?.clientIP) {
      addIf(ctx, 'must not be set when sessionAffinity is None', ['spec', 'sessionAffinityConfig'])
    }
    if (s.loadBalancerSourceRanges?.length && type !== 'LoadBalancer') {
      addIf(ctx, 'may only be set for type LoadBalancer', ['spec', 'loadBalancerSourceRanges'])
    }
    if (s.allocateLoadBalancerNodePorts != null && type !== 'LoadBalancer') {
      addIf(ctx, 'may only be set for type LoadBalancer', ['spec', 'allocateLoadBalancerNodePorts'])
    }
    svc.status?.loadBalancer?.ingress?.forEach((ing, i) => {
      if (ing.ipMode && !ing.ip) addIf(ctx, 'may only be set together with ip', ['status', 'loadBalancer', 'ingress', i, 'ipMode'])
      if (ing.ip && 'error' in parseIP(ing.ip)) return
    })
})

export type ServiceObject = z.infer<typeof serviceSchema>
