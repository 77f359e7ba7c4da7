/**
 * The effectful half of nftables mode: one `nft -j -f -` transaction that replaces the `kube-proxy`
 * table of every family at once (kube-proxy's one transaction per sync, reference nftables.md §10).
 * nft applies a file all or nothing, so a failure leaves the previous tables in place; tables of
 * other programs are never named. The only file of the package that spawns processes.
 */
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Family, KproxcError, type ProxyModel } from '@kproxc/core'
import { compile } from './compile.js'
import { parseServiceCIDROption } from './index.js'
import { planTransaction, udpDnatTargets } from './apply-plan.js'
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

/** The kube-proxy table of one family as `nft -j list` prints it; null when there is none. */
async function listTable(runner: Runner, family: Family): Promise<unknown> {
  const cmd: Command = { argv: ['nft', '-j', 'list', 'table', NFT_FAMILY[family], TABLE], mutates: false }
  const r = await runner(cmd)
  if (r.code === 0) return JSON.parse(r.stdout)
  if (/No such file or directory/.test(r.stderr)) return null
  throw fail(cmd, r)
}

/**
 * Programs nftables mode: every family's kube-proxy table replaced in one transaction. With
 * `conntrack`, the UDP endpoints the old tables DNATed to and the new ones do not get their flows
 * deleted afterwards (`conntrack -D`, kube-proxy's stale-UDP cleanup).
 */
export async function applyNftables(model: ProxyModel, opts: ApplyOptions = {}): Promise<ApplyReport> {
  const runner = opts.runner ?? spawnRunner()
  const fams = model.families.filter((f) => !opts.families || opts.families.includes(f.family))
  const serviceCIDRs = parseServiceCIDROption(opts.options?.serviceCidr)
  const rulesets = fams.map((f) => compile(model, { family: f.family, serviceCIDRs }))
  const plan = planTransaction(rulesets)
  const before = new Set<string>()
  if (opts.conntrack) for (const f of fams) for (const e of udpDnatTargets(await listTable(runner, f.family))) before.add(e)
  const cmd: Command = { argv: ['nft', '-j', '-f', '-'], stdin: plan.payload, mutates: true }
  const r = await runner(cmd)
  if (r.code !== 0) throw fail(cmd, r)
  const c = plan.counts
  const lines = [`nftables: replaced ${plan.tables.map((t) => `table ${t}`).join(' and ')} in one transaction (${c.chains} chains, ${c.rules} rules, ${c.sets} sets/maps, ${c.elements} elements)`]
  if (opts.conntrack) {
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
