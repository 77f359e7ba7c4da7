/**
 * deltaIpvs from compiled parts, in time proportional to the change: ports whose fragment kept its
 * identity (an incremental compile with a FragmentCache) are skipped after one pointer comparison,
 * and the merged state (which port's virtual server wins, how many ports ask for each set member
 * and address) lives in an index that each delta hands on to the next parts. The companion
 * iptables rules are recompiled only when a set became empty or non-empty or an OUTPUT filter
 * changed. Family-level changes (node addresses, configuration) fall back to deltaIpvs.
 */
import type { OutputFile } from '@kproxc/core'
import { type IpvsFragment, type IpvsParts, assembleIpvs, changedPorts, virtualServerId } from './compile.js'
import { DELTA_FILES, deltaIpvs, iptablesDelta, virtualServerDelta } from './delta.js'
import type { VirtualServer } from './ir.js'
import { IPSET_KEYS, type IpsetKey, ipsetName } from './names.js'
import { renderIptables } from './render-iptables.js'

interface Claim {
  port: string
  vs: VirtualServer
}

interface Index {
  claims: Map<string, Claim[]>
  winners: Map<string, VirtualServer>
  /** Ports asking for each set member, by `KEY\0entry`. */
  members: Map<string, number>
  /** Distinct members per set. */
  sizes: Map<IpsetKey, number>
  bound: Map<string, number>
}

const indexes = new WeakMap<IpvsParts, Index>()

/** The changed files from `old` to `next`, in apply order; empty when nothing changed. */
export function deltaIpvsParts(old: IpvsParts, next: IpvsParts): OutputFile[] {
  if (old.inputs !== next.inputs || old.family !== next.family) return deltaIpvs(assembleIpvs(old), assembleIpvs(next))
  const changed = changedPorts(old, next)
  if (changed.length === 0) return []
  const index = takeIndex(old)
  const emptyBefore = new Set(IPSET_KEYS.filter((k) => (index.sizes.get(k) ?? 0) === 0))
  const ipvsIpsBefore = index.bound.size === 0

  const touchedVS = new Map<string, VirtualServer | undefined>()
  const memberCounts = new Map<string, number>()
  const boundCounts = new Map<string, number>()
  let outFilterTouched = false
  for (const c of changed) {
    for (const f of [c.old, c.next]) {
      if (!f) continue
      for (const vs of f.virtualServers) {
        const id = virtualServerId(vs)
        if (!touchedVS.has(id)) touchedVS.set(id, index.winners.get(id))
      }
      for (const [k, e] of f.members) {
        const id = `${k}\u0000${e}`
        if (!memberCounts.has(id)) memberCounts.set(id, index.members.get(id) ?? 0)
      }
      for (const a of f.bound) if (!boundCounts.has(a)) boundCounts.set(a, index.bound.get(a) ?? 0)
      if (f.outFilter.length > 0) outFilterTouched = true
    }
  }
  for (const c of changed) {
    if (c.old) unregister(index, c.key, c.old)
    if (c.next) register(index, c.key, c.next)
  }

  let positions: Map<string, number> | undefined
  const positionOf = () => (positions ??= new Map(next.ports.map((p, i) => [p.key, i])))
  const removals: string[] = []
  const additions: string[] = []
  for (const [id, was] of touchedVS) {
    const now = winner(index.claims.get(id), positionOf)
    if (now) index.winners.set(id, now)
    else index.winners.delete(id)
    if (was !== now) virtualServerDelta(was, now, removals, additions)
  }

  const setName = (k: IpsetKey) => ipsetName(k, next.family)
  const adds: string[] = []
  const dels: string[] = []
  for (const [id, before] of memberCounts) {
    const after = index.members.get(id) ?? 0
    if ((before > 0) === (after > 0)) continue
    const [k, e] = id.split('\u0000') as [IpsetKey, string]
    ;(after > 0 ? adds : dels).push(`${after > 0 ? 'add' : 'del'} ${setName(k)} ${e}`)
  }
  const addrAdds: string[] = []
  const addrDels: string[] = []
  for (const [a, before] of boundCounts) {
    const after = index.bound.get(a) ?? 0
    if ((before > 0) === (after > 0)) continue
    // KUBE-IPVS-IPS holds exactly the addresses bound to kube-ipvs0.
    ;(after > 0 ? adds : dels).push(`${after > 0 ? 'add' : 'del'} ${setName('KUBE-IPVS-IPS')} ${a}`)
    ;(after > 0 ? addrAdds : addrDels).push(`${after > 0 ? 'add' : 'del'} ${a}`)
  }

  let iptables = ''
  const emptyAfter = new Set(IPSET_KEYS.filter((k) => (k === 'KUBE-IPVS-IPS' ? index.bound.size : (index.sizes.get(k) ?? 0)) === 0))
  const flipped = IPSET_KEYS.some((k) => (k === 'KUBE-IPVS-IPS' ? ipvsIpsBefore : emptyBefore.has(k)) !== emptyAfter.has(k))
  if (flipped || outFilterTouched) {
    const before = (k: IpsetKey) => (k === 'KUBE-IPVS-IPS' ? ipvsIpsBefore : emptyBefore.has(k))
    iptables = iptablesDelta(renderIptables(old.iptablesFor(before, outFilterOf(old))), renderIptables(next.iptablesFor((k) => emptyAfter.has(k), outFilterOf(next))))
  }
  indexes.set(next, index)

  const files: OutputFile[] = []
  const push = (name: string, content: string) => {
    if (content !== '') files.push({ name, content })
  }
  push(DELTA_FILES.ipset, [...adds, ...dels].map((l) => `${l}\n`).join(''))
  push(DELTA_FILES.ipvsadm, [...removals, ...additions].map((l) => `${l}\n`).join(''))
  push(DELTA_FILES.addresses, [...addrAdds, ...addrDels].map((l) => `${l}\n`).join(''))
  push(DELTA_FILES.iptables, iptables)
  return files
}


