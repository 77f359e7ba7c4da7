/**
 * Probe packets for a family model: to every frontend, from a local pod, a hairpinning local
 * endpoint, the node itself and external sources inside and outside typical source ranges.
 * Used by `kproxc compare` and the equivalence property.
 */
import { type FamilyModel, type Frontend, type Packet, type ProxyModel, frontendsOf, isLoopback } from '@kproxc/core'

/** One probe and what it stands for. */
export interface Probe {
  label: string
  packet: Packet
  frontend: Frontend | null
}

const EXTERNAL: Record<'IPv4' | 'IPv6', string[]> = {
  IPv4: ['203.0.113.9', '192.168.0.50', '10.100.3.4'],
  IPv6: ['2001:db8::9', 'fd00::50'],
}
const POD: Record<'IPv4' | 'IPv6', string> = { IPv4: '10.244.1.77', IPv6: 'fd00:244:1::77' }

/** Interface a local pod's packet arrives on, so interface-based detectors see it as local. */
export function podInterface(fm: FamilyModel): string {
  const d = fm.localDetector
  if (d.kind === 'bridgeInterface') return d.name
  if (d.kind === 'interfaceNamePrefix') return `${d.prefix}77`
  return 'veth77'
}

/** Probes to every frontend (deduplicated by address, protocol and port) plus, when asked, one unused port per ClusterIP. */
export function probesFor(model: ProxyModel, fm: FamilyModel, opts: { extraFrontends?: Frontend[]; otherPorts?: boolean; sourceRanges?: string[] } = {}): Probe[] {
  const out: Probe[] = []
  const seen = new Set<string>()
  const host = new Set([...model.node.hostAddresses, ...Object.values(model.node.ips)])
  const fes = [...frontendsOf(fm), ...(opts.extraFrontends ?? [])]
  const add = (fe: Frontend | null, dst: string, dport: number, protocol: Packet['protocol']) => {
    const key = `${dst}/${protocol}/${dport}`
    if (seen.has(key)) return
    seen.add(key)
    const base = { family: fm.family, protocol, dst, dport, dstLocal: host.has(dst) || isLoopback(dst) || fe?.kind === 'nodePort' }
    const what = fe ? `${fe.servicePort.displayName} ${fe.kind} ${dst.includes(':') ? `[${dst}]` : dst}:${dport}/${protocol}` : `${dst}:${dport}/${protocol}`
    if (isLoopback(dst)) {
      out.push({ label: `${what} from node`, frontend: fe, packet: { ...base, src: dst, from: 'node', iif: 'lo' } })
      return
    }
    out.push({ label: `${what} from pod`, frontend: fe, packet: { ...base, src: POD[fm.family], from: 'pod', iif: podInterface(fm) } })
    // A hairpin source is a pod of this node; an IP also listed on another node (random input) is no real pod.
    const eps = fe?.servicePort.endpoints ?? []
    const local = eps.find((e) => e.isLocal && fe?.servicePort.reachableEndpoints.includes(e.key) && eps.every((o) => o.ip !== e.ip || o.isLocal))
    if (local) out.push({ label: `${what} from its own endpoint ${local.ip} (hairpin)`, frontend: fe, packet: { ...base, src: local.ip, from: 'pod', iif: podInterface(fm) } })
    out.push({ label: `${what} from node`, frontend: fe, packet: { ...base, src: fm.nodeIP, from: 'node', iif: 'lo' } })
    for (const src of opts.sourceRanges ?? EXTERNAL[fm.family]) {
      out.push({ label: `${what} from external ${src}`, frontend: fe, packet: { ...base, src, from: 'external', iif: 'eth0' } })
    }
  }
  for (const fe of fes) add(fe, fe.ip, fe.port, fe.protocol)
  if (opts.otherPorts) {
    for (const sp of fm.servicePorts) {
      const used = new Set(fm.servicePorts.filter((o) => o.clusterIP === sp.clusterIP).map((o) => `${o.protocolLower}/${o.port}`))
      let port = 1
      while (used.has(`tcp/${port}`)) port++
      add(null, sp.clusterIP, port, 'tcp')
    }
  }
  return out
}

/** Frontend addresses shared by two service ports (kube-proxy would program one of them). */
export function collidingFrontends(fm: FamilyModel): Set<string> {
  const count = new Map<string, number>()
  for (const fe of frontendsOf(fm)) {
    const k = `${fe.ip}/${fe.protocol}/${fe.port}`
    count.set(k, (count.get(k) ?? 0) + 1)
  }
  return new Set([...count].filter(([, n]) => n > 1).map(([k]) => k))
}
