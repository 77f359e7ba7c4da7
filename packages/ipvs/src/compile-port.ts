/**
 * The per-service-port part of IPVS mode's syncProxyRules (pkg/proxy/ipvs/proxier.go): set
 * members, virtual servers with their real servers, kube-ipvs0 addresses and OUTPUT filters of one
 * service port, as a fragment that compile.ts merges in model order.
 */
import { type EndpointModel, type Family, type ProxyModel, type ServicePortModel, isLoopback, parseCIDR, parseIP, sortAddresses } from '@kproxc/core'
import type { OutFilterEntry } from './compile-iptables.js'
import { ipPortEntry, ipPortIpEntry } from './entries.js'
import type { Frontend, RealServer, VirtualServer } from './ir.js'
import type { IpsetKey } from './names.js'

/** What one service port asks for: set members, virtual servers, addresses and OUTPUT filters, in order. */
export interface IpvsFragment {
  readonly members: readonly (readonly [IpsetKey, string])[]
  /** Candidates: a (protocol, address, port) another port claimed earlier is not created again. */
  readonly virtualServers: readonly VirtualServer[]
  readonly bound: readonly string[]
  readonly outFilter: readonly OutFilterEntry[]
}

/** Whether an address counts as a node address for IPVS (netlink isValidForSet: no loopback, no IPv6 link-local). */
function validNodeAddress(ip: string, family: Family): boolean {
  const p = parseIP(ip)
  if ('error' in p || p.family !== family || isLoopback(ip)) return false
  return !(family === 'IPv6' && p.bytes[0] === 0xfe && ((p.bytes[1] ?? 0) & 0xc0) === 0x80)
}

/** A source range of length 0 allows everything; kube-proxy then installs no firewall (ipset cannot hold /0). */
function effectiveSourceRanges(sp: ServicePortModel): readonly string[] {
  const ranges = sp.loadBalancerSourceRanges
  if (ranges.length === 0) return ranges
  return ranges.some((r) => { const p = parseCIDR(r); return !('error' in p) && p.prefix === 0 }) ? [] : ranges
}

/** Compiles the service ports of one family, one fragment each. */
export class FamilyCompiler {
  /** Addresses on interfaces other than kube-ipvs0 (GetAllLocalAddressesExcept). */
  readonly nodeAddressSet: Set<string>
  /** Addresses NodePort virtual servers are created on. */
  readonly nodeIPs: string[]
  private members: [IpsetKey, string][] = []
  private virtualServers: VirtualServer[] = []
  private bound: string[] = []
  private outFilter: OutFilterEntry[] = []

  constructor(model: ProxyModel, fam: ProxyModel['families'][number], private readonly scheduler: string) {
    const family = fam.family
    this.nodeAddressSet = new Set(model.node.hostAddresses.filter((a) => validNodeAddress(a, family)))
    const npa = fam.nodePortAddresses
    // Match-all uses every node address; explicit CIDRs use the matching ones minus loopback (proxier.go).
    this.nodeIPs = sortAddresses(npa.matchAll ? [...this.nodeAddressSet] : npa.addresses.filter((a) => !isLoopback(a)))
  }

  private add(key: IpsetKey, entry: string): void {
    this.members.push([key, entry])
  }

  /** The fragment of one service port. */
  servicePort(sp: ServicePortModel): IpvsFragment {
    this.members = []
    this.virtualServers = []
    this.bound = []
    this.outFilter = []
    this.addServicePort(sp)
    return { members: this.members, virtualServers: this.virtualServers, bound: this.bound, outFilter: this.outFilter }
  }

