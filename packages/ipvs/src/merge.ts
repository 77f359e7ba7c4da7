/**
 * The merge of service ports' fragments in model order, as kube-proxy's sync leaves the node:
 * the first claim of a (protocol, address, port) is the virtual server (kube-proxy overwrites in
 * map order; the first in model order keeps the output deterministic and duplicate-free), set
 * members and kube-ipvs0 addresses are de-duplicated and sorted.
 */
import type { Family } from '@kproxc/core'
import type { OutFilterEntry } from './compile-iptables.js'
import type { IpvsFragment } from './compile-port.js'
import { sortAddressList, sortEntries } from './entries.js'
import type { Ipset, VirtualServer } from './ir.js'
import { IPSETS, IPSET_KEYS, type IpsetKey, ipsetName } from './names.js'

/** What makes two virtual servers the same kernel object. */
export function virtualServerId(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${vs.protocol}/${vs.address}/${vs.port}`
}

/** Fragments merged one at a time. */
export class Merge {
  private readonly seen = new Set<string>()
  private readonly members = new Map<IpsetKey, Set<string>>(IPSET_KEYS.map((k) => [k, new Set<string>()]))
  private readonly bound = new Set<string>()
  private readonly outFilter: OutFilterEntry[] = []

  /** Adds a fragment; `onVirtualServer` gets each virtual server no earlier fragment claimed, in order. */
  add(f: IpvsFragment, onVirtualServer: (vs: VirtualServer) => void): void {
    for (const [key, entry] of f.members) this.members.get(key)?.add(entry)
    for (const vs of f.virtualServers) {
      const id = virtualServerId(vs)
      if (this.seen.has(id)) continue
      this.seen.add(id)
      onVirtualServer(vs)
    }
    for (const a of f.bound) this.bound.add(a)
    for (const o of f.outFilter) this.outFilter.push(o)
  }

  /** The sets with their sorted members (KUBE-IPVS-IPS: the bound addresses), the addresses, the OUTPUT filters. */
  result(family: Family): { ipsets: Ipset[]; boundAddresses: string[]; outFilter: OutFilterEntry[] } {
    this.members.set('KUBE-IPVS-IPS', this.bound)
    const ipsets: Ipset[] = IPSET_KEYS.map((key) => ({
      kind: 'ipset',
      key,
      name: ipsetName(key, family),
      type: IPSETS[key].type,
      family: family === 'IPv4' ? 'inet' : 'inet6',
      comment: IPSETS[key].comment,
      entries: sortEntries(this.members.get(key) ?? []),
    }))
    return { ipsets, boundAddresses: sortAddressList(this.bound), outFilter: this.outFilter }
  }
}
