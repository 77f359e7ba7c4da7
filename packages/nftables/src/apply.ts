/**
 * The effectful half of nftables mode: reads each family's `kube-proxy` table (`nft -j list`),
 * then one `nft -j -f -` transaction that creates the missing tables and brings the existing ones
 * to the compiled state in place, keeping ClientIP-affinity entries (kube-proxy's one transaction
 * per sync, reference nftables.md §10). nft applies a file all or nothing, so a failure leaves the
 * previous tables in place; tables of other programs are never named. The only file of the package
 * that spawns processes.
 */
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Family, KproxcError, type ProxyModel } from '@kproxc/core'
import { compile } from './compile.js'
import { parseServiceCIDROption } from './index.js'
import { type ApplyPlan, type FamilyPlan, planApply, staleChainDeletes, udpDnatTargets } from './apply-plan.js'
import { TABLE } from './names.js'

export * from './apply-plan.js'

/** One process to run (the same shape as @kproxc/iptables/apply, so one runner serves every backend). */
export interface Command {
  argv: readonly string[]
  stdin?: string
  /** False for reads, which a dry run still performs. */
  mutates: boolean
}

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs one command; never throws for a failing process (127 when the tool is missing). */
export type Runner = (cmd: Command) => Promise<CommandResult>

/** What each step did, for the CLI's summary. */
export interface ApplyReport {
  lines: string[]
}

/** Spawns without a shell; tools are found on PATH. */
export function spawnRunner(options: { prefix?: readonly string[]; env?: Readonly<Record<string, string | undefined>> } = {}): Runner {
  const prefix = options.prefix ?? []
  return (cmd) =>
    new Promise((resolve) => {
      const argv = [...prefix, ...cmd.argv]
      const input = stdinFile(cmd.stdin)
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: [input?.fd ?? 'ignore', 'pipe', 'pipe'], env: options.env as NodeJS.ProcessEnv | undefined })
      input?.close()
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.stdout?.on('data', (d) => (stdout += d))
      child.stderr?.on('data', (d) => (stderr += d))
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout, stderr: e.code === 'ENOENT' ? 'command not found' : e.message })
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code: code ?? 128, stdout, stderr })
      })
    })
}

/**
 * The input of a command as an open file: nft opens /dev/stdin, which fails (ENXIO) on the
 * socketpair Node uses for child pipes, so every payload is handed over as a regular file. The
 * file is unlinked as soon as the child holds it.
 */
