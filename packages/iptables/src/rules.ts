/**
 * Small constructors and shared constants of the IR (ir.ts), for the compile modules. Matches and
 * targets are immutable, so constants are shared by every rule that uses them.
 */
import type { IptProtocol, Match, Target } from './ir.js'
import { CHAINS } from './names.js'
import { probability } from './probability.js'

export const PROTOCOL: Record<IptProtocol, Match> = {
  tcp: { kind: 'protocol', protocol: 'tcp' },
  udp: { kind: 'protocol', protocol: 'udp' },
  sctp: { kind: 'protocol', protocol: 'sctp' },
}
export const SRC_LOCAL: Match = { kind: 'addrtype', direction: 'source' }
export const DST_LOCAL: Match = { kind: 'addrtype', direction: 'destination' }
export const TO_MARK_MASQ: Target = { kind: 'jump', chain: CHAINS.markMasq }
export const DROP: Target = { kind: 'verdict', verdict: 'DROP' }
export const REJECT: Target = { kind: 'verdict', verdict: 'REJECT' }
export const ACCEPT: Target = { kind: 'verdict', verdict: 'ACCEPT' }

export function quoted(text: string): Match {
  return { kind: 'comment', text, quoted: true }
}
export function bare(text: string): Match {
  return { kind: 'comment', text, quoted: false }
}
export function jump(chain: string): Target {
  return { kind: 'jump', chain }
}
export function src(address: string, negate = false): Match {
  return { kind: 'address', direction: 'source', address, negate }
}
export function dst(address: string, negate = false): Match {
  return { kind: 'address', direction: 'destination', address, negate }
}
export function dport(port: number): Match {
  return { kind: 'dport', port }
}

// One match per probability serves every chain (10^5 endpoints, few distinct n).
const statistics = new Map<number, Match>()
/** The statistic match of an endpoint with k endpoints left (probability 1/k). */
export function statistic(k: number): Match {
  let m = statistics.get(k)
  if (!m) statistics.set(k, (m = { kind: 'statistic', probability: probability(k) }))
  return m
}
