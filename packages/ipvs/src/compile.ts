import { type Family, type FamilyModel, type FragmentChange, KproxcError, type ProxyModel, type ServicePortModel, alignPortEntries, changedFragments } from '@kproxc/core'
import { compileIptables, type OutFilterEntry } from './compile-iptables.js'
import { FamilyCompiler, type IpvsFragment } from './compile-port.js'
import type { IptablesDocument, IpvsRuleset, IpvsTimeouts, Sysctl, VirtualServer } from './ir.js'
import { Merge } from './merge.js'
import { DEFAULT_SCHEDULER, type IpsetKey, KERNEL_SCHEDULERS, SYSCTLS, ipsetName } from './names.js'

export { realServerKeys, type IpvsFragment } from './compile-port.js'
export { virtualServerId } from './merge.js'

/** What to compile: one family, plus the backend's own options. */
export interface IpvsCompileOptions {
  family: Family
  /** Overrides `ipvs.scheduler` of the configuration (the `--scheduler` option). */
  scheduler?: string
  /** Append `--random-fully` to the SNAT rule, as kube-proxy does when iptables ≥ 1.6.2 (default true). */
  randomFully?: boolean
  /** Also write the jumps from built-in chains kube-proxy inserts outside iptables-restore (default true, as the iptables backend). */
  builtinJumps?: boolean
}

/** Compiles one family of the model into everything IPVS mode programs on the node (proxier.go syncProxyRules). */
export function compileIpvs(model: ProxyModel, options: IpvsCompileOptions, cache?: FragmentCache): IpvsRuleset {
  return assembleIpvs(compileIpvsParts(model, options, cache))
}

/** A service port's key and fragment. */
export interface IpvsPortEntry {
  readonly key: string
  readonly fragment: IpvsFragment
}

/** A compiled family before its per-port fragments are merged. */
export interface IpvsParts {
  family: Family
  /** Everything family-level, for the delta to tell whether only service ports changed. */
  inputs: string
  ports: readonly IpvsPortEntry[]
  /** Builds the rest of the ruleset once the fragments are merged. */
  finish: (merged: Pick<IpvsRuleset, 'virtualServers' | 'ipsets' | 'boundAddresses'> & { outFilter: readonly OutFilterEntry[] }) => IpvsRuleset
  /** The companion iptables rules for given set emptiness and OUTPUT filters. */
  iptablesFor: (isEmpty: (key: IpsetKey) => boolean, outFilter: readonly OutFilterEntry[]) => IptablesDocument
}

/** Fragments by the model's ServicePortModel object and the family-level inputs they were compiled under. */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: IpvsPortEntry }>
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

/** What a cache remembers of its last compile, to reuse entries by position. */
interface LastCompile {
  servicePorts: readonly ServicePortModel[]
  parts: IpvsParts
}

const lastCompiles = new WeakMap<FragmentCache, LastCompile>()

/**
 * The ports whose fragment changed since the parts compiled before through the same cache, when
 * that compile saw them at the same positions (the usual watch event): what changedFragments
 * would return, without walking every port again.
 */
const knownChanges = new WeakMap<IpvsParts, { from: IpvsParts; changes: FragmentChange<IpvsFragment>[] }>()

/** changedFragments(old.ports, next.ports). */
export function changedPorts(old: IpvsParts, next: IpvsParts): FragmentChange<IpvsFragment>[] {
  const known = knownChanges.get(next)
  return known && known.from === old ? known.changes : changedFragments(old.ports, next.ports)
}

