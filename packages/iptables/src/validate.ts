/**
 * Checks every model value that becomes an iptables word outside a comment. The core validates its
 * input, but the compiler also accepts hand-built models; a stray space or quote in an address would
 * otherwise change what iptables-restore parses, so bad values stop the compile before any text exists.
 */
import { type EndpointModel, type Family, KproxcError, type FamilyModel, type InputIssue, type ObjectRef, type ProxyModel, type ServicePortModel, joinHostPort, parseCIDR, parseIP } from '@kproxc/core'

/** Kernel interface names (IFNAMSIZ 16) as the core's config schema allows them. */
const IFACE = /^[A-Za-z0-9_.:@-]{1,15}$/
/** The longest fixed text kube-proxy puts around a ServicePortName in one comment, and xt_comment's limit. */
const COMMENT_OVERHEAD = 56
const COMMENT_MAX = 255

const encoder = new TextEncoder()

/** Throws the issues found, if any, as one INVALID_INPUT error. */
export function assertValid(family: Family, issues: InputIssue[]): void {
  if (issues.length > 0) throw new KproxcError('INVALID_INPUT', `cannot compile ${family} iptables rules from this model`, issues)
}

/** Issues with the values of one family that would reach rule text; empty when all are usable. */
export function validateFamily(model: ProxyModel, fam: FamilyModel): InputIssue[] {
  const issues = validateFamilyLevel(model, fam)
  for (const sp of fam.servicePorts) validatePort(sp, fam.family, issues)
  return issues
}

/** Issues with the family-wide values (mark, detector, NodePort addresses). */
export function validateFamilyLevel(model: ProxyModel, fam: FamilyModel): InputIssue[] {
  const issues: InputIssue[] = []
  const family = fam.family
  const config: ObjectRef = { kind: 'KubeProxyConfiguration', name: 'config' }
  const bit = model.config.masqueradeBit
  if (!Number.isInteger(bit) || bit < 0 || bit > 31 || model.config.masqueradeMark !== 2 ** bit) {
    issues.push({ object: config, path: 'iptables.masqueradeBit', value: bit, message: 'must be an integer in 0..31' })
  }
  const d = fam.localDetector
  if (d.kind === 'cidr' && !isCIDR(d.cidr, family)) issues.push({ object: config, path: 'clusterCIDR', value: d.cidr, message: `is not a canonical ${family} CIDR` })
  if (d.kind === 'bridgeInterface' && !IFACE.test(d.name)) issues.push({ object: config, path: 'detectLocal.bridgeInterface', value: d.name, message: 'is not a valid interface name' })
  if (d.kind === 'interfaceNamePrefix' && !IFACE.test(d.prefix)) issues.push({ object: config, path: 'detectLocal.interfaceNamePrefix', value: d.prefix, message: 'is not a valid interface name' })
  for (const a of fam.nodePortAddresses.addresses) {
    if (!isIP(a, family)) issues.push({ object: config, path: 'nodePortAddresses', value: a, message: `is not a canonical ${family} address` })
  }
  return issues
}

