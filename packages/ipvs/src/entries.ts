import { compareAddresses, parseCIDR, parseIP } from '@kproxc/core'

/** `ip,proto:port` as kube-proxy's ipset Entry.String() writes a hash:ip,port member. */
export function ipPortEntry(ip: string, proto: string, port: number): string {
  return `${ip},${proto}:${port}`
}

/** `ip,proto:port,ip2` (hash:ip,port,ip) or `ip,proto:port,cidr` (hash:ip,port,net). */
export function ipPortIpEntry(ip: string, proto: string, port: number, third: string): string {
  return `${ip},${proto}:${port},${third}`
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
  const keyed = [...new Set(list)].map((a) => ({ a, p: parsePiece(a) }))
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
  const cache = new Map<string, Piece>()
  const piece = (t: string) => {
    let p = cache.get(t)
    if (!p) cache.set(t, (p = parsePiece(t)))
    return p
  }
  const keyed = [...new Set(entries)].map((e) => ({ e, pieces: e.split(',').map(piece) }))
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
