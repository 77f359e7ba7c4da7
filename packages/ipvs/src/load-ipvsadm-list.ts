/**
 * Reads `ipvsadm -L -n`, the one listing that carries each real server's connection counts (the
 * `-S` save format has none). kube-proxy's graceful termination reads the same counters over netlink
 * (pkg/proxy/ipvs/graceful_termination.go) to decide when a removed real server may go.
 */
import { KproxcError, type Protocol } from '@kproxc/core'

/** One real server as listed: its weight and ActiveConn + InActConn. */
export interface ListedRealServer {
  weight: number
  connections: number
}

/** Listed real servers by `liveKey`. */
export type LiveRealServers = ReadonlyMap<string, ListedRealServer>

/** `PROTO VIP:port RIP:port`, addresses spelled as ipvsadm prints them numerically (IPv6 bracketed). */
export function liveKey(protocol: Protocol, virtual: string, real: string): string {
  return `${protocol} ${virtual.toLowerCase()} ${real.toLowerCase()}`
}

const PROTOCOLS: Readonly<Record<string, Protocol>> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' }
// ipvsadm 1.31 print_service_entry: "  -> addr:port Forward Weight ActiveConn InActConn", counters
// printed as plain integers (--exact only changes the --stats/--rate columns).
const DEST = /^\s+->\s+(\S+)\s+(Masq|Route|Tunnel|Local)\s+(-?\d+)\s+(\d+)\s+(\d+)\s*$/
const HEADERS = [/^IP Virtual Server version /, /^Prot LocalAddress:Port /, /^\s+->\s+RemoteAddress:Port\s/]

/**
 * The real servers of `ipvsadm -L -n` text. Firewall-mark services (`FWM`) are skipped with their
 * real servers: kube-proxy never makes them. Any other line is an error rather than a guess, since a
 * misread count would delete a real server that still carries connections.
 */
export function loadIpvsadmList(text: string): LiveRealServers {
  const out = new Map<string, ListedRealServer>()
  let service: { protocol: Protocol; address: string } | null | undefined
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || HEADERS.some((h) => h.test(line))) return
    const dest = DEST.exec(line)
    if (dest) {
      if (service === undefined) throw listError(i, line, 'a real server before any virtual server')
      if (service) out.set(liveKey(service.protocol, service.address, dest[1] ?? ''), { weight: Number(dest[3]), connections: Number(dest[4]) + Number(dest[5]) })
      return
    }
    const [proto, address] = line.trim().split(/\s+/)
    if (proto === 'FWM') service = null
    else if (proto && PROTOCOLS[proto] && address && /:\d+$/.test(address)) service = { protocol: PROTOCOLS[proto], address }
    else throw listError(i, line, 'not a line of ipvsadm -L -n')
  })
  return out
}

function listError(index: number, line: string, message: string): KproxcError {
  return new KproxcError('APPLY_FAILED', `cannot read ipvsadm -L -n, line ${index + 1} ${JSON.stringify(line)}: ${message}`)
}
