import { compareAddresses } from '@kproxc/core'

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

/** Sorted, de-duplicated members. */
export function sortEntries(entries: Iterable<string>): string[] {
  return [...new Set(entries)].sort(compareEntries)
}
