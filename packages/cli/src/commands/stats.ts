import { Command, Option } from 'commander'
import { type Family, type ProxyMode, type ProxyModel, buildModel, loadObjects, stableJSON } from '@kproxc/core'
import { CHAINS, DEFAULT_OPTIONS, compileRuleset } from '@kproxc/iptables'
import { compileIpvs } from '@kproxc/ipvs'
import { compile as compileNft } from '@kproxc/nftables'
import type { IO } from '../io.js'
import { type ModelFlags, addModelOptions, familyFlag, modelOptions, readInputs } from '../options.js'
import { withProgress } from '../progress.js'

interface StatsFlags extends ModelFlags {
  json?: boolean
}

/** Rules and chains of one iptables table. */
export interface TableStats {
  chains: number
  rules: number
  /** Jumps from built-in chains kube-proxy ensures outside the restore. */
  builtinJumps: number
}

/** What iptables mode costs. */
export interface IptablesStats {
  filter: TableStats
  nat: TableStats
  /** Rules of nat KUBE-SERVICES a new connection may test before its Service's rule matches (the last Service's position). */
  firstPacketWorstCase: number
  /** The same, averaged over the Service addresses in KUBE-SERVICES. */
  firstPacketAverage: number
  /** Rules in the longest KUBE-SVC/KUBE-SVL chain (one statistic rule per endpoint), tested after that. */
  longestServiceChain: number
}

export interface NftablesStats {
  chains: number
  rules: number
  sets: number
  elements: number
  /** Elements per set or map, largest first. */
  perSet: Record<string, number>
  /** Rules of the services chain: verdict-map lookups, the same for every Service. */
  firstPacketRules: number
}

export interface IpvsStats {
  virtualServers: number
  realServers: number
  ipsets: number
  ipsetMembers: number
  /** Members per non-empty set. */
  perSet: Record<string, number>
  boundAddresses: number
  iptables: { filter: TableStats; nat: TableStats }
  /** Rules of nat KUBE-SERVICES: a fixed handful of ipset matches, whatever the number of Services. */
  firstPacketRules: number
}

/** Everything `kproxc stats` reports for one family. */
export interface FamilyStats {
  family: Family
  servicePorts: number
  endpoints: number
  iptables: IptablesStats
  nftables: NftablesStats
  ipvs: IpvsStats
}

/** Counts for iptables mode, from its IR. */
export function iptablesStats(model: ProxyModel, family: Family): IptablesStats {
  const rs = compileRuleset(model, family, DEFAULT_OPTIONS)
  const [filter, nat] = rs.tables
  const table = (t: typeof filter): TableStats => ({ chains: t.kubeProxy.chains.length, rules: t.kubeProxy.rules.length, builtinJumps: t.builtin.rules.length })
  // kube-proxy's first-packet cost: KUBE-SERVICES is a linear list, one rule per Service address,
  // and the NodePort tail comes last (the runbook's "count the rules" before moving to IPVS/nftables).
  const services = nat.kubeProxy.rules.filter((r) => r.chain === CHAINS.services && !(r.target?.kind === 'jump' && r.target.chain === CHAINS.nodePorts))
  const perChain = new Map<string, number>()
  for (const r of nat.kubeProxy.rules) {
    if (/^KUBE-(SVC|SVL)-/.test(r.chain)) perChain.set(r.chain, (perChain.get(r.chain) ?? 0) + 1)
  }
  const n = services.length
  return {
    filter: table(filter),
    nat: table(nat),
    firstPacketWorstCase: n,
    firstPacketAverage: n === 0 ? 0 : Math.round(((n + 1) / 2) * 10) / 10,
    longestServiceChain: Math.max(0, ...perChain.values()),
  }
}

/** Counts for nftables mode, from its transaction. */
export function nftablesStats(model: ProxyModel, family: Family): NftablesStats {
  const rs = compileNft(model, { family })
  const chains = new Set<string>()
  const sets = new Set<string>()
  const perSet: Record<string, number> = {}
  let rules = 0
  let firstPacketRules = 0
  for (const op of rs.ops) {
    if (op.kind === 'addChain') chains.add(op.name)
    else if (op.kind === 'addSet') sets.add(op.name)
    else if (op.kind === 'addElement') perSet[op.name] = (perSet[op.name] ?? 0) + 1
    else if (op.kind === 'addRule') {
      rules++
      if (op.chain === 'services') firstPacketRules++
    }
  }
  for (const s of sets) perSet[s] ??= 0
  const sorted = Object.fromEntries(Object.entries(perSet).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])))
  return { chains: chains.size, rules, sets: sets.size, elements: Object.values(perSet).reduce((a, b) => a + b, 0), perSet: sorted, firstPacketRules }
}

