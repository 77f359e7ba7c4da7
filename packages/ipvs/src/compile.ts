import {
  type EndpointModel, type Family, type FamilyModel, KproxcError, type ProxyModel, type ServicePortModel,
  isLoopback, parseCIDR, parseIP, sortAddresses,
} from '@kproxc/core'
import { compileIptables, type OutFilterEntry } from './compile-iptables.js'
import { ipPortEntry, ipPortIpEntry, sortAddressList, sortEntries } from './entries.js'
import type { Frontend, IptablesDocument, Ipset, IpvsRuleset, IpvsTimeouts, RealServer, Sysctl, VirtualServer } from './ir.js'
import { DEFAULT_SCHEDULER, IPSETS, IPSET_KEYS, type IpsetKey, KERNEL_SCHEDULERS, SYSCTLS, ipsetName } from './names.js'

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

/** What one service port asks for: set members, virtual servers, addresses and OUTPUT filters, in order. */
export interface IpvsFragment {
  readonly members: readonly (readonly [IpsetKey, string])[]
  /** Candidates: a (protocol, address, port) another port claimed earlier is not created again. */
  readonly virtualServers: readonly VirtualServer[]
  readonly bound: readonly string[]
  readonly outFilter: readonly OutFilterEntry[]
}

/** A compiled family before its per-port fragments are merged. */
export interface IpvsParts {
  family: Family
  /** Everything family-level, for the delta to tell whether only service ports changed. */
  inputs: string
  ports: readonly { key: string; fragment: IpvsFragment }[]
  /** Builds the rest of the ruleset once the fragments are merged. */
  finish: (merged: Pick<IpvsRuleset, 'virtualServers' | 'ipsets' | 'boundAddresses'> & { outFilter: readonly OutFilterEntry[] }) => IpvsRuleset
  /** The companion iptables rules for given set emptiness and OUTPUT filters. */
  iptablesFor: (isEmpty: (key: IpsetKey) => boolean, outFilter: readonly OutFilterEntry[]) => IptablesDocument
}

/** Fragments by the model's ServicePortModel object and the family-level inputs they were compiled under. */
export interface FragmentCache {
  readonly fragments: WeakMap<ServicePortModel, { inputs: string; entry: { key: string; fragment: IpvsFragment } }>
}

/** An empty fragment cache. */
export function createFragmentCache(): FragmentCache {
  return { fragments: new WeakMap() }
}

/** Model → parts; with a cache, only service ports without a fragment for these inputs are compiled. */
export function compileIpvsParts(model: ProxyModel, options: IpvsCompileOptions, cache?: FragmentCache): IpvsParts {
  const fam = model.families.find((f) => f.family === options.family)
  if (!fam) {
    throw new KproxcError('USAGE', `the model has no ${options.family} section (computed: ${model.families.map((f) => f.family).join(', ') || 'none'})`)
  }
  const scheduler = pickScheduler(model, options.scheduler)
  const ctx = new FamilyCompiler(model, fam, scheduler)
  const randomFully = options.randomFully ?? true
  const builtinJumps = options.builtinJumps ?? true
  const inputs = JSON.stringify([fam.family, scheduler, ctx.nodeIPs, [...ctx.nodeAddressSet], model.config, fam.localDetector, randomFully, builtinJumps])
  const ports = fam.servicePorts.map((sp) => {
    const hit = cache?.fragments.get(sp)
    if (hit && hit.inputs === inputs) return hit.entry
    const entry = { key: sp.key, fragment: ctx.servicePort(sp) }
    cache?.fragments.set(sp, { inputs, entry })
    return entry
  })
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
  return {
    family: fam.family,
    inputs,
    ports,
    iptablesFor,
    finish: (merged) => ({
      family: fam.family,
      timeouts: timeouts(model),
      virtualServers: merged.virtualServers,
      ipsets: merged.ipsets,
      iptables: iptablesFor((key) => (merged.ipsets.find((s) => s.key === key)?.entries.length ?? 0) === 0, merged.outFilter),
      boundAddresses: merged.boundAddresses,
      ...sysctls(model),
    }),
  }
}

