/**
 * The incremental sync of kube-proxy's IPVS mode (pkg/proxy/ipvs/proxier.go, reference §7): what
 * turns the node state of one compiled ruleset into that of another, without clearing anything.
 * Virtual servers are added (`-A`), edited in place (`-E`, no outage) or deleted (`-D`); real
 * servers are added, re-weighted or deleted one by one; ipset members are added and deleted;
 * the companion iptables rules are written as a `--noflush` restore of the changed chains only;
 * kube-ipvs0 addresses are added and removed.
 *
 * The delta deletes removed real servers outright; applying it drains TCP ones instead (weight 0
 * first, delete once their connections are gone, drain.ts), since that needs the kernel's counters.
 */
import type { OutputFile } from '@kproxc/core'
import type { IpvsRuleset, RealServer, VirtualServer } from './ir.js'
import { OUTPUT_FILES } from './names.js'
import { renderIptables } from './render-iptables.js'
import { PROTOCOL_FLAG, ipvsAddress, realServerLine, serviceLine, timeoutsLine } from './render-ipvsadm.js'
import { renderSysctl } from './render-node.js'

/** File names of a delta bundle (full bundles use OUTPUT_FILES). */
export const DELTA_FILES = {
  ipvsadm: OUTPUT_FILES.ipvsadm,
  ipset: OUTPUT_FILES.ipset,
  iptables: OUTPUT_FILES.iptables,
  /** `add ADDR` / `del ADDR` lines for kube-ipvs0. */
  addresses: 'kube-ipvs0.changes',
  sysctl: OUTPUT_FILES.sysctl,
} as const

/** The changed files, in apply order; empty when the two rulesets program the same state. */
export function deltaIpvs(old: IpvsRuleset, next: IpvsRuleset): OutputFile[] {
  const files: OutputFile[] = []
  const push = (name: string, content: string) => {
    if (content !== '') files.push({ name, content })
  }
  push(DELTA_FILES.ipset, ipsetDelta(old, next))
  push(DELTA_FILES.ipvsadm, ipvsadmDelta(old, next))
  push(DELTA_FILES.addresses, addressDelta(old.boundAddresses, next.boundAddresses))
  push(DELTA_FILES.iptables, iptablesDelta(renderIptables(old.iptables), renderIptables(next.iptables)))
  const sysctl = renderSysctl(next)
  if (sysctl !== renderSysctl(old)) push(DELTA_FILES.sysctl, sysctl)
  return files
}

const vsKey = (vs: VirtualServer) => `${PROTOCOL_FLAG[vs.protocol]} ${ipvsAddress(vs.address, vs.port)}`
const rsKey = (rs: RealServer) => ipvsAddress(rs.address, rs.port)

/** `ipvsadm -R` input: deletions first, then edits and additions. */
export function ipvsadmDelta(old: IpvsRuleset, next: IpvsRuleset): string {
  const before = new Map(old.virtualServers.map((vs) => [vsKey(vs), vs]))
  const after = new Map(next.virtualServers.map((vs) => [vsKey(vs), vs]))
  const removals: string[] = []
  const additions: string[] = []
  const oldTimeouts = old.timeouts ? timeoutsLine(old.timeouts) : ''
  const newTimeouts = next.timeouts ? timeoutsLine(next.timeouts) : ''
  if (newTimeouts !== oldTimeouts && newTimeouts !== '') additions.push(newTimeouts)
  for (const [key, vs] of before) if (!after.has(key)) virtualServerDelta(vs, undefined, removals, additions)
  for (const [key, vs] of after) virtualServerDelta(before.get(key), vs, removals, additions)
  return lines([...removals, ...additions])
}

