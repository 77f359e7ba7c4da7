import { readFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { type Family, KproxcError, type Packet, type ProxyMode, type TraceResult, type TraceStep, canonicalIP, familyOf, isLoopback, joinHostPort } from '@kproxc/core'
import type { IO } from '../io.js'
import { BACKENDS } from '../backends.js'
import { type ModelFlags, addModelOptions } from '../options.js'
import { podInterface } from '../probes.js'
import { type RulesFile, tracerFor } from '../tracers.js'
import { loadModel } from './model.js'

interface TraceFlags extends ModelFlags {
  rules?: string[]
  cluster?: string[]
  mode: ProxyMode
  src: string
  dst: string
  dport: string
  proto: string
  from: 'pod' | 'node' | 'external'
  format: 'text' | 'json' | 'dot'
  inInterface?: string
  localAddress?: string[]
}

/** `kproxc trace`: which endpoint a packet reaches in one mode's rules, and why. */
export function traceCommand(io: IO): Command {
  const cmd = new Command('trace')
    .description("trace one packet through kube-proxy's rules (kproxc's output or dumps from a node): path, verdict, endpoints, masquerade")
    .option('--rules <files...>', 'rule dumps: iptables-save / ip6tables-save; nft -j list ruleset or nft list ruleset; ipvs: ipvsadm-save -n + ipset save + iptables-save')
    .option('--cluster <files...>', 'Services, EndpointSlices, Nodes (YAML/JSON): compile them first, then trace')
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(['iptables', 'nftables', 'ipvs']).makeOptionMandatory())
    .requiredOption('--src <ip>', 'source address')
    .requiredOption('--dst <ip>', 'destination address')
    .requiredOption('--dport <port>', 'destination port')
    .addOption(new Option('--proto <proto>', 'protocol').choices(['tcp', 'udp', 'sctp']).default('tcp'))
    .addOption(new Option('--from <where>', 'where the packet comes from').choices(['pod', 'node', 'external']).default('external'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'dot']).default('text'))
    .option('--in-interface <name>', 'interface the packet arrives on (for BridgeInterface/InterfaceNamePrefix detectors)')
    .option('--local-address <ips...>', "the node's own addresses (addrtype LOCAL / fib type local); with --cluster default the node's addresses")
  addModelOptions(cmd)
  cmd.action(async (flags: TraceFlags) => {
    if (!!flags.rules === !!flags.cluster) throw new KproxcError('USAGE', 'give exactly one of --rules FILE... or --cluster FILE...')
    const src = checkIP('--src', flags.src)
    const dst = checkIP('--dst', flags.dst)
    const family: Family = familyOf(dst) ?? 'IPv4'
    if (familyOf(src) !== family) throw new KproxcError('USAGE', '--src and --dst must be of the same IP family')
    const dport = Number(flags.dport)
    if (!Number.isInteger(dport) || dport < 1 || dport > 65535) throw new KproxcError('USAGE', `--dport: ${JSON.stringify(flags.dport)} is not a port`)
    let files: RulesFile[]
    let local = new Set((flags.localAddress ?? []).map((a) => checkIP('--local-address', a)))
    let iif = flags.inInterface
    if (flags.cluster) {
      const model = await loadModel(flags.cluster, { ...flags, ipFamily: family }, io, flags.mode)
      const fm = model.families.find((f) => f.family === family)
      const backend = BACKENDS[flags.mode]
      const options = Object.fromEntries(backend.options.map((o) => [o.key, o.default]))
      files = backend.emit(model, { family, format: backend.formats[0] as string, options })
      if (!flags.localAddress) local = new Set([...model.node.hostAddresses, ...Object.values(model.node.ips)])
      if (iif === undefined && fm && flags.from === 'pod') iif = podInterface(fm)
    } else {
      files = await Promise.all((flags.rules ?? []).map(async (path) => ({ name: path, content: await readText(path, io) })))
    }
    const packet: Packet = {
      family,
      protocol: flags.proto as Packet['protocol'],
      src,
      dst,
      dport,
      from: flags.from,
      iif: iif ?? (flags.from === 'node' ? 'lo' : flags.from === 'pod' ? 'veth0' : 'eth0'),
      dstLocal: local.has(dst) || isLoopback(dst),
    }
    const result = tracerFor(flags.mode, files)(packet)
    io.stdout(flags.format === 'json' ? traceJSON(result) : flags.format === 'dot' ? traceDot(result) : traceText(result))
  })
  return cmd
}

