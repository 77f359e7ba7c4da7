/**
 * The pure half of applying IPVS mode: each kernel object diffed against what the kernel reports,
 * as kube-proxy's sync reconciles them (pkg/proxy/ipvs/proxier.go syncProxyRules, §7 of the
 * reference): ipvsadm add/edit/delete lines (never a clear), ipset contents swapped in whole,
 * kube-ipvs0 addresses added and removed, sysctls set only when they differ. apply.ts runs them.
 */
import { type Family, KproxcError, type Protocol, cidrContains, familyOf } from '@kproxc/core'
import type { IpvsadmRules, IpvsadmService } from './load-ipvsadm.js'
import type { Ipset, IpvsRuleset, Sysctl, VirtualServer } from './ir.js'
import { DUMMY_DEVICE } from './names.js'
import { PROTOCOL_FLAG, ipvsAddress, realServerLine, serviceLine, timeoutsLine } from './render-ipvsadm.js'
import { createLine } from './render-ipset.js'
import { DELTA_FILES } from './delta.js'
import { drainDeltaLines, removalOf } from './drain.js'
import { type LiveRealServers, liveKey } from './load-ipvsadm-list.js'

/** ipvsadm -R input in two phases, as kube-proxy orders them around the iptables restore. */
export interface IpvsadmPlan {
  /** New and changed virtual servers, their real servers, removed real servers of kept services. */
  before: readonly string[]
  /** Virtual servers of this family nobody wants any more (deleted after the iptables rules moved on). */
  after: readonly string[]
  /** `realDraining`: unwanted TCP real servers left at weight 0 because they still have connections. */
  counts: { added: number; edited: number; deleted: number; realAdded: number; realEdited: number; realDeleted: number; realDraining: number }
}

const METHOD_FLAG = { masq: '-m', gate: '-g', ipip: '-i' } as const

const vsKey = (protocol: Protocol, address: string, port: number) => `${protocol} ${ipvsAddress(address, port)}`

function sameOptions(vs: VirtualServer, cur: IpvsadmService): boolean {
  return vs.scheduler === cur.scheduler && vs.persistenceTimeout === cur.persistenceTimeout &&
    [...vs.schedulerFlags].sort().join(',') === [...cur.flags].sort().join(',')
}

/**
 * The ipvsadm lines that turn `current` into the desired virtual servers of one family. An `-E`
 * restates every option (ipvsadm -E without -p drops persistence). Real servers are added with
 * weight 1, leftovers of another weight or method are edited back (kube-proxy's first-sync repair, and
 * a draining real server wanted again gets its weight back). Unwanted ones go as `removalOf` says for
 * their counters in `live` (`ipvsadm -L -n`; one it lacks counts as idle): deleted, or drained at
 * weight 0 until a later apply finds them idle. Virtual servers nobody wants are deleted with their
 * real servers at once, as kube-proxy's cleanLegacyService does. Virtual servers in `excludeCIDRs`
 * (ipvs.excludeCIDRs) are never touched, as upstream.
 */
export function planIpvsadm(ir: IpvsRuleset, current: IpvsadmRules, excludeCIDRs: readonly string[] = [], live: LiveRealServers = new Map()): IpvsadmPlan {
  const counts = { added: 0, edited: 0, deleted: 0, realAdded: 0, realEdited: 0, realDeleted: 0, realDraining: 0 }
  const before: string[] = []
  const after: string[] = []
  const mine = current.services.filter((s) => s.family === ir.family)
  const byKey = new Map(mine.map((s) => [vsKey(s.protocol, s.address, s.port), s]))
  const wanted = new Set<string>()
  const timeouts = ir.timeouts
  if (timeouts && !(current.timeouts && current.timeouts.tcp === timeouts.tcp && current.timeouts.tcpFin === timeouts.tcpFin && current.timeouts.udp === timeouts.udp)) {
    before.push(timeoutsLine(timeouts))
  }
  for (const vs of ir.virtualServers) {
    const key = vsKey(vs.protocol, vs.address, vs.port)
    wanted.add(key)
    const cur = byKey.get(key)
    if (!cur) {
      before.push(serviceLine(vs))
      counts.added++
    } else if (!sameOptions(vs, cur)) {
      before.push(serviceLine(vs).replace(/^-A /, '-E '))
      counts.edited++
    }
    const curReal = new Map((cur?.realServers ?? []).map((r) => [ipvsAddress(r.address, r.port), r]))
    const wantReal = new Set<string>()
    for (const rs of vs.realServers) {
      const rkey = ipvsAddress(rs.address, rs.port)
      wantReal.add(rkey)
      const have = curReal.get(rkey)
      if (!have) {
        before.push(realServerLine(vs, rs))
        counts.realAdded++
      } else if (have.weight !== rs.weight || have.method !== 'masq') {
        before.push(realServerLine(vs, rs).replace(/^-a /, '-e '))
        counts.realEdited++
      }
    }
    const vsAddr = ipvsAddress(vs.address, vs.port)
    for (const [rkey, have] of [...curReal].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (wantReal.has(rkey)) continue
      const removal = removalOf(vs.protocol, have.weight, live.get(liveKey(vs.protocol, vsAddr, rkey))?.connections ?? 0)
      if (removal === 'delete') {
        before.push(`-d ${PROTOCOL_FLAG[vs.protocol]} ${vsAddr} -r ${rkey}`)
        counts.realDeleted++
        continue
      }
      if (removal === 'drain') before.push(`-e ${PROTOCOL_FLAG[vs.protocol]} ${vsAddr} -r ${rkey} ${METHOD_FLAG[have.method]} -w 0`)
      counts.realDraining++
    }
  }
  for (const cur of mine) {
    const key = vsKey(cur.protocol, cur.address, cur.port)
    if (wanted.has(key) || excludeCIDRs.some((c) => familyOf(c.split('/')[0] ?? '') === cur.family && cidrContains(c, cur.address))) continue
    after.push(`-D ${PROTOCOL_FLAG[cur.protocol]} ${ipvsAddress(cur.address, cur.port)}`)
    counts.deleted++
  }
  return { before, after, counts }
}

