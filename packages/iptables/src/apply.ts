/**
 * The effectful half of iptables mode: programs the kernel of the network namespace this process
 * runs in, the way kube-proxy's sync does. The only file of the package that spawns processes; the
 * plan comes from apply-plan.ts. The process runner is injectable (dry runs record, tests prefix
 * `ip netns exec` or put fakes on PATH), and every tool is looked up on PATH.
 */
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Family, KproxcError, type ProxyModel } from '@kproxc/core'
import { compileRuleset } from './compile.js'
import { NFACCT } from './names.js'
import { readOptions } from './options.js'
import {
  type RestorePlan, type RestoreTarget, changedTables, parseSave, planRestore, restoreTarget, tableSnapshot, udpDnatTargets,
} from './apply-plan.js'

export * from './apply-plan.js'

/** One process to run. */
export interface Command {
  argv: readonly string[]
  stdin?: string
  /** False for commands that only read state: a dry run still runs those, since the plan depends on them. */
  mutates: boolean
}

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs one command; never throws for a failing process (127 when the tool is missing). */
export type Runner = (cmd: Command) => Promise<CommandResult>

export interface SpawnOptions {
  /** Argument vector put in front of every command, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  prefix?: readonly string[]
  /** Environment of the children (PATH decides which tools run); default this process's. */
  env?: Readonly<Record<string, string | undefined>>
  timeoutMs?: number
}

/** A runner that spawns the command (no shell), bounded in time. */
export function spawnRunner(options: SpawnOptions = {}): Runner {
  const prefix = options.prefix ?? []
  const timeout = options.timeoutMs ?? 120_000
  return (cmd) =>
    new Promise((resolve) => {
      const argv = [...prefix, ...cmd.argv]
      const input = stdinFile(cmd.stdin)
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: [input?.fd ?? 'ignore', 'pipe', 'pipe'], env: options.env as NodeJS.ProcessEnv | undefined })
      input?.close()
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
      child.stdout?.on('data', (d) => (stdout += d))
      child.stderr?.on('data', (d) => (stderr += d))
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout, stderr: e.code === 'ENOENT' ? 'command not found' : e.message })
      })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ code: code ?? 128, stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr })
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

/** A runner for --dry-run: reads go to `inner`, changes are only reported to `record` and succeed. */
export function dryRunner(inner: Runner, record: (cmd: Command) => void): Runner {
  return async (cmd) => {
    if (cmd.mutates) {
      record(cmd)
      return { code: 0, stdout: '', stderr: '' }
    }
    return inner(cmd)
  }
}

/** Which package provides a tool, for the "not installed" message. */
const PACKAGES: Readonly<Record<string, string>> = {
  'iptables-restore': 'iptables', 'iptables-save': 'iptables', 'ip6tables-restore': 'iptables', 'ip6tables-save': 'iptables',
  iptables: 'iptables', ip6tables: 'iptables', ipset: 'ipset', ipvsadm: 'ipvsadm', ip: 'iproute2', nft: 'nftables',
  conntrack: 'conntrack (conntrack-tools)', sysctl: 'procps',
}

const PRIVILEGE = /permission denied|operation not permitted|you must be root|must be run as root|can't initialize .*permission/i

/** The one-line explanation of a failed command: missing tool, missing privilege, or the tool's own stderr. */
export function commandError(cmd: Command, r: CommandResult): KproxcError {
  const tool = cmd.argv[0] ?? '?'
  if (r.code === 127) {
    return new KproxcError('APPLY_FAILED', `${tool} is not installed or not on PATH (install ${PACKAGES[tool] ?? tool})`)
  }
  const stderr = r.stderr.trim()
  if (PRIVILEGE.test(stderr)) {
    return new KproxcError('APPLY_FAILED', `${tool}: permission denied: run as root (CAP_NET_ADMIN) in the node's network namespace (${firstLine(stderr)})`)
  }
  return new KproxcError('APPLY_FAILED', `${cmd.argv.join(' ')} failed (exit ${r.code}):\n${stderr || r.stdout.trim()}`)
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? ''
}

/** Runs a command and throws the tool's error when it fails. */
export async function mustRun(runner: Runner, cmd: Command): Promise<string> {
  const r = await runner(cmd)
  if (r.code !== 0) throw commandError(cmd, r)
  return r.stdout
}

