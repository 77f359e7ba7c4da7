/**
 * The fast path of serviceSchema + serviceRules (schema/service.ts): the same conditions, checked in
 * one walk, returning a value equal to zod's (see fast-common.ts). Any doubt bails to zod;
 * fast-service.prop.test.ts holds it to zod's answer on generated valid, nearly valid and invalid
 * Services.
 */
import { specialAddressKind } from '../ip.js'
import { cidrText, dns1123Label, ianaSvcName, ipText, qualifiedName } from '../schema/common.js'
import type { ServiceObject } from '../schema/service.js'
import { type Obj, bail, bool, int, isLabel, list, metadata, obj, remembered, sameKeys, str, strings } from './fast-common.js'
import { ingressRulesHold, rulesHold } from './fast-service-rules.js'

type Spec = ServiceObject['spec']
type ServicePort = NonNullable<Spec['ports']>[number]
type Affinity = NonNullable<Spec['sessionAffinityConfig']>
type Status = NonNullable<ServiceObject['status']>
type Ingress = NonNullable<NonNullable<NonNullable<Status['loadBalancer']>['ingress']>>[number]

const isQualifiedName = remembered(qualifiedName)
const isSvcName = remembered(ianaSvcName)
const isLabelName = (v: string): boolean => dns1123Label(v) === undefined

/** The validated Service, or a bail (see fast-common.ts). */
export function fastService(raw: Obj): ServiceObject {
  // Never the raw object: that holds apiVersion and kind, which zod strips.
  const out: ServiceObject = { metadata: metadata(raw.metadata, isLabelName), spec: specOf(raw.spec) }
  const status = raw.status
  if (status !== undefined || 'status' in raw) out.status = status === null ? null : statusOf(status)
  if (!rulesHold(out.spec) || !ingressRulesHold(out.status)) bail()
  return out
}

/** A present field that must be one of `values` (null is not one of them). */
function oneOf(v: unknown, values: readonly string[]): void {
  if (!(values as readonly unknown[]).includes(v)) bail()
}

const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']
const FAMILIES = ['IPv4', 'IPv6']
const FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack']
const POLICIES = ['Cluster', 'Local']
const AFFINITIES = ['None', 'ClientIP']
const DISTRIBUTIONS = ['PreferClose', 'PreferSameZone', 'PreferSameNode']
const PROTOCOLS = ['TCP', 'UDP', 'SCTP']
const IP_MODES = ['VIP', 'Proxy']
const ANY = Number.MAX_SAFE_INTEGER

const SPEC_KEYS = [
  'type', 'clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'ports', 'externalIPs', 'externalName', 'loadBalancerIP',
  'loadBalancerSourceRanges', 'externalTrafficPolicy', 'internalTrafficPolicy', 'healthCheckNodePort', 'sessionAffinity',
  'sessionAffinityConfig', 'trafficDistribution', 'allocateLoadBalancerNodePorts', 'publishNotReadyAddresses',
]