/** Endpoints (`ip:port`) behind UDP virtual servers: what `--conntrack` compares. */
export function udpRealServers(services: readonly { protocol: Protocol; realServers: readonly { address: string; port: number }[] }[]): Set<string> {
  const out = new Set<string>()
  for (const s of services) {
    if (s.protocol !== 'UDP') continue
    for (const r of s.realServers) out.add(ipvsAddress(r.address, r.port))
  }
  return out
}

/** One set as `ipset save` printed it. */
export interface SavedSet {
  type: string
  entries: Set<string>
}

/** Reads `ipset save` (every set of the namespace). */
export function parseIpsetSave(text: string): Map<string, SavedSet> {
  const out = new Map<string, SavedSet>()
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/)
    if (w[0] === 'create' && w[1] && w[2]) out.set(w[1], { type: w[2], entries: new Set() })
    else if (w[0] === 'add' && w[1] && w[2]) out.get(w[1])?.entries.add(normalizeEntry(w[2]))
  }
  return out
}

/** ipset prints host nets without their /32 or /128; compare members that way. */
function normalizeEntry(entry: string): string {
  return entry.toLowerCase().replace(/\/(32|128)$/, '')
}

/** The `ipset restore` text and which sets it changes. */
export interface IpsetPlan {
  restore: string
  created: readonly string[]
  swapped: readonly string[]
}

/** The temporary set a set's new members are loaded into (31 characters at most, per family). */
export function tempSetName(family: Family, index: number): string {
  return `KPROXC-TMP-${family === 'IPv6' ? 6 : 4}-${index}`
}

/**
 * Sets that are missing are created and filled; sets whose members differ get the new members in a
 * temporary set of the same type that is swapped in and destroyed, so every set changes in one
 * atomic step and rules matching it never see a half-filled set; equal sets are not mentioned.
 */
export function planIpsets(sets: readonly Ipset[], current: ReadonlyMap<string, SavedSet>, family: Family): IpsetPlan {
  const lines: string[] = []
  const created: string[] = []
  const swapped: string[] = []
  sets.forEach((set, i) => {
    const cur = current.get(set.name)
    if (!cur) {
      lines.push(createLine(set), ...set.entries.map((e) => `add ${set.name} ${e}`))
      created.push(set.name)
      return
    }
    const want = set.entries.map(normalizeEntry)
    if (want.length === cur.entries.size && want.every((e) => cur.entries.has(e))) return
    const tmp = tempSetName(family, i)
    lines.push(createLine({ ...set, name: tmp }), `flush ${tmp}`, ...set.entries.map((e) => `add ${tmp} ${e}`), `swap ${tmp} ${set.name}`, `destroy ${tmp}`)
    swapped.push(set.name)
  })
  return { restore: lines.map((l) => `${l}\n`).join(''), created, swapped }
}

/** Addresses of one family on kube-ipvs0, from `ip -o addr show dev kube-ipvs0`. */
export function parseDeviceAddresses(text: string, family: Family): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/\binet(6?) ([0-9a-fA-F.:]+)\/\d+/g)) {
    if ((m[1] === '6') === (family === 'IPv6')) out.push((m[2] ?? '').toLowerCase())
  }
  return out
}