/** What each step did, for the CLI's summary. */
export interface ApplyReport {
  lines: string[]
}

/** Tool names of one family. */
export function iptablesTools(family: Family): { save: string; restore: string } {
  return family === 'IPv6' ? { save: 'ip6tables-save', restore: 'ip6tables-restore' } : { save: 'iptables-save', restore: 'iptables-restore' }
}

/** What a restore read and did. */
export interface RestoreResult {
  plan: RestorePlan
  /** iptables-save before the restore (the snapshot for rollback and for --conntrack). */
  before: string
}

/**
 * One family's restore: read `iptables-save`, plan, run `iptables-restore --noflush --wait` (the
 * xtables lock). iptables-restore commits table by table, so when a later table fails the earlier
 * one is already in; then every table that changed is put back from the snapshot, so a failure
 * never leaves half a ruleset.
 */
export async function applyRestore(target: RestoreTarget, runner: Runner): Promise<RestoreResult> {
  const tools = iptablesTools(target.family)
  const before = await mustRun(runner, { argv: [tools.save], mutates: false })
  const current = parseSave(before)
  const plan = planRestore(target, current)
  const cmd: Command = { argv: [tools.restore, '--noflush', '--wait'], stdin: plan.payload, mutates: true }
  const r = await runner(cmd)
  if (r.code === 0) return { plan, before }
  const error = commandError(cmd, r)
  const after = await runner({ argv: [tools.save], mutates: false })
  const changed = after.code === 0 ? changedTables(current, parseSave(after.stdout), plan.tables) : plan.tables
  for (const table of changed) {
    const snapshot = tableSnapshot(before, table)
    if (!snapshot) continue
    const back = await runner({ argv: [tools.restore, '--wait'], stdin: snapshot, mutates: true })
    if (back.code !== 0) {
      throw new KproxcError('APPLY_FAILED', `${error.message}\nrolling back the ${table} table also failed: ${back.stderr.trim()}`)
    }
  }
  throw new KproxcError('APPLY_FAILED', changed.length > 0 ? `${error.message}\n(the ${changed.join(' and ')} table was restored to its previous rules)` : error.message)
}

/** What `applyIptables` needs besides the model. */
export interface ApplyOptions {
  /** Families to program, each with its own tools; default every family of the model. */
  families?: readonly Family[]
  /** The backend's own options (as for `emit`). */
  options?: Readonly<Record<string, string | boolean | undefined>>
  runner?: Runner
  /** Delete conntrack entries of UDP endpoints the update removed (kube-proxy's stale-UDP cleanup). */
  conntrack?: boolean
}

/**
 * Programs iptables mode: per family one atomic restore of kube-proxy's chains (stale service chains
 * deleted in it, built-in jumps ensured once), then, with `conntrack`, the UDP flows to endpoints
 * that were DNAT targets before and are not any more are deleted, as kube-proxy does after a sync.
 */
export async function applyIptables(model: ProxyModel, opts: ApplyOptions = {}): Promise<ApplyReport> {
  const runner = opts.runner ?? spawnRunner()
  const options = readOptions(opts.options)
  const lines: string[] = []
  for (const fam of model.families) {
    if (opts.families && !opts.families.includes(fam.family)) continue
    const target = restoreTarget(compileRuleset(model, fam.family, options))
    const counters = Object.values(NFACCT).filter((n) => target.tables.some((t) => t.rules.some((r) => r.includes(`--nfacct-name ${n}`))))
    const { plan, before } = await ensureCounters(counters, runner).then(() => applyRestore(target, runner)).catch((e: unknown) => {
      // A rule naming a missing nfacct counter fails with this kernel error and nothing more specific.
      if (counters.length > 0 && e instanceof KproxcError && /RULE_APPEND failed \(No such file or directory\)/.test(e.message)) {
        throw new KproxcError('APPLY_FAILED', `${e.message}\n(the rules count into nfacct objects ${counters.join(', ')}, which kube-proxy creates: install nfacct so kproxc can create them, or pass --no-nfacct)`)
      }
      throw e
    })
    lines.push(restoreSummary(plan))
    if (opts.conntrack) {
      const removed = [...udpDnatTargets(before)].filter((e) => !udpDnatTargets(plan.payload).has(e)).sort()
      lines.push(...(await clearUdpConntrack(removed, runner)))
    }
  }
  return { lines }
}

