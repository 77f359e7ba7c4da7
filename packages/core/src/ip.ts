import ipaddr from 'ipaddr.js'

/** Address family as Kubernetes spells it. */
export type Family = 'IPv4' | 'IPv6'

/** The result of parsing one address. */
export interface ParsedIP {
  family: Family
  /** Canonical text: IPv4 dotted decimal, IPv6 RFC 5952 compressed. */
  text: string
  bytes: number[]
  /** True when the text was not already canonical (leading zeros, upper case, long IPv6 form). */
  nonCanonical: boolean
  /** IPv4 written with leading zeros in an octet (read as decimal, as kube-proxy does). */
  leadingZeros: boolean
}

const IPV4_LOOSE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/

/**
 * Parses an IP the way kube-proxy's lenient parser does: IPv4 octets with leading zeros are
 * decimal (ipaddr.js alone would read them as octal), no zones, no IPv4-mapped IPv6.
 */
export function parseIP(input: string): ParsedIP | { error: string } {
  if (typeof input !== 'string' || input.length === 0) return { error: 'is not an IP address' }
  const v4 = parseIPv4(input)
  if (v4) return v4
  const cached = ipCache.get(input)
  if (cached) return cached
  const parsed = parseIPUncached(input)
  // The same addresses are parsed by validation, normalization and every backend: remember them.
  if (ipCache.size >= IP_CACHE_LIMIT) ipCache.clear()
  ipCache.set(input, parsed)
  return parsed
}

/** Dotted-quad fast path (the common case, parsed by every stage): digits and dots only. */
function parseIPv4(input: string): ParsedIP | undefined {
  const bytes = [0, 0, 0, 0]
  let part = 0
  let digits = 0
  let leadingZeros = false
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || part === 3) return undefined
      part++
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && bytes[part] === 0) leadingZeros = true
      if (++digits > 3) return undefined
      bytes[part] = (bytes[part] ?? 0) * 10 + (c - 48)
    } else return undefined
  }
  if (part !== 3 || digits === 0 || bytes.some((b) => b > 255)) return undefined
  const text = leadingZeros ? bytes.join('.') : input
  return { family: 'IPv4', text, bytes, nonCanonical: text !== input, leadingZeros }
}

const IP_CACHE_LIMIT = 1 << 16
const ipCache = new Map<string, ParsedIP | { error: string }>()

function parseIPUncached(input: string): ParsedIP | { error: string } {
  const m = IPV4_LOOSE.exec(input)
  if (m) {
    const parts = [m[1], m[2], m[3], m[4]] as string[]
    const octets = parts.map((o) => Number.parseInt(o, 10))
    if (octets.some((o) => o > 255)) return { error: 'is not an IP address' }
    const leadingZeros = parts.some((o) => o.length > 1 && o.charCodeAt(0) === 48)
    const text = leadingZeros ? octets.join('.') : input
    return { family: 'IPv4', text, bytes: octets, nonCanonical: text !== input, leadingZeros }
  }
  if (!IPV6_CHARS.test(input) || !input.includes(':') || !ipaddr.IPv6.isValid(input)) {
    return { error: 'is not an IP address' }
  }
  const addr = ipaddr.IPv6.parse(input)
  if (addr.isIPv4MappedAddress()) return { error: 'is an IPv4-mapped IPv6 address, which is ambiguous' }
  const text = addr.toRFC5952String()
  return { family: 'IPv6', text, bytes: addr.toByteArray(), nonCanonical: text !== input, leadingZeros: false }
}

/** The result of parsing one CIDR. */
export interface ParsedCIDR {
  family: Family
  /** Canonical text with host bits masked off. */
  text: string
  bytes: number[]
  prefix: number
  hostBitsSet: boolean
  leadingZeros: boolean
}

/** Parses `addr/len`; host bits are masked off (kube-proxy does the same), and reported. */
export function parseCIDR(input: string): ParsedCIDR | { error: string } {
  if (typeof input !== 'string') return { error: 'is not a CIDR' }
  const slash = input.indexOf('/')
  if (slash < 0) return { error: 'is not a CIDR (missing /prefix)' }
  const ip = parseIP(input.slice(0, slash))
  const lenText = input.slice(slash + 1)
  if ('error' in ip || !/^\d{1,3}$/.test(lenText)) return { error: 'is not a CIDR' }
  const prefix = Number.parseInt(lenText, 10)
  const max = ip.family === 'IPv4' ? 32 : 128
  if (prefix > max) return { error: `is not a CIDR (prefix longer than ${max})` }
  const masked = maskBytes(ip.bytes, prefix)
  const hostBitsSet = masked.some((b, i) => b !== ip.bytes[i])
  const text = `${bytesToText(ip.family, masked)}/${prefix}`
  return { family: ip.family, text, bytes: masked, prefix, hostBitsSet, leadingZeros: ip.leadingZeros }
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    return bits === 8 ? b : b & ((0xff << (8 - bits)) & 0xff)
  })
}