function specOf(v: unknown): Spec {
  const s = obj(v)
  let n = 0
  const type = s.type
  if (type !== undefined || 'type' in s) {
    n++
    oneOf(type, TYPES)
  }
  const clusterIP = s.clusterIP
  if (clusterIP !== undefined || 'clusterIP' in s) {
    n++
    str(clusterIP)
  }
  const clusterIPs = s.clusterIPs
  if (clusterIPs !== undefined || 'clusterIPs' in s) {
    n++
    strings(clusterIPs, 2)
  }
  const ipFamilies = s.ipFamilies
  if (ipFamilies !== undefined || 'ipFamilies' in s) {
    n++
    list(ipFamilies, 2, family)
  }
  const ipFamilyPolicy = s.ipFamilyPolicy
  if (ipFamilyPolicy !== undefined || 'ipFamilyPolicy' in s) {
    n++
    if (ipFamilyPolicy !== null) oneOf(ipFamilyPolicy, FAMILY_POLICIES)
  }
  let ports = s.ports
  if (ports !== undefined || 'ports' in s) {
    n++
    if (ports !== null) ports = list(ports, ANY, servicePort)
  }
  const externalIPs = s.externalIPs
  if (externalIPs !== undefined || 'externalIPs' in s) {
    n++
    if (externalIPs !== null) list(externalIPs, ANY, externalIP)
  }
  const externalName = s.externalName
  if (externalName !== undefined || 'externalName' in s) {
    n++
    str(externalName)
  }
  const loadBalancerIP = s.loadBalancerIP
  if (loadBalancerIP !== undefined || 'loadBalancerIP' in s) {
    n++
    ip(loadBalancerIP)
  }
  const sourceRanges = s.loadBalancerSourceRanges
  if (sourceRanges !== undefined || 'loadBalancerSourceRanges' in s) {
    n++
    if (sourceRanges !== null) list(sourceRanges, ANY, cidr)
  }
  const etp = s.externalTrafficPolicy
  if (etp !== undefined || 'externalTrafficPolicy' in s) {
    n++
    oneOf(etp, POLICIES)
  }
  const itp = s.internalTrafficPolicy
  if (itp !== undefined || 'internalTrafficPolicy' in s) {
    n++
    if (itp !== null) oneOf(itp, POLICIES)
  }
  const healthCheckNodePort = s.healthCheckNodePort
  if (healthCheckNodePort !== undefined || 'healthCheckNodePort' in s) {
    n++
    int(healthCheckNodePort, 0, 65535)
  }
  const affinity = s.sessionAffinity
  if (affinity !== undefined || 'sessionAffinity' in s) {
    n++
    oneOf(affinity, AFFINITIES)
  }
  let affinityConfig = s.sessionAffinityConfig
  if (affinityConfig !== undefined || 'sessionAffinityConfig' in s) {
    n++
    if (affinityConfig !== null) affinityConfig = affinityConfigOf(affinityConfig)
  }
  const distribution = s.trafficDistribution
  if (distribution !== undefined || 'trafficDistribution' in s) {
    n++
    if (distribution !== null) oneOf(distribution, DISTRIBUTIONS)
  }
  const allocate = s.allocateLoadBalancerNodePorts
  if (allocate !== undefined || 'allocateLoadBalancerNodePorts' in s) {
    n++
    if (allocate !== null) bool(allocate)
  }
  const notReady = s.publishNotReadyAddresses
  if (notReady !== undefined || 'publishNotReadyAddresses' in s) {
    n++
    if (notReady !== null) bool(notReady)
  }
  if (ports === s.ports && affinityConfig === s.sessionAffinityConfig && sameKeys(s, SPEC_KEYS, n)) return s as Spec
  // kubectl writes spec fields in Go struct order (ports first) with selector etc.: a copy in schema order.
  const out: Record<string, unknown> = {}
  if (type !== undefined) out.type = type
  if (clusterIP !== undefined) out.clusterIP = clusterIP
  if (clusterIPs !== undefined) out.clusterIPs = clusterIPs
  if (ipFamilies !== undefined) out.ipFamilies = ipFamilies
  if (ipFamilyPolicy !== undefined) out.ipFamilyPolicy = ipFamilyPolicy
  if (ports !== undefined) out.ports = ports
  if (externalIPs !== undefined) out.externalIPs = externalIPs
  if (externalName !== undefined) out.externalName = externalName
  if (loadBalancerIP !== undefined) out.loadBalancerIP = loadBalancerIP
  if (sourceRanges !== undefined) out.loadBalancerSourceRanges = sourceRanges
  if (etp !== undefined) out.externalTrafficPolicy = etp
  if (itp !== undefined) out.internalTrafficPolicy = itp
  if (healthCheckNodePort !== undefined) out.healthCheckNodePort = healthCheckNodePort
  if (affinity !== undefined) out.sessionAffinity = affinity
  if (affinityConfig !== undefined) out.sessionAffinityConfig = affinityConfig
  if (distribution !== undefined) out.trafficDistribution = distribution
  if (allocate !== undefined) out.allocateLoadBalancerNodePorts = allocate
  if (notReady !== undefined) out.publishNotReadyAddresses = notReady
  return out as Spec
}

function family(v: unknown): unknown {
  oneOf(v, FAMILIES)
  return v
}

const PORT_KEYS = ['name', 'protocol', 'port', 'targetPort', 'nodePort', 'appProtocol']