function stdinFile(text: string | undefined): { fd: number; close: () => void } | undefined {
  if (text === undefined) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'kproxc-apply-'))
  const path = join(dir, 'stdin')
  writeFileSync(path, text, { mode: 0o600 })
  const fd = openSync(path, 'r')
  return {
    fd,
    close: () => {
      closeSync(fd)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function fail(cmd: Command, r: CommandResult): KproxcError {
  const tool = cmd.argv[0] ?? '?'
  if (r.code === 127) return new KproxcError('APPLY_FAILED', `${tool} is not installed or not on PATH (install ${tool === 'nft' ? 'nftables' : tool === 'conntrack' ? 'conntrack (conntrack-tools)' : tool})`)
  const stderr = r.stderr.trim()
  if (/operation not permitted|permission denied/i.test(stderr)) {
    return new KproxcError('APPLY_FAILED', `${tool}: permission denied: run as root (CAP_NET_ADMIN) in the node's network namespace (${stderr.split('\n')[0]})`)
  }
  return new KproxcError('APPLY_FAILED', `${cmd.argv.join(' ')} failed (exit ${r.code}):\n${stderr || r.stdout.trim()}`)
}

/** What `applyNftables` needs besides the model. */
export interface ApplyOptions {
  families?: readonly Family[]
  /** The backend's own options (serviceCidr). */
  options?: Readonly<Record<string, string | boolean | undefined>>
  runner?: Runner
  /** Delete conntrack entries of UDP endpoints the update removed. */
  conntrack?: boolean
}

const NFT_FAMILY: Record<Family, string> = { IPv4: 'ip', IPv6: 'ip6' }

/**
 * The kube-proxy table of one family as `nft -j list` prints it; null when there is none. A read,
 * so dry runs perform it too and print the transaction a real run would send.
 */
async function listTable(runner: Runner, family: Family): Promise<unknown> {
  const cmd: Command = { argv: ['nft', '-j', 'list', 'table', NFT_FAMILY[family], TABLE], mutates: false }
  const r = await runner(cmd)
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null
    throw fail(cmd, r)
  }
  // An nft that lists nothing at all (a recording fake) has no table to keep.
  if (r.stdout.trim() === '') return null
  try {
    return JSON.parse(r.stdout)
  } catch (e) {
    throw new KproxcError('APPLY_FAILED', `${cmd.argv.join(' ')} printed no JSON listing (${(e as Error).message})`)
  }
}

/** kube-proxy's pause before deleting chains it flushed (proxier.go: stale for more than 1 s). */
const STALE_CHAIN_DELAY_MS = 1000

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** The report lines of an applied plan. */
function describePlan(plan: ApplyPlan, deferred: boolean): string[] {
  const c = plan.counts
  const counts = `(${c.chains} chains, ${c.rules} rules, ${c.sets} sets/maps, ${c.elements} elements)`
  const label = (f: FamilyPlan) => `table ${f.family} ${f.table}`
  if (plan.families.every((f) => f.kind === 'replace')) {
    return [`nftables: replaced ${plan.families.map(label).join(' and ')} in one transaction ${counts}`]
  }
  const lines = [`nftables: ${plan.families.map((f) => (f.kind === 'replace' ? `replaced ${label(f)}` : `updated ${label(f)} in place`)).join(' and ')} in one transaction ${counts}`]
  for (const f of plan.families) {
    if (f.kind !== 'in-place') continue
    const s = f.summary
    const parts = [
      `read first (${plural(f.listed.chains.size, 'chain')}, ${plural(f.listed.sets.size, 'set/map', 'sets/maps')})`,
      `${plural(s.keptAffinitySets, 'affinity set')} kept with ${plural(s.keptAffinityElements, 'client entry', 'client entries')}`,
    ]
    if (s.recreatedSets.length > 0) parts.push(`${plural(s.recreatedSets.length, 'set')} re-created for a new spec`)
    if (s.recreatedBaseChains.length > 0) parts.push(`${plural(s.recreatedBaseChains.length, 'base chain')} re-created`)
    if (s.staleChains.length > 0) parts.push(`${plural(s.staleChains.length, 'stale chain')} ${deferred ? 'flushed' : 'deleted'}`)
    if (s.staleSets.length > 0) parts.push(`${plural(s.staleSets.length, 'stale set/map', 'stale sets/maps')} deleted`)
    lines.push(`nftables: ${label(f)} ${parts.join('; ')}`)
  }
  return lines
}

/**
 * Programs nftables mode in one transaction for every family: a table the kernel lacks is created
 * whole; an existing one gets kube-proxy's full sync in place (apply-full.ts), which keeps the
 * ClientIP-affinity sets and their entries. A kernel before 6.2 refuses to delete a chain in the
 * transaction that removed its last map reference (EBUSY); then the transaction is sent again with
 * stale chains only flushed, and they are deleted in a second one a second later. With
 * `conntrack`, the UDP endpoints the old tables DNATed to and the new ones do not get their flows
 * deleted afterwards (`conntrack -D`, kube-proxy's stale-UDP cleanup).
 */
export async function applyNftables(model: ProxyModel, opts: ApplyOptions = {}): Promise<ApplyReport> {
  const runner = opts.runner ?? spawnRunner()
  const fams = model.families.filter((f) => !opts.families || opts.families.includes(f.family))
  const serviceCIDRs = parseServiceCIDROption(opts.options?.serviceCidr)
  const rulesets = fams.map((f) => compile(model, { family: f.family, serviceCIDRs }))
  const listings: unknown[] = []
  for (const f of fams) listings.push(await listTable(runner, f.family))
  let plan = planApply(rulesets, listings)
  const send = (payload: string): Command => ({ argv: ['nft', '-j', '-f', '-'], stdin: payload, mutates: true })
  let cmd = send(plan.payload)
  let r = await runner(cmd)
  let deferred = false
  if (r.code !== 0 && /Device or resource busy/.test(r.stderr) && plan.families.some((f) => f.kind === 'in-place' && f.summary.staleChains.length > 0)) {
    plan = planApply(rulesets, listings, { deferStaleChains: true })
    deferred = true
    cmd = send(plan.payload)
    r = await runner(cmd)
  }
  if (r.code !== 0) throw fail(cmd, r)
  const lines = describePlan(plan, deferred)
  if (deferred) {
    await new Promise((done) => setTimeout(done, STALE_CHAIN_DELAY_MS))
    const del = send(staleChainDeletes(plan))
    const d = await runner(del)
    // Left flushed, the chains are harmless; the next full apply finds them stale again.
    lines.push(d.code === 0 ? 'nftables: stale chains deleted in a second transaction' : `nftables: stale chains left flushed, not deleted: ${d.stderr.trim().split('\n')[0]}`)
  }
  if (opts.conntrack) {
    const before = new Set<string>()
    for (const doc of listings) for (const e of udpDnatTargets(doc)) before.add(e)
    const after = udpDnatTargets(JSON.parse(plan.payload))
    for (const e of [...before].filter((x) => !after.has(x)).sort()) {
      const m = /^\[(.+)\]:(\d+)$/.exec(e) ?? /^(.+):(\d+)$/.exec(e)
      const ip = m?.[1] ?? e
      // conntrack filters IPv4 unless told otherwise.
      const del: Command = { argv: ['conntrack', '-D', ...(ip.includes(':') ? ['-f', 'ipv6'] : []), '-p', 'udp', '--dst-nat', ip, '--reply-port-src', m?.[2] ?? ''], mutates: true }
      const d = await runner(del)
      if (d.code !== 0 && !/0 flow entries/.test(d.stderr)) throw fail(del, d)
      const n = /(\d+) flow entries/.exec(d.stderr)?.[1]
      lines.push(`conntrack: UDP flows to removed endpoint ${e}${n === undefined ? '' : `: ${n} deleted`}`)
    }
  }
  return { lines }
}

/**
 * Applies a delta from `deltaTransaction` (kube-proxy's partial sync), rendered as JSON or nft text,
 * in one atomic transaction. It must start from the state it was computed against (the previous full
 * apply and the deltas since); on failure nothing changed, and the caller falls back to a full apply.
 * Stale chains are deleted in the same transaction, which needs Linux 6.2 or later.
 */
export async function applyNftablesDelta(content: string, format: 'json' | 'text', runner: Runner = spawnRunner()): Promise<ApplyReport> {
  if (content === '') return { lines: [] }
  const cmd: Command = { argv: format === 'json' ? ['nft', '-j', '-f', '-'] : ['nft', '-f', '-'], stdin: content, mutates: true }
  const r = await runner(cmd)
  if (r.code !== 0) throw fail(cmd, r)
  const ops = format === 'json' ? ((JSON.parse(content) as { nftables?: unknown[] }).nftables?.length ?? 0) : content.split('\n').filter((l) => l.trim() !== '').length
  return { lines: [`nftables (partial): ${ops} ${format === 'json' ? 'operations' : 'commands'} in one transaction`] }
}
