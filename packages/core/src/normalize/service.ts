import { type Family, cidrContains, familyOf, parseCIDR, parseIP, sortAddresses, zeroCIDR } from '../ip.js'
import type { Diagnostic, ExternalDispatch, Protocol, ServicePortModel, Verdict } from '../model.js'
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
  const p = parseIP(ip)
  return 'error' in p ? undefined : p.text
}

function objectRef(svc: ServiceObject) {
  return { kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name }
}

function ipsOfFamily(list: readonly string[], family: Family): string[] {
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
  const warn = (field: string, code: string, message: string) => out.push({ severity: 'warning', code, object: objectRef(svc), field, message })
  const ips: [string, string][] = [
    ...(svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : [])).map((ip, i): [string, string] => [svc.spec.clusterIPs ? `spec.clusterIPs[${i}]` : 'spec.clusterIP', ip]),
    ...(svc.spec.externalIPs ?? []).map((ip, i): [string, string] => [`spec.externalIPs[${i}]`, ip]),
    ...(svc.status?.loadBalancer?.ingress ?? []).flatMap((ing, i): [string, string][] => (ing.ip ? [[`status.loadBalancer.ingress[${i}].ip`, ing.ip]] : [])),
  ]
  for (const [field, ip] of ips) {
    const p = parseIP(ip)
    if (!('error' in p) && p.leadingZeros) warn(field, 'IP_LEADING_ZEROS', `${JSON.stringify(ip)} has leading zeros; read as decimal ${p.text}, as kube-proxy does`)
  }
  ;(svc.spec.loadBalancerSourceRanges ?? []).forEach((r, i) => {
    const p = parseCIDR(r.trim())
    if (!('error' in p) && (p.hostBitsSet || p.leadingZeros)) {
      warn(`spec.loadBalancerSourceRanges[${i}]`, 'CIDR_NOT_CANONICAL', `${JSON.stringify(r)} is read as ${p.text}, as kube-proxy does`)
    }
  })
  if (svc.spec.trafficDistribution === 'PreferClose') {
    warn('spec.trafficDistribution', 'SVC_PREFER_CLOSE', '"PreferClose" is a deprecated alias of "PreferSameZone"')
  }
  const type = svc.spec.type ?? 'ClusterIP'
  if (type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local' && !svc.spec.healthCheckNodePort) {
    warn('spec.healthCheckNodePort', 'SVC_NO_HEALTH_CHECK_PORT', 'is 0 for a LoadBalancer with externalTrafficPolicy Local; kube-proxy treats it as none')
  }
  return out
}

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
  const externalIPs = ipsOfFamily(s.externalIPs ?? [], ctx.family)
  const vips = ipsOfFamily(
    (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ip && (i.ipMode ?? 'VIP') === 'VIP').map((i) => i.ip as string),
    ctx.family,
  )
  const familyRanges = sortAddresses(
    (s.loadBalancerSourceRanges ?? [])
      .map((r) => parseCIDR(r.trim()))
      .flatMap((p) => ('error' in p || p.family !== ctx.family ? [] : [p.text])),
  )
  // A zero-length prefix means "allow any", the same as no ranges (pkg/proxy/serviceport.go).
  const sourceRanges = familyRanges.includes(zeroCIDR(ctx.family)) ? [] : familyRanges
  const typeAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0)
  const externalPolicyLocal = typeAccessible && s.externalTrafficPolicy === 'Local'
  const internalPolicyLocal = s.internalTrafficPolicy === 'Local'
  const healthCheckNodePort = type === 'LoadBalancer' && externalPolicyLocal ? (s.healthCheckNodePort ?? 0) : 0
  const sessionAffinity: ServicePortModel['sessionAffinity'] = s.sessionAffinity === 'ClientIP'
    ? { kind: 'ClientIP', timeoutSeconds: s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS }
    : { kind: 'None' }

  const ordered = sortSlices(slices)
  return (s.ports ?? []).map((p) => {
    const portName = p.name ?? ''
    const protocol = (p.protocol ?? 'TCP') as Protocol
    const displayName = portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`
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
    const familySlices = ordered.filter((sl) => sl.addressType === ctx.family)
    if (familySlices.length > 0 && !familySlices.some((sl) => (sl.ports ?? []).some((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol))) {
      diagnostics.push({
        severity: 'warning', code: 'SVC_PORT_NOT_IN_SLICES', object: objectRef(svc), field: `spec.ports[${(s.ports ?? []).indexOf(p)}]`,
        message: `no ${ctx.family} EndpointSlice port is named ${JSON.stringify(portName)} with protocol ${protocol}: kube-proxy matches by name, so this port rejects`,
      })
    }
    const sel = selectEndpoints(endpoints, { usesClusterEndpoints, usesLocalEndpoints }, ctx.nodeName, ctx.zone)
    const localEmpty = (sel.localEndpoints ?? []).length === 0
    if (sel.hasAnyEndpoints && localEmpty && (internalPolicyLocal || (externalPolicyLocal && externallyAccessible))) {
      diagnostics.push({
        severity: 'info', code: 'SVC_NO_LOCAL_ENDPOINTS', object: objectRef(svc), field: internalPolicyLocal ? 'spec.internalTrafficPolicy' : 'spec.externalTrafficPolicy',
        message: `${ctx.family} port ${displayName}: Local policy and no usable endpoint on node ${ctx.nodeName}: that traffic is dropped here`,
      })
    }
    const reject: Verdict = { action: 'reject', reason: 'no-endpoints' }
    const drop: Verdict = { action: 'drop', reason: 'no-local-endpoints' }
    const internal: Verdict = !sel.hasAnyEndpoints
      ? reject
      : internalPolicyLocal ? (localEmpty ? drop : { action: 'forward', to: 'local' }) : { action: 'forward', to: 'cluster' }
    const external: ExternalDispatch | null = externallyAccessible
      ? {
          policy: !sel.hasAnyEndpoints
            ? reject
            : externalPolicyLocal ? (localEmpty ? drop : { action: 'forward', to: 'local' }) : { action: 'forward', to: 'cluster' },
          masquerade: !externalPolicyLocal,
          shortCircuitLocalPods: externalPolicyLocal && ctx.localDetector.kind !== 'none',
          shortCircuitHost: externalPolicyLocal,
        }
      : null
    return {
      key: portName ? `${namespace}/${name}:${portName}/${protocol}` : `${namespace}/${name}/${protocol}`,
      namespace,
      name,
      portName,
      protocol,
      protocolLower: protocol.toLowerCase() as ServicePortModel['protocolLower'],
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
      firewall: {
        enabled: vips.length > 0 && sourceRanges.length > 0,
        sourceRanges,
        allowLoadBalancerVIPsAsSource: sourceRanges.some((r) => cidrContains(r, ctx.nodeIP)),
      },
    }
  })
}
