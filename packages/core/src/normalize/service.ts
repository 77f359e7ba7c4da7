import { type Family, canonicalIP, cidrContains, familyOf, isCanonicalIPv4, parseCIDR, parseIP, sortAddresses, zeroCIDR } from '../ip.js'
import type { Diagnostic, ExternalDispatch, HealthCheck, Protocol, ServicePortModel, Verdict } from '../model.js'
import type { EndpointSliceObject } from '../schema/endpoint-slice.js'
import type { ServiceObject } from '../schema/service.js'
import { selectEndpoints } from '../select.js'
import type { FamilyContext } from './context.js'
import { mergeEndpoints, passesInformerFilter, sortSlices } from './endpoints.js'

/** Default ClientIP affinity timeout the API server fills in (3 h). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800

/** Why a whole Service produces nothing, or undefined when it is proxied. */
export function serviceSkipReason(svc: ServiceObject, serviceProxyName: string | undefined): { code: string; message: string } | undefined {
  if (!passesInformerFilter(svc.metadata.labels, serviceProxyName)) {
    return { code: 'SVC_FILTERED', message: 'skipped: labelled service-proxy-name or headless, so kube-proxy never sees it' }
  }
  if ((svc.spec.type ?? 'ClusterIP') === 'ExternalName') return { code: 'SVC_EXTERNAL_NAME', message: 'skipped: ExternalName Services are DNS-only' }
  const primary = svc.spec.clusterIP ?? svc.spec.clusterIPs?.[0]
  if (primary === 'None') return { code: 'SVC_HEADLESS', message: 'skipped: headless (clusterIP None)' }
  if (primary === undefined || primary === '') {
    return { code: 'SVC_NO_CLUSTER_IP', message: 'skipped: no clusterIP (the API server would allocate one; give it in the input)' }
  }
  return undefined
}

/** The cluster IP of the family (model.md §6), canonical, or undefined. */
export function clusterIPFor(svc: ServiceObject, family: Family): string | undefined {
  const s = svc.spec
  let ip: string | undefined
  if (s.ipFamilies && s.ipFamilies.length > 0) {
    const i = s.ipFamilies.indexOf(family)
    const ips = s.clusterIPs ?? (s.clusterIP !== undefined ? [s.clusterIP] : [])
    ip = i >= 0 ? ips[i] : undefined
  } else if (s.clusterIP && familyOf(s.clusterIP) === family) {
    ip = s.clusterIP
  }
  if (!ip || ip === 'None') return undefined
  return canonicalIP(ip)
}

function objectRef(svc: ServiceObject) {
  return { kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name }
}

function ipsOfFamily(list: readonly string[], family: Family): string[] {
  if (list.length === 0) return []
  const out: string[] = []
  for (const raw of list) {
    const p = parseIP(raw)
    if (!('error' in p) && p.family === family) out.push(p.text)
  }
  return sortAddresses(out)
}

/** Lenient-input warnings for one Service, reported once (not per family). */
export function serviceWarnings(svc: ServiceObject): Diagnostic[] {
  const out: Diagnostic[] = []
  const s = svc.spec
  // This runs for every Service: plain loops, and field names spelled only for a warning.
  if (s.clusterIPs) for (let i = 0; i < s.clusterIPs.length; i++) leadingZeros(out, svc, s.clusterIPs[i] as string, 'spec.clusterIPs', i)
  else if (s.clusterIP) leadingZeros(out, svc, s.clusterIP, 'spec.clusterIP')
  if (s.externalIPs) for (let i = 0; i < s.externalIPs.length; i++) leadingZeros(out, svc, s.externalIPs[i] as string, 'spec.externalIPs', i)
  const ingress = svc.status?.loadBalancer?.ingress
  if (ingress) {
    for (let i = 0; i < ingress.length; i++) {
      const ip = ingress[i]?.ip
      if (ip) leadingZeros(out, svc, ip, 'status.loadBalancer.ingress', i, '.ip')
    }
  }
  ;(s.loadBalancerSourceRanges ?? []).forEach((r, i) => {
    const p = parseCIDR(r.trim())
    if (!('error' in p) && (p.hostBitsSet || p.leadingZeros)) {
      out.push(warning(svc, `spec.loadBalancerSourceRanges[${i}]`, 'CIDR_NOT_CANONICAL', `${JSON.stringify(r)} is read as ${p.text}, as kube-proxy does`))
    }
  })
  if (s.trafficDistribution === 'PreferClose') {
    out.push(warning(svc, 'spec.trafficDistribution', 'SVC_PREFER_CLOSE', '"PreferClose" is a deprecated alias of "PreferSameZone"'))
  }
  const type = s.type ?? 'ClusterIP'
  if (type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local' && !s.healthCheckNodePort) {
    out.push(warning(svc, 'spec.healthCheckNodePort', 'SVC_NO_HEALTH_CHECK_PORT', 'is 0 for a LoadBalancer with externalTrafficPolicy Local; kube-proxy treats it as none'))
  }
  return out
}

