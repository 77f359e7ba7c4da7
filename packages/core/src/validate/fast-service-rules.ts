/**
 * serviceRules (schema/service.ts) for the fast path: the same cross-field conditions, asked of a
 * Service whose fields already passed the walk in fast-service.ts, answering only "no issue".
 */
import { familyOf } from '../ip.js'
import { ipText } from '../schema/common.js'
import type { ServiceObject } from '../schema/service.js'
import { hasDuplicate, isOrdinaryIPv4 } from './fast-common.js'

type Spec = ServiceObject['spec']

/**
 * Whether serviceRules would report nothing on the spec. The rules read the raw object; the walk's
 * value holds the same values for every field they read (strings, numbers and the raw lists).
 */
export function rulesHold(s: Spec): boolean {
  const type = s.type ?? 'ClusterIP'
  const ports = s.ports ?? []
  const headless = s.clusterIP === 'None'
  const externallyAccessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0)
  if (ports.length === 0 && !headless && type !== 'ExternalName') return false
  for (const p of ports) {
    if (ports.length > 1 && !p.name) return false
    if (p.nodePort && type === 'ClusterIP') return false
  }
  if (ports.length > 1) {
    // Protocols are TCP/UDP/SCTP and ports integers here, so these keys are equal exactly when the rules' are.
    if (hasDuplicate(ports.map((p) => (p.name ? p.name : undefined)))) return false
    if (hasDuplicate(ports.map((p) => `${p.protocol ?? 'TCP'}/${p.port}`))) return false
    if (hasDuplicate(ports.map((p) => (p.nodePort ? `${p.protocol ?? 'TCP'}/${p.nodePort}` : undefined)))) return false
  }

  const ips = s.clusterIPs ?? (s.clusterIP !== undefined ? [s.clusterIP] : [])
  if (s.clusterIPs && s.clusterIP !== undefined && s.clusterIPs[0] !== s.clusterIP) return false
  if (type === 'ExternalName' && ips.some((ip) => ip !== '')) return false
  if (headless && (type === 'NodePort' || type === 'LoadBalancer')) return false
  for (let i = 0; i < ips.length; i++) {
    const ip = ips[i] as string
    if (ip === 'None') {
      if (ips.length > 1) return false
      continue
    }
    if (ip === '') continue
    // A plain dotted quad is a valid IPv4 address: no parse (two allocations each) needed to say so.
    const plain = isOrdinaryIPv4(ip)
    if (!plain && ipText(ip) !== undefined) return false
    const fam = s.ipFamilies?.[i]
    if (fam && (plain ? 'IPv4' : familyOf(ip)) !== fam) return false
  }
  if (ips.length === 2 && familyOf(ips[0] ?? '') && familyOf(ips[0] ?? '') === familyOf(ips[1] ?? '')) return false
  if (s.ipFamilies && hasDuplicate(s.ipFamilies)) return false

  if (s.externalTrafficPolicy !== undefined && !externallyAccessible) return false
  if (s.healthCheckNodePort && !(type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local')) return false
  if ((s.sessionAffinity ?? 'None') === 'None' && s.sessionAffinityConfig?.clientIP) return false
  if (s.loadBalancerSourceRanges?.length && type !== 'LoadBalancer') return false
  if (s.allocateLoadBalancerNodePorts != null && type !== 'LoadBalancer') return false
  return true
}

export function ingressRulesHold(status: ServiceObject['status']): boolean {
  for (const ing of status?.loadBalancer?.ingress ?? []) if (ing.ipMode && !ing.ip) return false
  return true
}