function register(index: Index, port: string, f: IpvsFragment): void {
  for (const vs of f.virtualServers) {
    const id = virtualServerId(vs)
    let list = index.claims.get(id)
    if (!list) index.claims.set(id, (list = []))
    list.push({ port, vs })
  }
  // A fragment may list a member twice; the merged set holds it once per port that asks.
  for (const id of new Set(f.members.map(([k, e]) => `${k}\u0000${e}`))) {
    const n = index.members.get(id) ?? 0
    index.members.set(id, n + 1)
    if (n === 0) {
      const k = id.slice(0, id.indexOf('\u0000')) as IpsetKey
      index.sizes.set(k, (index.sizes.get(k) ?? 0) + 1)
    }
  }
  for (const a of new Set(f.bound)) index.bound.set(a, (index.bound.get(a) ?? 0) + 1)
}

function unregister(index: Index, port: string, f: IpvsFragment): void {
  for (const vs of f.virtualServers) {
    const id = virtualServerId(vs)
    const list = index.claims.get(id)
    const i = list ? list.findIndex((c) => c.port === port && c.vs === vs) : -1
    if (list && i >= 0) list.splice(i, 1)
    if (list && list.length === 0) index.claims.delete(id)
  }
  for (const id of new Set(f.members.map(([k, e]) => `${k}\u0000${e}`))) {
    const n = (index.members.get(id) ?? 0) - 1
    if (n > 0) index.members.set(id, n)
    else {
      index.members.delete(id)
      const k = id.slice(0, id.indexOf('\u0000')) as IpsetKey
      index.sizes.set(k, (index.sizes.get(k) ?? 0) - 1)
    }
  }
  for (const a of new Set(f.bound)) {
    const n = (index.bound.get(a) ?? 0) - 1
    if (n > 0) index.bound.set(a, n)
    else index.bound.delete(a)
  }
}

/** The index of `parts` (built if needed); it moves to the next parts. */
function takeIndex(parts: IpvsParts): Index {
  const known = indexes.get(parts)
  if (known) {
    indexes.delete(parts)
    return known
  }
  const index: Index = { claims: new Map(), winners: new Map(), members: new Map(), sizes: new Map(), bound: new Map() }
  for (const { key, fragment } of parts.ports) register(index, key, fragment)
  // Registered in model order: the first claim is the winner.
  for (const [id, list] of index.claims) index.winners.set(id, (list[0] as Claim).vs)
  return index
}

/** The virtual server assembleIpvs keeps: the first claim in model order (then fragment order). */
function winner(list: readonly Claim[] | undefined, positionOf: () => Map<string, number>): VirtualServer | undefined {
  if (!list || list.length === 0) return undefined
  if (list.length === 1) return (list[0] as Claim).vs
  const pos = positionOf()
  return list.reduce((a, c) => ((pos.get(c.port) ?? Infinity) < (pos.get(a.port) ?? Infinity) ? c : a)).vs
}

function outFilterOf(parts: IpvsParts) {
  return parts.ports.flatMap((p) => p.fragment.outFilter)
}