function servicePort(v: unknown): ServicePort {
  const p = obj(v)
  let n = 1
  const name = p.name
  if (name !== undefined || 'name' in p) {
    n++
    if (str(name) !== '' && !isLabel(name as string)) bail()
  }
  const protocol = p.protocol
  if (protocol !== undefined || 'protocol' in p) {
    n++
    oneOf(protocol, PROTOCOLS)
  }
  const port = int(p.port, 1, 65535)
  const target = p.targetPort
  if (target !== undefined || 'targetPort' in p) {
    n++
    targetPort(target)
  }
  const nodePort = p.nodePort
  if (nodePort !== undefined || 'nodePort' in p) {
    n++
    int(nodePort, 0, 65535)
  }
  const appProtocol = p.appProtocol
  if (appProtocol !== undefined || 'appProtocol' in p) {
    n++
    if (!isQualifiedName(str(appProtocol))) bail()
  }
  if (sameKeys(p, PORT_KEYS, n)) return p as ServicePort
  const out: Record<string, unknown> = {}
  if (name !== undefined) out.name = name
  if (protocol !== undefined) out.protocol = protocol
  out.port = port
  if (target !== undefined) out.targetPort = target
  if (nodePort !== undefined) out.nodePort = nodePort
  if (appProtocol !== undefined) out.appProtocol = appProtocol
  return out as ServicePort
}

function targetPort(v: unknown): void {
  if (typeof v === 'number') int(v, 0, 65535)
  else if (typeof v !== 'string' || (v !== '' && !isSvcName(v))) bail()
}

function externalIP(v: unknown): unknown {
  if (specialAddressKind(ip(v)) !== undefined) bail()
  return v
}

function ip(v: unknown): string {
  if (ipText(str(v)) !== undefined) bail()
  return v as string
}

function cidr(v: unknown): unknown {
  if (cidrText(str(v)) !== undefined) bail()
  return v
}

const AFFINITY_KEYS = ['clientIP']
const CLIENT_IP_KEYS = ['timeoutSeconds']

function affinityConfigOf(v: unknown): Affinity {
  const c = obj(v)
  let clientIP = c.clientIP
  const present = clientIP !== undefined || 'clientIP' in c
  if (present && clientIP !== null) {
    const ci = obj(clientIP)
    const timeout = ci.timeoutSeconds
    const has = timeout !== undefined || 'timeoutSeconds' in ci
    if (has) int(timeout, 1, 86400)
    if (!sameKeys(ci, CLIENT_IP_KEYS, has ? 1 : 0)) clientIP = has ? { timeoutSeconds: timeout } : {}
  }
  if (clientIP === c.clientIP && sameKeys(c, AFFINITY_KEYS, present ? 1 : 0)) return c as Affinity
  return (present ? { clientIP } : {}) as Affinity
}

const STATUS_KEYS = ['loadBalancer']
const LB_KEYS = ['ingress']

function statusOf(v: unknown): Status {
  const s = obj(v)
  let lb = s.loadBalancer
  const present = lb !== undefined || 'loadBalancer' in s
  if (present && lb !== null) {
    const l = obj(lb)
    let ingress = l.ingress
    const has = ingress !== undefined || 'ingress' in l
    if (has && ingress !== null) ingress = list(ingress, ANY, ingressOf)
    if (ingress !== l.ingress || !sameKeys(l, LB_KEYS, has ? 1 : 0)) lb = has ? { ingress } : {}
  }
  if (lb === s.loadBalancer && sameKeys(s, STATUS_KEYS, present ? 1 : 0)) return s as Status
  return (present ? { loadBalancer: lb } : {}) as Status
}

const INGRESS_KEYS = ['ip', 'hostname', 'ipMode', 'ports']

function ingressOf(v: unknown): Ingress {
  const g = obj(v)
  let n = 0
  const address = g.ip
  if (address !== undefined || 'ip' in g) {
    n++
    ip(address)
  }
  const hostname = g.hostname
  if (hostname !== undefined || 'hostname' in g) {
    n++
    str(hostname)
  }
  const ipMode = g.ipMode
  if (ipMode !== undefined || 'ipMode' in g) {
    n++
    if (ipMode !== null) oneOf(ipMode, IP_MODES)
  }
  // z.array(z.unknown()): any list, its items kept as they are.
  const ports = g.ports
  if (ports !== undefined || 'ports' in g) {
    n++
    if (ports !== null && !Array.isArray(ports)) bail()
  }
  if (sameKeys(g, INGRESS_KEYS, n)) return g as Ingress
  const out: Record<string, unknown> = {}
  if (address !== undefined) out.ip = address
  if (hostname !== undefined) out.hostname = hostname
  if (ipMode !== undefined) out.ipMode = ipMode
  if (ports !== undefined) out.ports = ports
  return out as Ingress
}
