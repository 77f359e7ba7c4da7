import { compareAddresses, parseCIDR, parseIP } from '@kproxc/core'

// Members are joined rather than concatenated: a join gives a flat string, and the merge hashes
// every member and the sort reads every character; on concatenated pieces both cost ~2x
// (10k services: 35k members).

/** `ip,proto:port` as kube-proxy's ipset Entry.String() writes a hash:ip,port member. */
export function ipPortEntry(ip: string, proto: string, port: number): string {
  return [ip, ',', proto, ':', port].join('')
}

/** `ip,proto:port,ip2` (hash:ip,port,ip) or `ip,proto:port,cidr` (hash:ip,port,net). */
export function ipPortIpEntry(ip: string, proto: string, port: number, third: string): string {
  return [ip, ',', proto, ':', port, ',', third].join('')
}

const PROTO_PORT = /^([a-z]+):(\d+)$/
const NUMBER = /^\d+$/

/**
 * Canonical member order (numeric addresses, then protocol, then port), so a set's dump does not
 * depend on service order; kube-proxy itself keeps members in an unordered set.
 */
export function compareEntries(a: string, b: string): number {
  const pa = a.split(',')
  const pb = b.split(',')
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1
    const d = comparePiece(x, y)
    if (d !== 0) return d
  }
  return 0
}

function comparePiece(x: string, y: string): number {
  if (NUMBER.test(x) && NUMBER.test(y)) return Number(x) - Number(y)
  const mx = PROTO_PORT.exec(x)
  const my = PROTO_PORT.exec(y)
  if (mx && my) {
    if (mx[1] !== my[1]) return (mx[1] ?? '') < (my[1] ?? '') ? -1 : 1
    return Number(mx[2]) - Number(my[2])
  }
  return compareAddresses(x, y)
}

/** One comma-separated piece of a member, parsed once (what comparePiece derives on every call). */
interface Piece {
  text: string
  num: number | null
  proto: string | null
  port: number
  /** Address bytes and prefix length, or null when the piece is no address. */
  bytes: readonly number[] | null
  len: number
}

const DOTTED = /^(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})$/

function parsePiece(text: string): Piece {
  if (DOTTED.test(text)) {
    // Canonical dotted quads (most members): their bytes without the general parser.
    const bytes = text.split('.').map(Number)
    if (bytes.every((b) => b <= 255)) return { text, num: null, proto: null, port: 0, bytes, len: 32 }
  }
  const mx = PROTO_PORT.exec(text)
  const parsed = text.includes('/') ? parseCIDR(text) : parseIP(text)
  const bytes = 'error' in parsed ? null : [...parsed.bytes]
  return {
    text,
    num: NUMBER.test(text) ? Number(text) : null,
    proto: mx ? (mx[1] ?? '') : null,
    port: mx ? Number(mx[2]) : 0,
    bytes,
    len: 'error' in parsed ? 0 : 'prefix' in parsed ? parsed.prefix : parsed.bytes.length * 8,
  }
}

/** comparePiece over parsed pieces: the same order, without re-parsing addresses per comparison. */
function comparePieces(x: Piece, y: Piece): number {
  if (x.num !== null && y.num !== null) return x.num - y.num
  if (x.proto !== null && y.proto !== null) {
    if (x.proto !== y.proto) return x.proto < y.proto ? -1 : 1
    return x.port - y.port
  }
  return compareAddressPieces(x, y)
}

/** sortAddresses (compareAddresses order, de-duplicated), each address parsed once. */
export function sortAddressList(list: Iterable<string>): string[] {
  const unique = list instanceof Set ? [...(list as Set<string>)] : [...new Set(list)]
  if (unique.length < 2) return unique
  const fast = sortIPv4(unique, 1)
  if (fast) return fast
  const keyed = unique.map((a) => ({ a, p: parsePiece(a) }))
  keyed.sort((x, y) => compareAddressPieces(x.p, y.p))
  return keyed.map((k) => k.a)
}

/** compareAddresses over parsed pieces. */
function compareAddressPieces(x: Piece, y: Piece): number {
  if (!x.bytes || !y.bytes) return x.text < y.text ? -1 : x.text > y.text ? 1 : 0
  if (x.bytes.length !== y.bytes.length) return x.bytes.length - y.bytes.length
  for (let i = 0; i < x.bytes.length; i++) {
    const d = (x.bytes[i] ?? 0) - (y.bytes[i] ?? 0)
    if (d !== 0) return d
  }
  return x.len - y.len
}