/** Merges the fragments in model order (the first claim of a virtual server wins) and finishes the ruleset. */
export function assembleIpvs(parts: IpvsParts): IpvsRuleset {
  const seen = new Set<string>()
  const virtualServers: VirtualServer[] = []
  const members = new Map<IpsetKey, Set<string>>(IPSET_KEYS.map((k) => [k, new Set<string>()]))
  const bound = new Set<string>()
  const outFilter: OutFilterEntry[] = []
  for (const { fragment: f } of parts.ports) {
    for (const [key, entry] of f.members) members.get(key)?.add(entry)
    for (const vs of f.virtualServers) {
      const id = virtualServerId(vs)
      if (seen.has(id)) continue
      seen.add(id)
      virtualServers.push(vs)
    }
    for (const a of f.bound) bound.add(a)
    for (const o of f.outFilter) outFilter.push(o)
  }
  members.set('KUBE-IPVS-IPS', new Set(bound))
  const family = parts.family
  const ipsets: Ipset[] = IPSET_KEYS.map((key) => ({
    kind: 'ipset',
    key,
    name: ipsetName(key, family),
    type: IPSETS[key].type,
    family: family === 'IPv4' ? 'inet' : 'inet6',
    comment: IPSETS[key].comment,
    entries: sortEntries(members.get(key) ?? []),
  }))
  return parts.finish({ virtualServers, ipsets, boundAddresses: sortAddressList(bound), outFilter })
}

