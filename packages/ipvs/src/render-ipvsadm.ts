import type { Protocol } from '@kproxc/core'
import type { IpvsRuleset, IpvsTimeouts, RealServer, VirtualServer } from './ir.js'
import { TextBlocks } from './text-blocks.js'

/** ipvsadm's protocol switch. */
export const PROTOCOL_FLAG: Readonly<Record<Protocol, string>> = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' }

/** `addr:port`, IPv6 in brackets, as `ipvsadm -S -n` prints it. */
export function ipvsAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** The `-A` line of a virtual server: scheduler always explicit (ipvsadm's default would be wlc). */
export function serviceLine(vs: VirtualServer): string {
  let line = `-A ${PROTOCOL_FLAG[vs.protocol]} ${ipvsAddress(vs.address, vs.port)} -s ${vs.scheduler}`
  if (vs.persistenceTimeout !== null) line += ` -p ${vs.persistenceTimeout}`
  if (vs.schedulerFlags.length > 0) line += ` -b ${vs.schedulerFlags.join(',')}`
  return line
}

/** The `-a` line of a real server: masquerading and weight always explicit (the defaults are -g and 1). */
export function realServerLine(vs: VirtualServer, rs: RealServer): string {
  return `-a ${PROTOCOL_FLAG[vs.protocol]} ${ipvsAddress(vs.address, vs.port)} -r ${ipvsAddress(rs.address, rs.port)} -m -w ${rs.weight}`
}

/** `--set tcp tcpfin udp` (0 keeps the kernel's value), as kube-proxy's ConfigureTimeouts does. */
export function timeoutsLine(t: IpvsTimeouts): string {
  return `--set ${t.tcp} ${t.tcpFin} ${t.udp}`
}

/**
 * The text `ipvsadm-restore` / `ipvsadm -R` reads, in `ipvsadm-save -n` syntax: each service followed by
 * its real servers. No comments: ipvsadm -R would pass a `#` token on as an argument and stop.
 */
export function renderIpvsadm(ir: IpvsRuleset): string {
  const out = new TextBlocks()
  if (ir.timeouts) out.push(timeoutsLine(ir.timeouts))
  for (const vs of ir.virtualServers) writeVirtualServer(out, vs)
  return out.text()
}

/** The lines of one virtual server: the service, then its real servers. */
export function writeVirtualServer(out: TextBlocks, vs: VirtualServer): void {
  out.push(serviceLine(vs))
  // realServerLine, with the service's half spelled once per service.
  const head = `-a ${PROTOCOL_FLAG[vs.protocol]} ${ipvsAddress(vs.address, vs.port)} -r `
  for (const rs of vs.realServers) out.push(`${head}${ipvsAddress(rs.address, rs.port)} -m -w ${rs.weight}`)
}