function warning(svc: ServiceObject, field: string, code: string, message: string): Diagnostic {
  return { severity: 'warning', code, object: objectRef(svc), field, message }
}

function leadingZeros(out: Diagnostic[], svc: ServiceObject, ip: string, path: string, index?: number, suffix = ''): void {
  if (isCanonicalIPv4(ip)) return
  const p = parseIP(ip)
  if ('error' in p || !p.leadingZeros) return
  const field = index === undefined ? path : `${path}[${index}]${suffix}`
  out.push(warning(svc, field, 'IP_LEADING_ZEROS', `${JSON.stringify(ip)} has leading zeros; read as decimal ${p.text}, as kube-proxy does`))
}

// Shared by every port that has them (the model is immutable): one object per port was only work
// for the garbage collector at 10k Services.
const REJECT: Verdict = Object.freeze({ action: 'reject', reason: 'no-endpoints' })
const DROP: Verdict = Object.freeze({ action: 'drop', reason: 'no-local-endpoints' })
const TO_LOCAL: Verdict = Object.freeze({ action: 'forward', to: 'local' })
const TO_CLUSTER: Verdict = Object.freeze({ action: 'forward', to: 'cluster' })
const NO_AFFINITY: ServicePortModel['sessionAffinity'] = Object.freeze({ kind: 'None' })

/** The service ports of one Service in one family (model.md §2–§5, §9.1). */
export function computeServicePorts(
  svc: ServiceObject,
  slices: readonly EndpointSliceObject[],
  ctx: FamilyContext,
  diagnostics: Diagnostic[],
): ServicePortModel[] {
  if (serviceSkipReason(svc, ctx.serviceProxyName)) return []
  const clusterIP = clusterIPFor(svc, ctx.family)
  if (!clusterIP) return []
  const s = svc.spec
  const namespace = svc.metadata.namespace ?? 'default'
  const name = svc.metadata.name
  const type = (s.type ?? 'ClusterIP') as ServicePortModel['serviceType']
  // Most Services have none of these lists: one shared empty list then (the model is immutable).
  const externalIPs = orEmpty(ipsOfFamily(s.externalIPs ?? NONE, ctx.family))
  const ingress = svc.status?.loadBalancer?.ingress
  const vips = ingress && ingress.length > 0
    ? orEmpty(ipsOfFamily(ingress.filter((i) => i.ip && (i.ipMode ?? 'VIP') === 'VIP').map((i) => i.ip as string), ctx.family))
    : EMPTY
  const ranges = s.loadBalancerSourceRanges
  const familyRanges = ranges && ranges.length > 0
    ? sortAddresses(ranges.map((r) => parseCIDR(r.trim())).flatMap((p) => ('error' in p || p.family !== ctx.family ? [] : [p.text])))
    : EMPTY
  // A zero-length prefix means "allow any", the same as no ranges (pkg/proxy/serviceport.go).
  const sourceRanges = orEmpty(familyRanges.includes(zeroCIDR(ctx.family)) ? EMPTY : familyRanges)
  const typeAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0)
  const externalPolicyLocal = typeAccessible && s.externalTrafficPolicy === 'Local'
  const internalPolicyLocal = s.internalTrafficPolicy === 'Local'
  const healthCheckNodePort = type === 'LoadBalancer' && externalPolicyLocal ? (s.healthCheckNodePort ?? 0) : 0
  const sessionAffinity: ServicePortModel['sessionAffinity'] = s.sessionAffinity === 'ClientIP'
    ? { kind: 'ClientIP', timeoutSeconds: s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS }
    : NO_AFFINITY
  // Per Service and family, so shared by its ports.
  const firewall: ServicePortModel['firewall'] = {
    enabled: vips.length > 0 && sourceRanges.length > 0,
    sourceRanges,
    allowLoadBalancerVIPsAsSource: sourceRanges.length > 0 && sourceRanges.some((r) => cidrContains(r, ctx.nodeIP)),
  }

  const ordered = sortSlices(slices)
  const familySlices = ordered.filter((sl) => sl.addressType === ctx.family)
  const specPorts = s.ports ?? NONE
  const serviceName = `${namespace}/${name}`
  const out: ServicePortModel[] = []
  for (let index = 0; index < specPorts.length; index++) {
    const p = specPorts[index] as (typeof specPorts)[number]
    const portName = p.name ?? ''
    const protocol = (p.protocol ?? 'TCP') as Protocol
    const displayName = portName ? `${serviceName}:${portName}` : serviceName
    const nodePort = p.nodePort ?? 0
    const externallyAccessible = nodePort !== 0 || vips.length > 0 || externalIPs.length > 0
    const usesClusterEndpoints = !internalPolicyLocal || externallyAccessible
    const usesLocalEndpoints = internalPolicyLocal || (externalPolicyLocal && externallyAccessible)
    const endpoints = mergeEndpoints(ordered, ctx.family, portName, protocol, ctx.nodeName, diagnostics)
    if (s.trafficDistribution && endpoints.length > 0 && endpoints.every((e) => e.zoneHints.length === 0 && e.nodeHints.length === 0)) {
      diagnostics.push({
        severity: 'warning', code: 'SVC_NO_HINTS', object: objectRef(svc), field: 'spec.trafficDistribution',
        message: `is ${JSON.stringify(s.trafficDistribution)} but no ${ctx.family} endpoint carries hints: kube-proxy reads only hints, so traffic spreads over all endpoints`,
      })
    }
    if (familySlices.length > 0 && !slicesCarry(familySlices, portName, protocol)) {
      diagnostics.push({
        severity: 'warning', code: 'SVC_PORT_NOT_IN_SLICES', object: objectRef(svc), field: `spec.ports[${index}]`,
        message: `no ${ctx.family} EndpointSlice port is named ${JSON.stringify(portName)} with protocol ${protocol}: kube-proxy matches by name, so this port rejects`,
      })
    }
    const sel = selectEndpoints(endpoints, { usesClusterEndpoints, usesLocalEndpoints }, ctx.nodeName, ctx.zone)
    const localEmpty = (sel.localEndpoints ?? NONE).length === 0
    if (sel.hasAnyEndpoints && localEmpty && (internalPolicyLocal || (externalPolicyLocal && externallyAccessible))) {
      diagnostics.push({
        severity: 'info', code: 'SVC_NO_LOCAL_ENDPOINTS', object: objectRef(svc), field: internalPolicyLocal ? 'spec.internalTrafficPolicy' : 'spec.externalTrafficPolicy',
        message: `${ctx.family} port ${displayName}: Local policy and no usable endpoint on node ${ctx.nodeName}: that traffic is dropped here`,
      })
    }
    const internal: Verdict = !sel.hasAnyEndpoints ? REJECT : internalPolicyLocal ? (localEmpty ? DROP : TO_LOCAL) : TO_CLUSTER
    const external: ExternalDispatch | null = externallyAccessible
      ? {
          policy: !sel.hasAnyEndpoints ? REJECT : externalPolicyLocal ? (localEmpty ? DROP : TO_LOCAL) : TO_CLUSTER,
          masquerade: !externalPolicyLocal,
          shortCircuitLocalPods: externalPolicyLocal && ctx.localDetector.kind !== 'none',
          shortCircuitHost: externalPolicyLocal,
        }
      : null
    out.push({
      key: displayName + (SLASH_PROTOCOL[protocol] ?? `/${protocol}`),
      namespace,
      name,
      portName,
      protocol,
      protocolLower: LOWER[protocol] ?? (protocol.toLowerCase() as ServicePortModel['protocolLower']),
      displayName,
      serviceType: type,
      clusterIP,
      port: p.port,
      nodePort,
      externalIPs,
      loadBalancerVIPs: vips,
      loadBalancerSourceRanges: sourceRanges,
      healthCheckNodePort,
      sessionAffinity,
      internalPolicyLocal,
      externalPolicyLocal,
      externallyAccessible,
      usesClusterEndpoints,
      usesLocalEndpoints,
      endpoints,
      topologyMode: sel.topologyMode,
      clusterEndpoints: sel.clusterEndpoints,
      clusterUsesTerminating: sel.clusterUsesTerminating,
      localEndpoints: sel.localEndpoints,
      localUsesTerminating: sel.localUsesTerminating,
      reachableEndpoints: sel.reachableEndpoints,
      hasAnyEndpoints: sel.hasAnyEndpoints,
      internal,
      external,
      firewall,
    })
  }
  return out
}