/** What makes two virtual servers the same kernel object. */
export function virtualServerId(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${vs.protocol}/${vs.address}/${vs.port}`
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

/** Whether an address counts as a node address for IPVS (netlink isValidForSet: no loopback, no IPv6 link-local). */
function validNodeAddress(ip: string, family: Family): boolean {
  const p = parseIP(ip)
  if ('error' in p || p.family !== family || isLoopback(ip)) return false
  return !(family === 'IPv6' && p.bytes[0] === 0xfe && ((p.bytes[1] ?? 0) & 0xc0) === 0x80)
}

/** A source range of length 0 allows everything; kube-proxy then installs no firewall (ipset cannot hold /0). */
function effectiveSourceRanges(sp: ServicePortModel): string[] {
  const ranges = sp.loadBalancerSourceRanges
  return ranges.some((r) => { const p = parseCIDR(r); return !('error' in p) && p.prefix === 0 }) ? [] : ranges
}

/** Accumulates one family's virtual servers, set members and bound addresses, service port by service port. */
class FamilyCompiler {
  /** Addresses on interfaces other than kube-ipvs0 (GetAllLocalAddressesExcept). */
  readonly nodeAddressSet: Set<string>
  /** Addresses NodePort virtual servers are created on. */
  readonly nodeIPs: string[]
  private frag: { members: [IpsetKey, string][]; virtualServers: VirtualServer[]; bound: string[]; outFilter: OutFilterEntry[] } = { members: [], virtualServers: [], bound: [], outFilter: [] }

  constructor(model: ProxyModel, private readonly fam: FamilyModel, private readonly scheduler: string) {
    const family = fam.family
    this.nodeAddressSet = new Set(model.node.hostAddresses.filter((a) => validNodeAddress(a, family)))
    const npa = fam.nodePortAddresses
    // Match-all uses every node address; explicit CIDRs use the matching ones minus loopback (proxier.go).
    this.nodeIPs = sortAddresses(npa.matchAll ? [...this.nodeAddressSet] : npa.addresses.filter((a) => !isLoopback(a)))
  }

  private add(key: IpsetKey, entry: string): void {
    this.frag.members.push([key, entry])
  }

  /** The fragment of one service port. */
  servicePort(sp: ServicePortModel): IpvsFragment {
    this.frag = { members: [], virtualServers: [], bound: [], outFilter: [] }
    this.addServicePort(sp)
    return this.frag
  }

  addServicePort(sp: ServicePortModel): void {
    const proto = sp.protocolLower
    for (const ep of sp.endpoints) {
      // Hairpin: every local endpoint, whatever its conditions.
      if (ep.isLocal) this.add('KUBE-LOOP-BACK', ipPortIpEntry(ep.ip, proto, ep.port, ep.ip))
    }
    this.add('KUBE-CLUSTER-IP', ipPortEntry(sp.clusterIP, proto, sp.port))
    this.addVirtualServer(sp, 'clusterIP', sp.clusterIP, sp.port, sp.internalPolicyLocal)
    this.frag.bound.push(sp.clusterIP)

    for (const ip of sp.externalIPs) {
      this.add(sp.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', ipPortEntry(ip, proto, sp.port))
      this.addVirtualServer(sp, 'externalIP', ip, sp.port, sp.externalPolicyLocal)
      if (!this.nodeAddressSet.has(ip)) this.frag.bound.push(ip)
    }

    const ranges = effectiveSourceRanges(sp)
    for (const vip of sp.loadBalancerVIPs) {
      const entry = ipPortEntry(vip, proto, sp.port)
      this.add('KUBE-LOAD-BALANCER', entry)
      if (sp.externalPolicyLocal) this.add('KUBE-LOAD-BALANCER-LOCAL', entry)
      if (ranges.length > 0) {
        this.add('KUBE-LOAD-BALANCER-FW', entry)
        for (const cidr of ranges) this.add('KUBE-LOAD-BALANCER-SOURCE-CIDR', ipPortIpEntry(vip, proto, sp.port, cidr))
        if (sp.firewall.allowLoadBalancerVIPsAsSource) {
          // Node-originated traffic to the VIP leaves with the VIP as source (it is bound locally).
          this.add('KUBE-LOAD-BALANCER-SOURCE-IP', ipPortIpEntry(vip, proto, sp.port, vip))
        } else {
          this.frag.outFilter.push({ ip: vip, protocol: proto, port: sp.port })
        }
      }
      this.addVirtualServer(sp, 'loadBalancer', vip, sp.port, sp.externalPolicyLocal)
      if (!this.nodeAddressSet.has(vip)) this.frag.bound.push(vip)
    }

    if (sp.nodePort !== 0) {
      // Without any node address kube-proxy skips the rest of the port, health-check entry included.
      if (this.nodeIPs.length === 0) return
      const entries = proto === 'sctp' ? this.nodeIPs.map((ip) => ipPortEntry(ip, proto, sp.nodePort)) : [String(sp.nodePort)]
      const [all, local] = NODE_PORT_SETS[proto]
      for (const e of entries) {
        this.add(all, e)
        if (sp.externalPolicyLocal) this.add(local, e)
      }
      for (const ip of this.nodeIPs) this.addVirtualServer(sp, 'nodePort', ip, sp.nodePort, sp.externalPolicyLocal)
    }
    if (sp.healthCheckNodePort !== 0) this.add('KUBE-HEALTH-CHECK-NODE-PORT', String(sp.healthCheckNodePort))
  }

  private addVirtualServer(sp: ServicePortModel, frontend: Frontend, address: string, port: number, onlyLocal: boolean): void {
    // Two service ports claiming one (proto, address, port) overwrite each other in kube-proxy in map
    // order; assembleIpvs keeps the first in model order so the output stays deterministic and duplicate-free.
    const byKey = new Map<string, EndpointModel>(sp.endpoints.map((e) => [e.key, e]))
    const realServers: RealServer[] = []
    for (const key of realServerKeys(sp, onlyLocal)) {
      const ep = byKey.get(key)
      if (ep) realServers.push({ kind: 'realServer', address: ep.ip, port: ep.port, weight: 1, endpoint: ep.key })
    }
    this.frag.virtualServers.push({
      kind: 'virtualServer',
      servicePort: sp.key,
      frontend,
      protocol: sp.protocol,
      address,
      port,
      scheduler: this.scheduler,
      persistenceTimeout: sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : null,
      // kube-proxy sets the second scheduler flag for mh, which ipvsadm names mh-port.
      schedulerFlags: this.scheduler === 'mh' ? ['mh-port'] : [],
      realServers,
    })
  }
}

const NODE_PORT_SETS: Record<'tcp' | 'udp' | 'sctp', [IpsetKey, IpsetKey]> = {
  tcp: ['KUBE-NODE-PORT-TCP', 'KUBE-NODE-PORT-LOCAL-TCP'],
  udp: ['KUBE-NODE-PORT-UDP', 'KUBE-NODE-PORT-LOCAL-UDP'],
  sctp: ['KUBE-NODE-PORT-SCTP-HASH', 'KUBE-NODE-PORT-LOCAL-SCTP-HASH'],
}

/**
 * The endpoints of one virtual server (proxier.go syncEndpoint): cluster endpoints, or, for a
 * "local only" server, the local endpoints when there are any and otherwise the cluster endpoints
 * (kubernetes PR #97081: lets local pods still reach the VIP).
 */
export function realServerKeys(sp: ServicePortModel, onlyLocal: boolean): readonly string[] {
  const cluster = sp.clusterEndpoints ?? []
  if (!onlyLocal) return cluster
  const local = sp.localEndpoints ?? []
  return local.length > 0 ? local : cluster
}