/** Sorted (compareEntries), de-duplicated members; each member is parsed once. */
export function sortEntries(entries: Iterable<string>): string[] {
  const unique = entries instanceof Set ? [...(entries as Set<string>)] : [...new Set(entries)]
  if (unique.length < 2) return unique
  const fast = sortIPv4(unique, 3)
  if (fast) return fast
  const cache = new Map<string, Piece>()
  const piece = (t: string) => {
    let p = cache.get(t)
    if (!p) cache.set(t, (p = parsePiece(t)))
    return p
  }
  const keyed = unique.map((e) => ({ e, pieces: e.split(',').map(piece) }))
  keyed.sort((a, b) => {
    const n = Math.max(a.pieces.length, b.pieces.length)
    for (let i = 0; i < n; i++) {
      const x = a.pieces[i]
      const y = b.pieces[i]
      if (x === undefined || y === undefined) return x === undefined ? -1 : 1
      const d = comparePieces(x, y)
      if (d !== 0) return d
    }
    return 0
  })
  return keyed.map((k) => k.e)
}

/** A member's sort key: two numbers. */
interface Keyed {
  e: string
  k1: number
  k2: number
}

/**
 * The usual members, sorted through two numbers each instead of a comparison of parsed pieces:
 * a port (`80`), an address (`10.0.0.1`), `address,proto:port`, optionally followed by
 * `,address` or `,address/len`, all IPv4 in canonical form and all of one shape. The numbers
 * order as compareEntries does (address bytes, protocol name, port, then address bytes and
 * prefix length), so the result is the same; null when a member is anything else (more than
 * `maxPieces` pieces; with 1, addresses only), to take the general path. 10k services have 46k
 * members: parsing them into pieces took most of the IPVS emit's merge.
 */
function sortIPv4(unique: readonly string[], maxPieces: number): string[] | null {
  const keyed = new Array<Keyed>(unique.length)
  let shape = -1
  for (let i = 0; i < unique.length; i++) {
    const k: Keyed = { e: unique[i] as string, k1: 0, k2: 0 }
    const code = keyOf(k, maxPieces)
    if (code < 0 || (shape !== -1 && code !== shape)) return null
    shape = code
    keyed[i] = k
  }
  keyed.sort((a, b) => a.k1 - b.k1 || a.k2 - b.k2)
  const out = new Array<string>(keyed.length)
  for (let i = 0; i < keyed.length; i++) out[i] = (keyed[i] as Keyed).e
  return out
}

/**
 * Reads a member in place into its keys; returns its shape (1 address, 2 port, 3 address and
 * protocol:port, 4 with a third piece), or -1 when it is none of them.
 */
function keyOf(k: Keyed, maxPieces: number): number {
  const e = k.e
  const c1 = e.indexOf(',')
  if (c1 < 0) {
    const ip = ipv4At(e, 0, e.length)
    if (ip >= 0) {
      k.k1 = ip
      return 1
    }
    // A port; compareAddresses would compare it as text.
    const port = maxPieces < 2 ? -1 : digitsAt(e, 0, e.length, 15)
    k.k1 = port
    return port < 0 ? -1 : 2
  }
  if (maxPieces < 2) return -1
  const c2 = e.indexOf(',', c1 + 1)
  const ip = ipv4At(e, 0, c1)
  const rank = e.startsWith('tcp:', c1 + 1) ? 1 : e.startsWith('udp:', c1 + 1) ? 2 : e.startsWith('sctp:', c1 + 1) ? 0 : -1
  const port = rank < 0 ? -1 : digitsAt(e, c1 + (rank === 0 ? 6 : 5), c2 < 0 ? e.length : c2, 5)
  if (ip < 0 || port < 0 || port > 0xffff) return -1
  k.k1 = ip * 0x40000 + rank * 0x10000 + port
  if (c2 < 0) return 3
  if (maxPieces < 3 || e.indexOf(',', c2 + 1) >= 0) return -1
  const slash = e.indexOf('/', c2 + 1)
  const third = ipv4At(e, c2 + 1, slash < 0 ? e.length : slash)
  // parseCIDR takes one to three digits of prefix length.
  const len = slash < 0 ? 32 : digitsAt(e, slash + 1, e.length, 3)
  if (third < 0 || len < 0 || len > 32) return -1
  // A CIDR compares by its network address (parseCIDR masks the host bits).
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
  k.k2 = ((third & mask) >>> 0) * 64 + len
  return 4
}

/** A canonical dotted quad in s[from, to) (what DOTTED accepts) as an unsigned 32-bit number, or -1. */
function ipv4At(s: string, from: number, to: number): number {
  let n = 0
  let v = 0
  let digits = 0
  let dots = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1
      n = n * 256 + v
      v = 0
      digits = 0
      dots++
    } else if (c >= 0x30 && c <= 0x39) {
      // No leading zeros; at most 255.
      if (digits > 0 && v === 0) return -1
      v = v * 10 + (c - 0x30)
      digits++
      if (v > 255) return -1
    } else {
      return -1
    }
  }
  return digits === 0 || dots !== 3 ? -1 : n * 256 + v
}

/** The decimal number s[from, to) (one or more digits, at most `max` of them), or -1. */
function digitsAt(s: string, from: number, to: number, max: number): number {
  if (to <= from || to - from > max) return -1
  let v = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return -1
    v = v * 10 + (c - 0x30)
  }
  return v
}