/** Appends the issues of one service port. */
export function validatePort(sp: ServicePortModel, family: Family, issues: InputIssue[]): void {
  const bad = (field: string, value: unknown, message: string) =>
    issues.push({ object: { kind: 'Service', namespace: sp.namespace, name: sp.name }, path: `${sp.key}: ${field}`, value, message })
  if (sp.protocolLower !== 'tcp' && sp.protocolLower !== 'udp' && sp.protocolLower !== 'sctp') bad('protocol', sp.protocolLower, 'is not tcp, udp or sctp')
  // A UTF-16 unit is at most 3 UTF-8 bytes: short names need no encoding.
  if (sp.displayName.length * 3 + COMMENT_OVERHEAD > COMMENT_MAX && encoder.encode(sp.displayName).length + COMMENT_OVERHEAD > COMMENT_MAX) {
    bad('name', sp.displayName, `is too long for an iptables comment (at most ${COMMENT_MAX - COMMENT_OVERHEAD} bytes)`)
  }
  if (!isIP(sp.clusterIP, family)) bad('clusterIP', sp.clusterIP, `is not a canonical ${family} address`)
  if (!isPort(sp.port, 1)) bad('port', sp.port, 'is not a port in 1..65535')
  if (!isPort(sp.nodePort, 0)) bad('nodePort', sp.nodePort, 'is not a port in 0..65535')
  if (!isPort(sp.healthCheckNodePort, 0)) bad('healthCheckNodePort', sp.healthCheckNodePort, 'is not a port in 0..65535')
  sp.externalIPs.forEach((ip, i) => isIP(ip, family) || bad(`externalIPs[${i}]`, ip, `is not a canonical ${family} address`))
  sp.loadBalancerVIPs.forEach((ip, i) => isIP(ip, family) || bad(`loadBalancerVIPs[${i}]`, ip, `is not a canonical ${family} address`))
  sp.firewall.sourceRanges.forEach((c, i) => isCIDR(c, family) || bad(`loadBalancerSourceRanges[${i}]`, c, `is not a canonical ${family} CIDR`))
  if (sp.sessionAffinity.kind === 'ClientIP') {
    const t = sp.sessionAffinity.timeoutSeconds
    if (!Number.isInteger(t) || t < 1 || t > 86400) bad('sessionAffinityConfig.clientIP.timeoutSeconds', t, 'is not in 1..86400')
  }
  const endpoints = sp.endpoints
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i] as EndpointModel
    if (!validEndpoint(e, family)) {
      if (!isIP(e.ip, family)) bad(`endpoints[${i}].ip`, e.ip, `is not a canonical ${family} address`)
      else if (!isPort(e.port, 1)) bad(`endpoints[${i}].port`, e.port, 'is not a port in 1..65535')
      else bad(`endpoints[${i}].key`, e.key, `is not ${joinHostPort(e.ip, e.port)}`)
    }
  }
}

/** The endpoint checks, kept small: they run 10^5 times and are optimized early (the messages are built only for a bad one). */
function validEndpoint(e: EndpointModel, family: Family): boolean {
  return isIP(e.ip, family) && isPort(e.port, 1) && (isIPv4HostPort(e.key, e.ip, e.port) || e.key === joinHostPort(e.ip, e.port))
}

// Validation runs over every endpoint of every port (10^5 at 10k services): the two checks below
// answer the common case without parsing or building strings, and defer to the exact ones
// (parseIP, joinHostPort) whenever they do not say yes.

function isIP(text: string, family: Family): boolean {
  if (family === 'IPv4' && isCanonicalIPv4(text)) return true
  const p = parseIP(text)
  return !('error' in p) && p.family === family && p.text === text
}

/** Four decimal octets 0..255 without leading zeros: exactly the IPv4 texts parseIP keeps as they are. */
export function isCanonicalIPv4(text: string): boolean {
  let parts = 0
  let digits = 0
  let value = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || ++parts > 3) return false
      digits = 0
      value = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false
      value = value * 10 + (c - 48)
      if (++digits > 3 || value > 255) return false
    } else return false
  }
  return parts === 3 && digits > 0
}

/** `key === joinHostPort(ip, port)` for an address without `:` and a port in 1..65535, without building the string. */
export function isIPv4HostPort(key: string, ip: string, port: number): boolean {
  const n = ip.length
  if (key.length <= n + 1 || key.charCodeAt(n) !== 58 || !key.startsWith(ip) || ip.includes(':')) return false
  let value = 0
  for (let i = n + 1; i < key.length; i++) {
    const c = key.charCodeAt(i) - 48
    if (c < 0 || c > 9 || (value === 0 && c === 0)) return false
    value = value * 10 + c
    if (value > 65535) return false
  }
  return value === port
}

function isCIDR(text: string, family: Family): boolean {
  const p = parseCIDR(text)
  return !('error' in p) && p.family === family && p.text === text
}

function isPort(n: number, min: number): boolean {
  return Number.isInteger(n) && n >= min && n <= 65535
}