/** `ip -batch` lines: new addresses before the rules move, stale ones after (kube-proxy steps 5 and 9). */
export interface AddressPlan {
  add: readonly string[]
  remove: readonly string[]
}

const hostPrefix = (ip: string) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)

/** `addr replace` is idempotent (`addr add` fails on re-runs); only this family's addresses are touched. */
export function planAddresses(wanted: readonly string[], current: readonly string[]): AddressPlan {
  const have = new Set(current)
  const want = new Set(wanted)
  return {
    add: wanted.filter((a) => !have.has(a)).map((a) => `addr replace ${hostPrefix(a)} dev ${DUMMY_DEVICE}`),
    remove: current.filter((a) => !want.has(a)).map((a) => `addr del ${hostPrefix(a)} dev ${DUMMY_DEVICE}`),
  }
}

/** Sysctls whose current value differs (kube-proxy writes only those); `current` is `sysctl -n` output, one per key. */
export function planSysctls(sysctls: readonly Sysctl[], current: ReadonlyMap<string, string>): string[] {
  return sysctls.filter((s) => current.get(s.key)?.trim() !== String(s.value)).map((s) => `${s.key.replaceAll('/', '.')}=${s.value}`)
}

/** One step of a delta apply: the tool and its input (pure data; apply.ts runs it). */
export interface DeltaStep {
  argv: readonly string[]
  stdin: string
  /** On the ipvsadm step: real servers this delta leaves draining at weight 0. */
  draining?: number
}

/**
 * The commands that apply a delta bundle from `deltaIpvsParts` (kube-proxy's partial sync), in
 * kube-proxy's order: sysctls, set members, virtual and real servers, new VIP addresses, the iptables
 * chains, then the VIP addresses that went away. `ipset restore -exist` so a member the kernel already
 * has is not an error. Real-server lines follow the drain rules against `live` (`drainDeltaLines`).
 * Unknown files are refused rather than skipped: the kernel would drift.
 */
export function planIpvsDelta(files: readonly { name: string; content: string }[], family: Family, live: LiveRealServers = new Map()): DeltaStep[] {
  const byName = new Map(files.map((f) => [f.name, f.content]))
  const known = new Set<string>(Object.values(DELTA_FILES))
  for (const name of byName.keys()) if (!known.has(name)) throw new KproxcError('INTERNAL', `unknown IPVS delta file ${name}`)
  const steps: DeltaStep[] = []
  const sysctl = byName.get(DELTA_FILES.sysctl) ?? ''
  for (const line of sysctl.split('\n')) {
    const m = /^\s*([^#\s=][^=\s]*)\s*=\s*(\S+)\s*$/.exec(line)
    if (m) steps.push({ argv: ['sysctl', '-w', `${m[1]}=${m[2]}`], stdin: '' })
  }
  const ipset = byName.get(DELTA_FILES.ipset) ?? ''
  if (ipset.trim() !== '') steps.push({ argv: ['ipset', 'restore', '-exist'], stdin: ipset })
  const drained = drainDeltaLines((byName.get(DELTA_FILES.ipvsadm) ?? '').split('\n').filter((l) => l.trim() !== ''), live)
  if (drained.lines.length > 0) {
    steps.push({ argv: ['ipvsadm', '-R'], stdin: drained.lines.map((l) => `${l}\n`).join(''), draining: drained.draining })
  }
  const wanted: string[] = []
  const gone: string[] = []
  for (const line of (byName.get(DELTA_FILES.addresses) ?? '').split('\n')) {
    const [op, addr] = line.trim().split(/\s+/)
    if (!addr) continue
    if (op === 'add') wanted.push(addr)
    else if (op === 'del') gone.push(addr)
    else throw new KproxcError('INTERNAL', `unknown kube-ipvs0 change ${JSON.stringify(line)}`)
  }
  const { add, remove } = planAddresses(wanted, gone)
  if (add.length > 0) steps.push({ argv: ['ip', '-batch', '-'], stdin: add.map((l) => `${l}\n`).join('') })
  const iptables = byName.get(DELTA_FILES.iptables) ?? ''
  if (iptables.trim() !== '') steps.push({ argv: [family === 'IPv6' ? 'ip6tables-restore' : 'iptables-restore', '--noflush', '--wait'], stdin: iptables })
  if (remove.length > 0) steps.push({ argv: ['ip', '-batch', '-'], stdin: remove.map((l) => `${l}\n`).join('') })
  return steps
}