const NONE: readonly never[] = Object.freeze([])
const EMPTY: string[] = NONE as never[]
const orEmpty = (list: string[]) => (list.length === 0 ? EMPTY : list)
const LOWER = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' } as const
const SLASH_PROTOCOL = { TCP: '/TCP', UDP: '/UDP', SCTP: '/SCTP' } as const

/** Whether some slice has a port of this name and protocol (the match kube-proxy makes). */
function slicesCarry(slices: readonly EndpointSliceObject[], portName: string, protocol: Protocol): boolean {
  for (const sl of slices) for (const x of sl.ports ?? NONE) if ((x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol) return true
  return false
}

/** The health-check server a Service needs on this node (LoadBalancer, ETP Local), or undefined. */
export function serviceHealthCheck(svc: ServiceObject, ports: Partial<Record<Family, readonly ServicePortModel[]>>): HealthCheck | undefined {
  if (!svc.spec.healthCheckNodePort) return undefined
  const lists = Object.entries(ports) as [Family, readonly ServicePortModel[]][]
  let nodePort = 0
  for (const [, list] of lists) for (const p of list) if (nodePort === 0 && p.healthCheckNodePort !== 0) nodePort = p.healthCheckNodePort
  if (!nodePort) return undefined
  const localReadyEndpoints: Partial<Record<Family, number>> = {}
  for (const [family, list] of lists) {
    const ips = new Set<string>()
    for (const p of list) for (const e of p.endpoints) if (e.ready && e.isLocal) ips.add(e.ip)
    localReadyEndpoints[family] = ips.size
  }
  return { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name, nodePort, localReadyEndpoints }
}