/** Counts for IPVS mode, from its IR. */
export function ipvsStats(model: ProxyModel, family: Family): IpvsStats {
  const ir = compileIpvs(model, { family })
  const table = (t: typeof ir.iptables.nat): TableStats => ({ chains: t.chains.length, rules: t.rules.length, builtinJumps: t.builtin.length })
  const perSet: Record<string, number> = {}
  for (const s of [...ir.ipsets].sort((a, b) => b.entries.length - a.entries.length || a.name.localeCompare(b.name))) {
    if (s.entries.length > 0) perSet[s.name] = s.entries.length
  }
  return {
    virtualServers: ir.virtualServers.length,
    realServers: ir.virtualServers.reduce((a, v) => a + v.realServers.length, 0),
    ipsets: ir.ipsets.length,
    ipsetMembers: ir.ipsets.reduce((a, s) => a + s.entries.length, 0),
    perSet,
    boundAddresses: ir.boundAddresses.length,
    iptables: { filter: table(ir.iptables.filter), nat: table(ir.iptables.nat) },
    firstPacketRules: ir.iptables.nat.rules.filter((r) => r.chain === CHAINS.services).length,
  }
}

const MODES: readonly ProxyMode[] = ['iptables', 'nftables', 'ipvs']

/** Stats of every family, each mode compiled from a model built with that mode's defaults. */
export function clusterStats(models: Readonly<Record<ProxyMode, ProxyModel>>): FamilyStats[] {
  return models.iptables.families.map((fam) => ({
    family: fam.family,
    servicePorts: fam.servicePorts.length,
    endpoints: fam.servicePorts.reduce((a, sp) => a + sp.endpoints.length, 0),
    iptables: iptablesStats(models.iptables, fam.family),
    nftables: nftablesStats(models.nftables, fam.family),
    ipvs: ipvsStats(models.ipvs, fam.family),
  }))
}

const top = (perSet: Record<string, number>, n = 4) =>
  Object.entries(perSet).filter(([, v]) => v > 0).slice(0, n).map(([k, v]) => `${k} ${v}`).join(', ')

/** The human-readable report. */
export function formatStats(node: string, stats: readonly FamilyStats[]): string {
  const out: string[] = []
  for (const s of stats) {
    const { iptables: i, nftables: n, ipvs: v } = s
    const t = (name: string, x: TableStats) => `${name} ${x.chains} chains, ${x.rules} rules (+${x.builtinJumps} jumps from built-in chains)`
    out.push(
      `node ${node}, ${s.family}: ${s.servicePorts} service ports, ${s.endpoints} endpoints`,
      'iptables',
      `  ${t('filter', i.filter)}`,
      `  ${t('nat', i.nat)}`,
      `  first packet: up to ${i.firstPacketWorstCase} rules of nat KUBE-SERVICES before its Service matches (average ${i.firstPacketAverage}), then up to ${i.longestServiceChain} in a KUBE-SVC/SVL chain; grows with every Service`,
      'nftables',
      `  ${n.chains} chains, ${n.rules} rules, ${n.sets} sets/maps holding ${n.elements} elements${n.elements > 0 ? ` (${top(n.perSet)})` : ''}`,
      `  first packet: ${n.firstPacketRules} rules in the services chain (verdict-map lookups), whatever the number of Services`,
      'ipvs',
      `  ${v.virtualServers} virtual servers, ${v.realServers} real servers, ${v.boundAddresses} kube-ipvs0 addresses`,
      `  ${v.ipsets} ipsets holding ${v.ipsetMembers} members${v.ipsetMembers > 0 ? ` (${top(v.perSet)})` : ''}`,
      `  iptables: ${t('filter', v.iptables.filter)}; ${t('nat', v.iptables.nat)}`,
      `  first packet: ${v.firstPacketRules} rules in nat KUBE-SERVICES (ipset lookups), whatever the number of Services`,
      '',
    )
  }
  return out.join('\n')
}

/** `kproxc stats`: what this cluster costs on this node in each mode. */
export function statsCommand(io: IO): Command {
  const cmd = new Command('stats')
    .description('count what this cluster costs on this node in each mode: rules, chains, sets and elements, virtual servers, and the iptables first-packet worst case')
    .argument('[files...]', 'YAML or JSON inputs; - for stdin')
    .addOption(new Option('--json', 'print the numbers as JSON'))
  addModelOptions(cmd)
  cmd.action(async (files: string[], flags: StatsFlags) => {
    const { models, stats } = await withProgress(io, async (p) => {
      p.phase('reading inputs')
      const sources = await readInputs(files, flags, io)
      p.phase('validating objects')
      const objects = loadObjects(sources)
      const family = familyFlag(flags.ipFamily)
      const models = {} as Record<ProxyMode, ProxyModel>
      for (const m of MODES) {
        p.phase(`building the ${m} model`)
        models[m] = buildModel(objects, modelOptions(flags, m, family ? [family] : undefined))
      }
      p.phase('counting rules in every mode')
      return { models, stats: clusterStats(models) }
    })
    if (flags.json) io.stdout(stableJSON({ node: models.iptables.node.name, families: stats }))
    else io.stdout(formatStats(models.iptables.node.name, stats))
  })
  return cmd
}