  private addServicePort(sp: ServicePortModel): void {
    const proto = sp.protocolLower
    for (const ep of sp.endpoints) {
      // Hairpin: every local endpoint, whatever its conditions.
      if (ep.isLocal) this.add('KUBE-LOOP-BACK', ipPortIpEntry(ep.ip, proto, ep.port, ep.ip))
    }
    // The destinations of "cluster" and "local only" servers; the IR is immutable, so all
    // virtual servers of the port share these lists.
    let cluster: readonly RealServer[] | undefined
    let local: readonly RealServer[] | undefined
    const realServers = (onlyLocal: boolean) => (onlyLocal ? (local ??= realServersOf(sp, realServerKeys(sp, true))) : (cluster ??= realServersOf(sp, realServerKeys(sp, false))))

    this.add('KUBE-CLUSTER-IP', ipPortEntry(sp.clusterIP, proto, sp.port))
    this.addVirtualServer(sp, 'clusterIP', sp.clusterIP, sp.port, realServers(sp.internalPolicyLocal))
    this.bound.push(sp.clusterIP)

    for (const ip of sp.externalIPs) {
      this.add(sp.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', ipPortEntry(ip, proto, sp.port))
      this.addVirtualServer(sp, 'externalIP', ip, sp.port, realServers(sp.externalPolicyLocal))
      if (!this.nodeAddressSet.has(ip)) this.bound.push(ip)
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
          this.outFilter.push({ ip: vip, protocol: proto, port: sp.port })
        }
      }
      this.addVirtualServer(sp, 'loadBalancer', vip, sp.port, realServers(sp.externalPolicyLocal))
      if (!this.nodeAddressSet.has(vip)) this.bound.push(vip)
    }

    if (sp.nodePort !== 0) {
      // Without any node address kube-proxy skips the rest of the port, health-check entry included.
      if (this.nodeIPs.length === 0) return
      const entries = proto === 'sctp' ? this.nodeIPs.map((ip) => ipPortEntry(ip, proto, sp.nodePort)) : [String(sp.nodePort)]
      const [all, onlyLocal] = NODE_PORT_SETS[proto]
      for (const e of entries) {
        this.add(all, e)
        if (sp.externalPolicyLocal) this.add(onlyLocal, e)
      }
      for (const ip of this.nodeIPs) this.addVirtualServer(sp, 'nodePort', ip, sp.nodePort, realServers(sp.externalPolicyLocal))
    }
    if (sp.healthCheckNodePort !== 0) this.add('KUBE-HEALTH-CHECK-NODE-PORT', String(sp.healthCheckNodePort))
  }

  private addVirtualServer(sp: ServicePortModel, frontend: Frontend, address: string, port: number, realServers: readonly RealServer[]): void {
    // Two service ports claiming one (proto, address, port) overwrite each other in kube-proxy in map
    // order; assembleIpvs keeps the first in model order so the output stays deterministic and duplicate-free.
    this.virtualServers.push({
      kind: 'virtualServer',
      servicePort: sp.key,
      frontend,
      protocol: sp.protocol,
      address,
      port,
      scheduler: this.scheduler,
      persistenceTimeout: sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : null,
      // kube-proxy sets the second scheduler flag for mh, which ipvsadm names mh-port.
      schedulerFlags: this.scheduler === 'mh' ? MH_FLAGS : NO_FLAGS,
      realServers,
    })
  }
}

const MH_FLAGS: readonly string[] = ['mh-port']
const NO_FLAGS: readonly string[] = []

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

/**
 * Real servers for endpoint keys, in key order; a key the port does not list is left out. The
 * keys are a sorted subset of the sorted endpoints (select.ts), so a merge walk finds them without
 * a map per virtual server; any other order falls back to a lookup by key.
 */
function realServersOf(sp: ServicePortModel, keys: readonly string[]): RealServer[] {
  const all = sp.endpoints
  const out: RealServer[] = []
  let j = 0
  for (const key of keys) {
    while (j < all.length && (all[j] as EndpointModel).key !== key) j++
    if (j === all.length) return realServersByKey(sp, keys)
    const ep = all[j++] as EndpointModel
    out.push({ kind: 'realServer', address: ep.ip, port: ep.port, weight: 1, endpoint: ep.key })
  }
  return out
}

function realServersByKey(sp: ServicePortModel, keys: readonly string[]): RealServer[] {
  const byKey = new Map<string, EndpointModel>(sp.endpoints.map((e) => [e.key, e]))
  const out: RealServer[] = []
  for (const key of keys) {
    const ep = byKey.get(key)
    if (ep) out.push({ kind: 'realServer', address: ep.ip, port: ep.port, weight: 1, endpoint: ep.key })
  }
  return out
}

