/**
 * kube-proxy's graceful termination of removed real servers (pkg/proxy/ipvs/graceful_termination.go),
 * made stateless: kube-proxy keeps a drain list and re-checks it every minute; here each apply reads
 * the live counters and takes the next step, so weight 0 in the kernel is the drain list (the compiler
 * never emits weight 0 for a wanted real server).
 */
import type { Protocol } from '@kproxc/core'
import { type LiveRealServers, liveKey } from './load-ipvsadm-list.js'
import { PROTOCOL_FLAG } from './render-ipvsadm.js'

/**
 * Only TCP drains: UDP and SCTP real servers are deleted at once, their flows cut on the next packet
 * by expire_nodest_conn=1 (pkg/proxy/ipvs/util/ipvs.go IsRsGracefulTerminationNeeded).
 */
export function drainsOnRemoval(protocol: Protocol): boolean {
  return protocol === 'TCP'
}

/** What a real server the new state no longer has gets: deleted, set to weight 0, or left at weight 0. */
export type Removal = 'delete' | 'drain' | 'keep'

/** kube-proxy deletes at once when ActiveConn + InActConn is 0, else sets weight 0 and waits. */
export function removalOf(protocol: Protocol, weight: number, connections: number): Removal {
  if (!drainsOnRemoval(protocol) || connections === 0) return 'delete'
  return weight === 0 ? 'keep' : 'drain'
}

const FLAG_PROTOCOL: Readonly<Record<string, Protocol>> = Object.fromEntries(
  Object.entries(PROTOCOL_FLAG).map(([p, f]) => [f, p as Protocol]),
)

/** The `ipvsadm -R` lines of a delta with kube-proxy's drain rules applied, and how many real servers stay draining. */
export interface DrainedLines {
  lines: string[]
  draining: number
}

/**
 * Rewrites a partial sync's ipvsadm lines against the live table: a `-d` of a TCP real server that
 * still has connections becomes weight 0 (or nothing, if it is already there); an `-a` of a real
 * server the kernel still holds (one draining at weight 0) becomes an `-e`, giving its weight back.
 * A real server the listing lacks keeps its line, so a drifted kernel fails the step and the caller
 * falls back to a full apply.
 */
export function drainDeltaLines(lines: readonly string[], live: LiveRealServers): DrainedLines {
  const out: string[] = []
  let draining = 0
  for (const line of lines) {
    const w = line.trim().split(/\s+/)
    const protocol = FLAG_PROTOCOL[w[1] ?? '']
    const listed = protocol && w[3] === '-r' ? live.get(liveKey(protocol, w[2] ?? '', w[4] ?? '')) : undefined
    if (!protocol || !listed) {
      out.push(line)
    } else if (w[0] === '-a') {
      out.push(`-e${line.trim().slice(2)}`)
    } else if (w[0] === '-d') {
      const removal = removalOf(protocol, listed.weight, listed.connections)
      if (removal === 'delete') out.push(line)
      else draining++
      if (removal === 'drain') out.push(`-e ${w[1]} ${w[2]} -r ${w[4]} -m -w 0`)
    } else {
      out.push(line)
    }
  }
  return { lines: out, draining }
}