/** One family's compiler and everything family-level, before any service port is compiled. */
export function familySetup(model: ProxyModel, options: IpvsCompileOptions): {
  fam: FamilyModel
  compiler: FamilyCompiler
  inputs: string
  iptablesFor: IpvsParts['iptablesFor']
  finish: IpvsParts['finish']
} {
  const fam = model.families.find((f) => f.family === options.family)
  if (!fam) {
    throw new KproxcError('USAGE', `the model has no ${options.family} section (computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  const scheduler = pickScheduler(model, options.scheduler)
  const compiler = new FamilyCompiler(model, fam, scheduler)
  const randomFully = options.randomFully ?? true
  const builtinJumps = options.builtinJumps ?? true
  const inputs = JSON.stringify([fam.family, scheduler, compiler.nodeIPs, [...compiler.nodeAddressSet], model.config, fam.localDetector, randomFully, builtinJumps])
  const iptablesFor = (isEmpty: (key: IpsetKey) => boolean, outFilter: readonly OutFilterEntry[]) => compileIptables({
    family: fam.family,
    setName: (key) => ipsetName(key, fam.family),
    isEmpty,
    masqueradeAll: model.config.masqueradeAll,
    masqueradeMark: model.config.masqueradeMark,
    localDetector: fam.localDetector,
    outFilter,
    randomFully,
    builtinJumps,
  })
  const finish: IpvsParts['finish'] = (merged) => ({
    family: fam.family,
    timeouts: timeouts(model),
    virtualServers: merged.virtualServers,
    ipsets: merged.ipsets,
    iptables: iptablesFor((key) => (merged.ipsets.find((s) => s.key === key)?.entries.length ?? 0) === 0, merged.outFilter),
    boundAddresses: merged.boundAddresses,
    ...sysctls(model),
  })
  return { fam, compiler, inputs, iptablesFor, finish }
}

/**
 * Model → parts; with a cache, only service ports without a fragment for these inputs are
 * compiled. A model from the same ModelStore keeps unchanged ports' objects in the same order, so
 * most ports are matched against the last compile by position (one pointer comparison each).
 */
export function compileIpvsParts(model: ProxyModel, options: IpvsCompileOptions, cache?: FragmentCache): IpvsParts {
  const setup = familySetup(model, options)
  const { fam, compiler } = setup
  let inputs = setup.inputs
  const last = cache ? lastCompiles.get(cache) : undefined
  let prev: LastCompile | undefined
  if (last && last.parts.inputs === inputs) {
    prev = last
    // The same string object from here on, so cache hits compare pointers.
    inputs = last.parts.inputs
  }
  const { ports, replaced } = alignPortEntries(fam.servicePorts, prev && { servicePorts: prev.servicePorts, entries: prev.parts.ports }, cache, inputs, (sp) => ({ key: sp.key, fragment: compiler.servicePort(sp) }))
  const parts: IpvsParts = { family: fam.family, inputs, ports, iptablesFor: setup.iptablesFor, finish: setup.finish }
  if (prev && replaced) {
    const before = prev.parts.ports
    knownChanges.set(parts, { from: prev.parts, changes: replaced.map((i) => ({ key: (ports[i] as IpvsPortEntry).key, old: (before[i] as IpvsPortEntry).fragment, next: (ports[i] as IpvsPortEntry).fragment })) })
  }
  if (cache) lastCompiles.set(cache, { servicePorts: fam.servicePorts, parts })
  return parts
}

/** Merges the fragments in model order (the first claim of a virtual server wins) and finishes the ruleset. */
export function assembleIpvs(parts: IpvsParts): IpvsRuleset {
  const merge = new Merge()
  const virtualServers: VirtualServer[] = []
  for (const { fragment } of parts.ports) merge.add(fragment, (vs) => virtualServers.push(vs))
  return parts.finish({ virtualServers, ...merge.result(parts.family) })
}

function pickScheduler(model: ProxyModel, override: string | undefined): string {
  const name = override || model.config.ipvs.scheduler || DEFAULT_SCHEDULER
  if ((KERNEL_SCHEDULERS as readonly string[]).includes(name)) return name
  const message = `is not an IPVS scheduler the kernel provides (one of ${KERNEL_SCHEDULERS.join(', ')})`
  if (override) throw new KproxcError('USAGE', `--scheduler ${JSON.stringify(override)} ${message}`)
  throw new KproxcError('INVALID_INPUT', 'unsupported IPVS scheduler', [
    { object: { kind: 'KubeProxyConfiguration', name: 'config' }, path: 'ipvs.scheduler', value: name, message },
  ])
}

function timeouts(model: ProxyModel): IpvsTimeouts | null {
  const { tcpTimeoutSeconds: tcp, tcpFinTimeoutSeconds: tcpFin, udpTimeoutSeconds: udp } = model.config.ipvs
  // kube-proxy configures the timeouts only when one of them is set; 0 then means "keep" (ipvsadm --set).
  if (tcp <= 0 && tcpFin <= 0 && udp <= 0) return null
  return { tcp: Math.floor(tcp), tcpFin: Math.floor(tcpFin), udp: Math.floor(udp) }
}

function sysctls(model: ProxyModel): { sysctls: Sysctl[]; sysctlNotes: string[] } {
  const s = (key: string, value: number): Sysctl => ({ kind: 'sysctl', key, value })
  const list = [
    s(SYSCTLS.vsConntrack, 1),
    s(SYSCTLS.expireNoDestConn, 1),
    s(SYSCTLS.expireQuiescentTemplate, 1),
    s(SYSCTLS.ipForward, 1),
  ]
  if (model.config.ipvs.strictARP) list.push(s(SYSCTLS.arpIgnore, 1), s(SYSCTLS.arpAnnounce, 2))
  return {
    sysctls: list,
    // NewProxier sets conn_reuse_mode=0 only on kernels 4.1 to 5.8; the kernel version is not an input here.
    sysctlNotes: [`${SYSCTLS.connReuseMode.replaceAll('/', '.')} is left alone (kube-proxy sets it to 0 only on kernels >= 4.1 and < 5.9)`],
  }
}
