/**
 * Packet tracer for kube-proxy's IPVS mode: the companion iptables rules (walked by the iptables
 * tracer, with ipset membership from `ipset save`), then the IPVS virtual-server lookup of
 * `ipvsadm-save -n` (LOCAL_IN for packets from pods and off the node, LOCAL_OUT for the node's own),
 * each real server a branch weighted by its weight, then nat POSTROUTING for masquerade.
 */
import { type Packet, type TraceResult, type TraceVerdict, cidrContains, isLoopback, summarizeTrace } from '@kproxc/core'
import { type LoadedTables, type PacketState, type SetLookup, loadIptablesText, traceLeaves } from '@kproxc/iptables'
import { type IpvsadmRules, type IpvsadmService, loadIpvsadmRules } from './load-ipvsadm.js'

/** One ipset as `ipset save` (or kproxc's `ipset restore` input) lists it. */
export interface LoadedIpset {
  name: string
  type: string
  elements: string[]
}

/** Reads `ipset save` output or `ipset restore` input (create/add/flush lines). */
export function loadIpsetText(text: string): Map<string, LoadedIpset> {
  const sets = new Map<string, LoadedIpset>()
  for (const raw of text.split('\n')) {
    const [cmd, name, arg] = raw.trim().split(/\s+/)
    if (!cmd || !name) continue
    if (cmd === 'create' || cmd === '-N') sets.set(name, { name, type: arg ?? '', elements: sets.get(name)?.elements ?? [] })
    else if (cmd === 'add' || cmd === '-A') sets.get(name)?.elements.push(arg ?? '')
    else if (cmd === 'flush' || cmd === '-F') {
      const s = sets.get(name)
      if (s) s.elements = []
    }
  }
  return sets
}

/** kube-proxy's IPVS-mode jumps from built-in chains (ipvs.md §5.1), used when a dump has none. */
export const IPVS_DEFAULT_JUMPS: Record<string, string[]> = {
  'filter/INPUT': [
    '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
    '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
    '-m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
  ],
  'filter/FORWARD': ['-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL', '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'],
  'filter/OUTPUT': ['-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER'],
  'nat/PREROUTING': ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  'nat/OUTPUT': ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  'nat/POSTROUTING': ['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
}

/** One family's IPVS-mode state, as dumped from a node or as kproxc writes it. */
export interface IpvsDump {
  ipvsadm: IpvsadmRules
  ipsets: Map<string, LoadedIpset>
  iptables: LoadedTables
  /** Addresses bound to kube-ipvs0 (kube-ipvs0.addresses); KUBE-IPVS-IPS is used when absent. */
  dummyAddresses: string[]
}

/** Loads the three texts (plus the optional kube-ipvs0 address list). */
export function loadIpvsDump(texts: { ipvsadm: string; ipset: string; iptables: string; addresses?: string }): IpvsDump {
  const ipvsadm = loadIpvsadmRules(texts.ipvsadm.endsWith('\n') || texts.ipvsadm === '' ? texts.ipvsadm : `${texts.ipvsadm}\n`)
  return {
    ipvsadm,
    ipsets: loadIpsetText(texts.ipset),
    iptables: loadIptablesText(texts.iptables),
    dummyAddresses: (texts.addresses ?? '').split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('#')),
  }
}

/** ipset membership for `-m set --match-set NAME dims` (hash:ip, hash:ip,port[,ip|,net], bitmap:port). */
export function ipsetLookup(sets: Map<string, LoadedIpset>): SetLookup {
  return (name, dims, p) => {
    const set = sets.get(name)
    if (!set) return undefined
    const kinds = (set.type.split(':')[1] ?? '').split(',')
    const addr = (d: 'src' | 'dst' | undefined) => (d === 'src' ? p.src : p.dst)
    return set.elements.some((el) => {
      const parts = el.split(',')
      return kinds.every((k, i) => {
        const part = parts[i] ?? ''
        const d = dims[i]
        if (k === 'ip') return part === addr(d)
        if (k === 'net') return cidrContains(part.includes('/') ? part : `${part}/${part.includes(':') ? 128 : 32}`, addr(d))
        if (k === 'port') {
          // ipset writes `tcp:80`; a bitmap:port holds bare numbers for any protocol.
          const [proto, port] = part.includes(':') ? part.split(':') : [set.type.startsWith('bitmap') ? p.protocol : 'tcp', part]
          if (d === 'src') return false
          return proto === p.protocol && Number(port) === p.dport
        }
        return false
      })
    })
  }
}

const PROTO = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' } as const

/** The virtual server a packet is addressed to. */
export function findVirtualServer(d: IpvsDump, p: Packet): IpvsadmService | undefined {
  return d.ipvsadm.services.find((s) => s.protocol === PROTO[p.protocol] && s.address === p.dst && s.port === p.dport)
}

/** Traces one packet through an IPVS-mode dump. */
export function traceIpvs(dump: IpvsDump, packet: Packet): TraceResult {
  let affinity: TraceResult['affinity'] = null
  const ipvsIPs = dump.ipsets.get(packet.family === 'IPv6' ? 'KUBE-6-IPVS-IPS' : 'KUBE-IPVS-IPS')?.elements ?? []
  const local = new Set([...dump.dummyAddresses, ...ipvsIPs])
  const afterFilter = (p: Packet, st: PacketState): { st: PacketState; verdict?: TraceVerdict; reason?: string }[] => {
    const vs = findVirtualServer(dump, p)
    if (!vs) return [{ st }]
    const line = `-A ${serviceId(vs)} -s ${vs.scheduler}${vs.persistenceTimeout ? ` -p ${vs.persistenceTimeout}` : ''}`
    if (vs.persistenceTimeout) affinity = { timeoutSeconds: vs.persistenceTimeout, mechanism: 'IPVS persistence per virtual server, keyed on the source IP' }
    const servers = vs.realServers.filter((r) => r.weight > 0)
    const step = { table: 'ipvs', chain: serviceId(vs), rule: line }
    if (servers.length === 0) {
      return [{
        st: { ...st, path: [...st.path, { ...step, note: 'no real servers: IPVS answers ICMP port unreachable' }] },
        verdict: 'reject',
        reason: `virtual server ${serviceId(vs)} has no real servers (IPVS rejects)`,
      }]
    }
    const total = servers.reduce((s, r) => s + r.weight, 0)
    return servers.map((r) => {
      const share = r.weight / total
      return {
        st: {
          ...st,
          probability: st.probability * share,
          dnat: { ip: r.address, port: r.port },
          path: [...st.path, { ...step, note: `real server ${r.address}:${r.port} weight ${r.weight} (share ${Math.round(share * 1e4) / 1e4}, scheduler ${vs.scheduler})` }],
        },
      }
    })
  }
  const { walker, leaves } = traceLeaves(dump.iptables, packet, {
    mode: 'ipvs',
    sets: ipsetLookup(dump.ipsets),
    afterFilter,
    defaultJumps: IPVS_DEFAULT_JUMPS,
    isLocal: (ip, p) => isLoopback(ip) || local.has(ip) || (ip === p.dst && p.dstLocal),
  })
  return summarizeTrace('ipvs', packet, leaves, affinity, walker.unknown)
}

function serviceId(vs: IpvsadmService): string {
  const flag = vs.protocol === 'TCP' ? '-t' : vs.protocol === 'UDP' ? '-u' : '--sctp-service'
  return `${flag} ${vs.address.includes(':') ? `[${vs.address}]` : vs.address}:${vs.port}`
}