/** The ipvsadm lines that turn one virtual server (or none) into another (or none). */
export function virtualServerDelta(was: VirtualServer | undefined, vs: VirtualServer | undefined, removals: string[], additions: string[]): void {
  if (!vs) {
    if (was) removals.push(`-D ${vsKey(was)}`)
    return
  }
  if (!was) {
    additions.push(serviceLine(vs))
    for (const rs of vs.realServers) additions.push(realServerLine(vs, rs))
    return
  }
  const key = vsKey(vs)
  const line = serviceLine(vs)
  if (serviceLine(was) !== line) additions.push(`-E${line.slice(2)}`)
  const rsBefore = new Map(was.realServers.map((rs) => [rsKey(rs), rs]))
  for (const rs of vs.realServers) {
    const prior = rsBefore.get(rsKey(rs))
    rsBefore.delete(rsKey(rs))
    if (!prior) additions.push(realServerLine(vs, rs))
    else if (realServerLine(was, prior) !== realServerLine(vs, rs)) additions.push(`-e${realServerLine(vs, rs).slice(2)}`)
  }
  for (const rs of rsBefore.values()) removals.push(`-d ${key} -r ${rsKey(rs)}`)
}

const lines = (list: readonly string[]) => list.map((l) => `${l}\n`).join('')

/** `ipset restore` input: members to add, then members to delete. The sets themselves are fixed. */
export function ipsetDelta(old: IpvsRuleset, next: IpvsRuleset): string {
  const lines: string[] = []
  const before = new Map(old.ipsets.map((s) => [s.name, new Set(s.entries)]))
  const gone: string[] = []
  for (const set of next.ipsets) {
    const had = before.get(set.name) ?? new Set<string>()
    const now = new Set(set.entries)
    for (const e of set.entries) if (!had.has(e)) lines.push(`add ${set.name} ${e}`)
    for (const e of had) if (!now.has(e)) gone.push(`del ${set.name} ${e}`)
  }
  return [...lines, ...gone].map((l) => `${l}\n`).join('')
}

function addressDelta(old: readonly string[], next: readonly string[]): string {
  const before = new Set(old)
  const after = new Set(next)
  return [...next.filter((a) => !before.has(a)).map((a) => `add ${a}`), ...old.filter((a) => !after.has(a)).map((a) => `del ${a}`)].map((l) => `${l}\n`).join('')
}

/**
 * A `--noflush` restore rewriting only the chains whose rules differ and deleting the chains that
 * are gone. The IPVS-mode rules are a fixed set of chains with set-based matches, so they are
 * compared as text.
 */
export function iptablesDelta(oldText: string, newText: string): string {
  const before = parseRestore(oldText)
  const after = parseRestore(newText)
  let out = ''
  for (const [table, chains] of after) {
    const prior = before.get(table) ?? new Map<string, string[]>()
    // Built-in chains hold only the jumps kube-proxy inserts at a full sync; a delta leaves them.
    const changed = [...chains].filter(([c, rules]) => c.startsWith('KUBE-') && prior.get(c)?.join('\n') !== rules.join('\n')).map(([c]) => c)
    const stale = [...prior.keys()].filter((c) => !chains.has(c) && c.startsWith('KUBE-'))
    if (changed.length === 0 && stale.length === 0) continue
    out += `*${table}\n`
    for (const c of [...changed, ...stale]) out += `:${c} - [0:0]\n`
    for (const c of changed) for (const r of chains.get(c) ?? []) out += `${r}\n`
    for (const c of stale) out += `-X ${c}\n`
    out += 'COMMIT\n'
  }
  return out
}

/** Rules of a restore document by table and chain (built-in chains included, comments dropped). */
function parseRestore(text: string): Map<string, Map<string, string[]>> {
  const tables = new Map<string, Map<string, string[]>>()
  let chains: Map<string, string[]> | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (chains = new Map()))
    else if (line.startsWith(':') && chains) chains.set(line.slice(1).split(' ')[0] as string, [])
    else if (line.startsWith('-A ') && chains) {
      const chain = line.split(' ')[1] as string
      if (!chains.has(chain)) chains.set(chain, [])
      chains.get(chain)?.push(line)
    }
  }
  return tables
}