async function readText(path: string, io: IO): Promise<string> {
  if (path === '-') return io.stdin()
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw new KproxcError('USAGE', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`)
  }
}

function checkIP(flag: string, v: string): string {
  const ip = canonicalIP(v)
  if (!ip) throw new KproxcError('USAGE', `${flag}: ${JSON.stringify(v)} is not an IP address`)
  return ip
}

function stepText(s: TraceStep): string {
  const where = s.chain ? `${s.table} ${s.chain}` : s.table
  return `  ${where}: ${s.rule}${s.note ? `\n      → ${s.note}` : ''}`
}

/** Human-readable trace. */
export function traceText(r: TraceResult): string {
  const p = r.packet
  const lines = [`packet: ${p.protocol} ${p.src} → ${joinHostPort(p.dst, p.dport)} from ${p.from}${p.iif ? ` (in ${p.iif})` : ''}, ${r.mode} mode`, 'path:']
  lines.push(...r.path.map(stepText))
  if (r.endpoints.length) {
    for (const e of r.endpoints) {
      lines.push(`branch to ${joinHostPort(e.ip, e.port)} (${(e.probability * 100).toFixed(2)}%):`)
      lines.push(...e.path.map(stepText))
    }
  } else {
    for (const l of r.leaves.filter((l) => l.path.length > r.path.length)) lines.push(`branch (${(l.probability * 100).toFixed(2)}%):`, ...l.path.slice(r.path.length).map(stepText))
  }
  lines.push(`verdict: ${r.verdict.toUpperCase()}${r.verdict === 'forward' ? '' : ` (${r.reason})`}`)
  for (const e of r.endpoints) lines.push(`  → ${joinHostPort(e.ip, e.port)}  probability ${e.probability.toFixed(4)}${e.masquerade ? '  masqueraded' : ''}`)
  lines.push(`masquerade: ${r.masquerade ? 'yes (source NATed to the node)' : r.endpoints.some((e) => e.masquerade) ? 'only on some branches (hairpin)' : 'no (client IP kept)'}`)
  if (r.affinity) lines.push(`affinity: ClientIP, ${r.affinity.timeoutSeconds}s: later connections from ${p.src} stick to the endpoint chosen first (${r.affinity.mechanism})`)
  for (const u of r.unknown) lines.push(`warning: rule not understood (treated as not matching): ${u}`)
  return `${lines.join('\n')}\n`
}

/** JSON for programs: verdict, endpoints with probabilities, masquerade, path. */
export function traceJSON(r: TraceResult): string {
  const out = {
    mode: r.mode,
    packet: r.packet,
    verdict: r.verdict,
    reason: r.reason,
    endpoints: r.endpoints.map((e) => ({ ip: e.ip, port: e.port, probability: e.probability, masquerade: e.masquerade, path: e.path })),
    masquerade: r.masquerade,
    affinity: r.affinity,
    path: r.path,
    unknown: r.unknown,
  }
  return `${JSON.stringify(out, null, 2)}\n`
}

/** Graphviz: the chains the packet traversed, one edge per step, branches labelled with their share. */
export function traceDot(r: TraceResult): string {
  const q = (s: string) => JSON.stringify(s)
  const ids = new Map<string, string>()
  const decl: string[] = []
  const edges = new Set<string>()
  const p = r.packet
  const node = (key: string, attrs: string) => {
    let id = ids.get(key)
    if (!id) {
      id = `n${ids.size}`
      ids.set(key, id)
      decl.push(`  ${id} [${attrs}];`)
    }
    return id
  }
  const start = node('start', `shape=box, style=rounded, label=${q(`${p.protocol} ${p.src} -> ${joinHostPort(p.dst, p.dport)} from ${p.from}`)}`)
  for (const leaf of r.leaves) {
    let prev = start
    for (const s of leaf.path) {
      const id = node(`${s.table}/${s.chain}`, `shape=box, label=${q(`${s.table}\n${s.chain}`)}`)
      edges.add(`  ${prev} -> ${id} [label=${q((s.comment ?? s.note ?? s.rule).slice(0, 80))}];`)
      prev = id
    }
    const end = leaf.verdict === 'forward' && leaf.endpoint ? `${joinHostPort(leaf.endpoint.ip, leaf.endpoint.port)}${leaf.masquerade ? ' (masquerade)' : ''}` : leaf.verdict.toUpperCase()
    const id = node(`end:${end}`, `shape=doubleoctagon, label=${q(end)}`)
    edges.add(`  ${prev} -> ${id} [label=${q(`${(leaf.probability * 100).toFixed(1)}%`)}];`)
  }
  return `digraph trace {\n  rankdir=LR;\n${decl.join('\n')}\n${[...edges].join('\n')}\n}\n`
}