/**
 * Applies a delta from `deltaRestore` (kube-proxy's partial sync): one `iptables-restore --noflush`
 * that rewrites only the chains it names and deletes the stale ones. The state it starts from must be
 * the one the delta was computed against (a previous full apply and the deltas since); a failure is
 * the caller's cue for a full apply, which repairs whatever a half-committed restore left.
 */
export async function applyIptablesDelta(text: string, family: Family, runner: Runner = spawnRunner()): Promise<ApplyReport> {
  if (text === '') return { lines: [] }
  const tools = iptablesTools(family)
  await mustRun(runner, { argv: [tools.restore, '--noflush', '--wait'], stdin: text, mutates: true })
  const lines = text.split('\n')
  const chains = lines.filter((l) => l.startsWith(':')).length
  const deleted = lines.filter((l) => l.startsWith('-X ')).length
  const rules = lines.filter((l) => l.startsWith('-A ')).length
  return { lines: [`${family === 'IPv6' ? 'ip6tables' : 'iptables'} (partial): ${chains - deleted} chains and ${rules} rules rewritten${deleted > 0 ? `, ${deleted} stale chains deleted` : ''}`] }
}

/**
 * Creates the nfacct objects the rules count into, as kube-proxy does at a full sync (an existing
 * one is fine). Without the nfacct tool the restore decides: it fails only if they are missing.
 */
async function ensureCounters(names: readonly string[], runner: Runner): Promise<void> {
  for (const name of names) {
    const cmd: Command = { argv: ['nfacct', 'add', name], mutates: true }
    const r = await runner(cmd)
    if (r.code === 127) return
    if (r.code !== 0 && !/exists/i.test(r.stderr)) throw commandError(cmd, r)
  }
}

/** One line about a restore. */
export function restoreSummary(plan: RestorePlan): string {
  const parts = [`${plan.chainsWritten} chains and ${plan.rulesWritten} rules written`]
  if (plan.chainsDeleted.length > 0) parts.push(`${plan.chainsDeleted.length} stale chains deleted`)
  if (plan.jumpsAdded.length > 0) parts.push(`${plan.jumpsAdded.length} jumps from built-in chains added`)
  if (plan.chainsEnsured.length > 0) parts.push(`created ${plan.chainsEnsured.join(', ')}`)
  return `${plan.family === 'IPv6' ? 'ip6tables' : 'iptables'}: ${parts.join(', ')}`
}

/** `ip:port` / `[ip]:port` split. */
export function splitEndpoint(endpoint: string): { ip: string; port: string } {
  const m = /^\[(.+)\]:(\d+)$/.exec(endpoint) ?? /^(.+):(\d+)$/.exec(endpoint)
  return { ip: m?.[1] ?? endpoint, port: m?.[2] ?? '' }
}

/**
 * Deletes the conntrack entries of UDP flows that were DNATed to each removed endpoint
 * (conntrack-tools' `--dst-nat` is kube-proxy's old `ClearEntriesForNAT`; the reply source port keeps
 * other ports of the same pod untouched). conntrack exits 1 when nothing matched; that is success.
 */
export async function clearUdpConntrack(endpoints: readonly string[], runner: Runner): Promise<string[]> {
  const lines: string[] = []
  for (const e of endpoints) {
    const { ip, port } = splitEndpoint(e)
    // conntrack filters IPv4 unless told otherwise.
    const family = ip.includes(':') ? ['-f', 'ipv6'] : []
    const cmd: Command = { argv: ['conntrack', '-D', ...family, '-p', 'udp', '--dst-nat', ip, '--reply-port-src', port], mutates: true }
    const r = await runner(cmd)
    if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) throw commandError(cmd, r)
    const n = /(\d+) flow entries/.exec(r.stderr)?.[1]
    lines.push(`conntrack: UDP flows to removed endpoint ${e}${n === undefined ? '' : `: ${n} deleted`}`)
  }
  return lines
}
