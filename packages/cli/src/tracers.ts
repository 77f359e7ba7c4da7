/**
 * Loads rule files of one mode (kproxc's output or dumps from a node) into a packet tracer.
 * Files are told apart by content, so `iptables-save`, `nft -j list ruleset`, `nft list ruleset`,
 * `ipvsadm-save -n` and `ipset save` outputs can be given in any order.
 */
import { KproxcError, type Packet, type ProxyMode, type TraceResult } from '@kproxc/core'
import { loadIptablesText, traceIptables } from '@kproxc/iptables'
import { loadIpvsDump, traceIpvs } from '@kproxc/ipvs'
import { loadNftRuleset, traceNftables } from '@kproxc/nftables'

/** A file's name and text. */
export interface RulesFile {
  name: string
  content: string
}

/** What an IPVS-mode file holds, judged from its lines. */
export function ipvsFileKind(f: RulesFile): 'ipvsadm' | 'ipset' | 'iptables' | 'addresses' | 'sysctl' {
  const byName = NAMES[f.name.split('/').pop() ?? '']
  if (byName) return byName
  const lines = f.content.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  if (lines.some((l) => l.startsWith('*nat') || l.startsWith('*filter'))) return 'iptables'
  if (lines.some((l) => /^(create|add|flush) \S+/.test(l))) return 'ipset'
  if (lines.some((l) => /^-[AaE] /.test(l) || l.startsWith('--set'))) return 'ipvsadm'
  if (lines.some((l) => l.includes('='))) return 'sysctl'
  return 'addresses'
}

const NAMES: Record<string, ReturnType<typeof ipvsFileKind>> = {
  'ipvsadm.rules': 'ipvsadm',
  'ipset.rules': 'ipset',
  'iptables.rules': 'iptables',
  'kube-ipvs0.addresses': 'addresses',
  'sysctl.conf': 'sysctl',
}

/** A tracer over the given files of one mode. Throws USAGE when a needed file is missing. */
export function tracerFor(mode: ProxyMode, files: readonly RulesFile[]): (p: Packet) => TraceResult {
  if (files.length === 0) throw new KproxcError('USAGE', 'no rules to trace')
  if (mode === 'iptables') {
    const dump = loadIptablesText(files.map((f) => f.content).join('\n'))
    return (p) => traceIptables(dump, p)
  }
  if (mode === 'nftables') {
    const loaded = files.map((f) => loadNftRuleset(f.content))
    const merged = loaded.reduce((acc, m) => {
      for (const [k, v] of m) acc.set(k, v)
      return acc
    }, new Map())
    return (p) => traceNftables(merged, p)
  }
  const byKind = new Map<string, string>()
  for (const f of files) {
    const k = ipvsFileKind(f)
    byKind.set(k, (byKind.get(k) ?? '') + f.content)
  }
  for (const need of ['ipvsadm', 'ipset', 'iptables']) {
    if (!byKind.has(need)) throw new KproxcError('USAGE', `--mode ipvs needs ${need === 'ipvsadm' ? 'ipvsadm-save -n' : need === 'ipset' ? 'ipset save' : 'iptables-save'} output among the --rules files`)
  }
  const dump = loadIpvsDump({
    ipvsadm: byKind.get('ipvsadm') ?? '',
    ipset: byKind.get('ipset') ?? '',
    iptables: byKind.get('iptables') ?? '',
    addresses: byKind.get('addresses') ?? '',
  })
  return (p) => traceIpvs(dump, p)
}