function bytesToText(family: Family, bytes: number[]): string {
  return family === "IPv4" ? bytes.join(".") : new ipaddr.IPv6(bytesToParts(bytes)).toRFC5952String()
}

/** Canonical text of a valid IP, or undefined. */
export function canonicalIP(input: string): string | undefined {
  // Most addresses are canonical dotted quads already: answer those without a parse result (one
  // per endpoint of the cluster, all garbage at once).
  if (isCanonicalIPv4(input)) return input
  const p = parseIP(input)
  return 'error' in p ? undefined : p.text
}

/** Whether the text is a valid IPv4 address in canonical form (no leading zeros). */
export function isCanonicalIPv4(input: string): boolean {
  if (typeof input !== 'string') return false
  let part = 0
  let digits = 0
  let value = 0
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || part === 3) return false
      part++
      digits = 0
      value = 0
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false
      value = value * 10 + (c - 48)
      if (++digits > 3 || value > 255) return false
    } else return false
  }
  return part === 3 && digits > 0
}

/** Family of a valid IP or CIDR text, or undefined. */
export function familyOf(input: string): Family | undefined {
  const p = input.includes('/') ? parseCIDR(input) : parseIP(input)
  return 'error' in p ? undefined : p.family
}

/** Whether a CIDR contains an IP (both canonical or parseable). */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCIDR(cidr)
  const a = parseIP(ip)
  if ('error' in c || 'error' in a || c.family !== a.family) return false
  const masked = maskBytes(a.bytes, c.prefix)
  return masked.every((b, i) => b === c.bytes[i])
}

/** Whether CIDR `outer` contains all of CIDR `inner` (same family). */
export function cidrContainsCIDR(outer: string, inner: string): boolean {
  const o = parseCIDR(outer)
  const i = parseCIDR(inner)
  if ('error' in o || 'error' in i || o.family !== i.family || i.prefix < o.prefix) return false
  return maskBytes(i.bytes, o.prefix).every((b, k) => b === o.bytes[k])
}

/** Numeric order of canonical IPs (IPv4 before IPv6), then prefix length for CIDRs. */
export function compareAddresses(a: string, b: string): number {
  const pa = a.includes('/') ? parseCIDR(a) : parseIP(a)
  const pb = b.includes('/') ? parseCIDR(b) : parseIP(b)
  if ('error' in pa || 'error' in pb) return a < b ? -1 : a > b ? 1 : 0
  if (pa.bytes.length !== pb.bytes.length) return pa.bytes.length - pb.bytes.length
  for (let i = 0; i < pa.bytes.length; i++) {
    const d = (pa.bytes[i] ?? 0) - (pb.bytes[i] ?? 0)
    if (d !== 0) return d
  }
  const la = 'prefix' in pa ? pa.prefix : pa.bytes.length * 8
  const lb = 'prefix' in pb ? pb.prefix : pb.bytes.length * 8
  return la - lb
}

/** Sorted numerically and de-duplicated. */
export function sortAddresses(list: readonly string[]): string[] {
  if (list.length < 2) return [...list]
  return [...new Set(list)].sort(compareAddresses)
}

/** Address kinds that API validation forbids for external IPs and endpoints. */
export function specialAddressKind(ip: string): string | undefined {
  const p = parseIP(ip)
  if ('error' in p) return undefined
  if (p.family === 'IPv4') {
    const [a, b, c] = p.bytes
    if (p.bytes.every((x) => x === 0)) return 'an unspecified address'
    if (a === 127) return 'a loopback address'
    if (a === 169 && b === 254) return 'a link-local address'
    if (a === 224 && b === 0 && c === 0) return 'a link-local multicast address'
    return undefined
  }
  const range = ipaddr.IPv6.parse(p.text).range()
  switch (range) {
    case 'unspecified':
      return 'an unspecified address'
    case 'loopback':
      return 'a loopback address'
    case 'linkLocal':
      return 'a link-local address'
    default:
      break
  }
  if (p.bytes[0] === 0xff && ((p.bytes[1] ?? 0) & 0x0f) === 2) {
    return 'a link-local multicast address'
  }
  return undefined
}

/** Loopback test used for nodePortAddresses. */
export function isLoopback(ip: string): boolean {
  const p = parseIP(ip)
  if ('error' in p) return false
  return p.family === 'IPv4' ? p.bytes[0] === 127 : p.text === '::1'
}

/** `host:port` as Go's net.JoinHostPort writes it (IPv6 in brackets). */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** The family's match-all CIDR. */
export function zeroCIDR(family: Family): string {
  return family === 'IPv4' ? '0.0.0.0/0' : '::/0'
}

function bytesToParts(bytes: readonly number[]): number[] {
  const parts: number[] = []
  for (let i = 0; i < 16; i += 2) parts.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  return parts
}
