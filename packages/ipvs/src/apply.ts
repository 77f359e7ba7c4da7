/**
 * The effectful half of IPVS mode: programs the network namespace this process runs in, in
 * kube-proxy's order (reference ipvs.md §7.3): sysctls, kube-ipvs0, ipsets, virtual servers, VIP
 * addresses, the companion iptables rules (one restore, shared with iptables mode), then stale
 * addresses and virtual servers. The only file of the package that spawns processes; every step
 * is planned by apply-plan.ts against what the kernel reports, so a second apply changes nothing.
 */
import { type Family, type OutputFile, type ProxyModel, KproxcError } from '@kproxc/core'
import {
  type ApplyReport, type Command, type RestoreTarget, type Runner, applyRestore, clearUdpConntrack, commandError, mustRun, restoreSummary, spawnRunner,
} from '@kproxc/iptables/apply'
import { compileIpvs } from './compile.js'
import { DELTA_FILES } from './delta.js'
import type { IptablesTable, IpvsRuleset } from './ir.js'
import { IPTABLES_OPTIONS, readIptablesOptions } from './iptables-shared.js'
import { loadIpvsadmRules } from './load-ipvsadm.js'
import { type LiveRealServers, loadIpvsadmList } from './load-ipvsadm-list.js'
import { DUMMY_DEVICE } from './names.js'
import { ruleLine } from './render-iptables.js'
import {
  parseDeviceAddresses, parseIpsetSave, planAddresses, planIpsets, planIpvsadm, planIpvsDelta, planSysctls, udpRealServers,
} from './apply-plan.js'

export * from './apply-plan.js'
export { dryRunner, spawnRunner, type ApplyReport, type Command, type CommandResult, type Runner } from '@kproxc/iptables/apply'

/** What `applyIpvs` needs besides the model. */
export interface ApplyOptions {
  families?: readonly ('IPv4' | 'IPv6')[]
  /** The backend's own options (as for `emit`: scheduler, randomFully, builtinJumps). */
  options?: Readonly<Record<string, string | boolean | undefined>>
  runner?: Runner
  /** Delete conntrack entries of UDP real servers the update removed. */
  conntrack?: boolean
}

/** IPVS mode's iptables part as a restore target: fixed chains only, so nothing is ever stale. */
export function ipvsRestoreTarget(ir: IpvsRuleset): RestoreTarget {
  const table = (name: 'nat' | 'filter', t: IptablesTable) => ({
    table: name,
    chains: t.chains,
    rules: t.rules.map(ruleLine),
    ensureChains: [],
    jumps: t.builtin.map(ruleLine),
  })
  return { family: ir.family, tables: [table('nat', ir.iptables.nat), table('filter', ir.iptables.filter)], staleChain: () => false }
}

const ipvsadmRead: Command = { argv: ['ipvsadm', '-S', '-n'], mutates: false }

/** Runs `ipvsadm -R` and fails on any error line: ipvsadm -R keeps going after a kernel error and exits with the last line's status. */
async function ipvsadmRestore(runner: Runner, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return
  const cmd: Command = { argv: ['ipvsadm', '-R'], stdin: lines.map((l) => `${l}\n`).join(''), mutates: true }
  const r = await runner(cmd)
  if (r.code !== 0 || r.stderr.trim() !== '') {
    throw new KproxcError('APPLY_FAILED', `ipvsadm -R failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`)
  }
}

async function readIpvsadm(runner: Runner) {
  const text = await mustRun(runner, ipvsadmRead)
  try {
    return loadIpvsadmRules(text)
  } catch (e) {
    throw new KproxcError('APPLY_FAILED', `cannot read the current virtual servers from ipvsadm -S -n: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Live connection counts (`ipvsadm -L -n`), read in dry runs too: they decide between delete and drain. */
async function readLiveRealServers(runner: Runner): Promise<LiveRealServers> {
  return loadIpvsadmList(await mustRun(runner, { argv: ['ipvsadm', '-L', '-n'], mutates: false }))
}

/** Makes sure kube-ipvs0 exists (a dummy link, left down, as kube-proxy leaves it). */
async function ensureDevice(runner: Runner): Promise<string> {
  const show = await runner({ argv: ['ip', '-o', 'addr', 'show', 'dev', DUMMY_DEVICE], mutates: false })
  if (show.code === 0) return show.stdout
  if (show.code === 127) throw commandError({ argv: ['ip'], mutates: false }, show)
  await mustRun(runner, { argv: ['ip', 'link', 'add', DUMMY_DEVICE, 'type', 'dummy'], mutates: true })
  return ''
}

async function readSysctl(runner: Runner, key: string): Promise<string> {
  const cmd: Command = { argv: ['sysctl', '-n', key.replaceAll('/', '.')], mutates: false }
  const r = await runner(cmd)
  if (r.code === 0) return r.stdout.trim()
  if (key.startsWith('net/ipv4/vs/') && r.code !== 127 && /no such file|cannot stat|unknown key/i.test(r.stderr)) {
    throw new KproxcError('APPLY_FAILED', `IPVS is not available in this kernel (${key.replaceAll('/', '.')} does not exist): load the ip_vs module (modprobe ip_vs)`)
  }
  throw commandError(cmd, r)
}

async function ipBatch(runner: Runner, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return
  await mustRun(runner, { argv: ['ip', '-batch', '-'], stdin: lines.map((l) => `${l}\n`).join(''), mutates: true })
}

/**
 * Programs IPVS mode for each family of the model. Every kernel object is diffed, never cleared:
 * virtual servers with ipvsadm add/edit/delete lines, ipset members swapped in atomically, the
 * iptables chains in one restore (rolled back if it fails), addresses added before and removed after
 * the rules change. A failing step stops the apply with the tool's stderr; steps already done stay,
 * as in a failed kube-proxy sync, and the next apply completes them.
 */
export async function applyIpvs(model: ProxyModel, opts: ApplyOptions = {}): Promise<ApplyReport> {
  const runner = opts.runner ?? spawnRunner()
  const lines: string[] = []
  const { scheduler } = opts.options ?? {}
  const { randomFully, builtinJumps } = readIptablesOptions(Object.fromEntries(
    IPTABLES_OPTIONS.filter((o) => o.key === 'randomFully' || o.key === 'builtinJumps').map((o) => [o.key, opts.options?.[o.key]]),
  ))
  for (const fam of model.families) {
    if (opts.families && !opts.families.includes(fam.family)) continue
    const ir = compileIpvs(model, { family: fam.family, randomFully, builtinJumps, ...(typeof scheduler === 'string' && scheduler ? { scheduler } : {}) })
    const tag = fam.family === 'IPv6' ? 'ipvs (IPv6)' : 'ipvs (IPv4)'

    // 1. Sysctls, only where they differ.
    const current = new Map<string, string>()
    for (const s of ir.sysctls) current.set(s.key, await readSysctl(runner, s.key))
    const sysctls = planSysctls(ir.sysctls, current)
    for (const kv of sysctls) await mustRun(runner, { argv: ['sysctl', '-w', kv], mutates: true })

    // 2. kube-ipvs0, 3. ipsets.
    const deviceText = await ensureDevice(runner)
    const sets = planIpsets(ir.ipsets, parseIpsetSave(await mustRun(runner, { argv: ['ipset', 'save'], mutates: false })), fam.family)
    if (sets.restore !== '') await mustRun(runner, { argv: ['ipset', 'restore'], stdin: sets.restore, mutates: true })

    // 4. Virtual and real servers (additions, edits, removed real servers deleted or drained).
    const before = await readIpvsadm(runner)
    const vs = planIpvsadm(ir, before, model.config.ipvs.excludeCIDRs, await readLiveRealServers(runner))
    await ipvsadmRestore(runner, vs.before)

    // 5. VIP addresses, 6. the iptables rules, 7. stale addresses, 8. stale virtual servers.
    const addrs = planAddresses(ir.boundAddresses, parseDeviceAddresses(deviceText, fam.family))
    await ipBatch(runner, addrs.add)
    const { plan } = await applyRestore(ipvsRestoreTarget(ir), runner)
    await ipBatch(runner, addrs.remove)
    await ipvsadmRestore(runner, vs.after)

    const c = vs.counts
    lines.push(
      `${tag}: ${sysctls.length} sysctls set; ${sets.created.length} ipsets created, ${sets.swapped.length} swapped; ` +
        `virtual servers +${c.added} ~${c.edited} -${c.deleted}, real servers +${c.realAdded} ~${c.realEdited} -${c.realDeleted}, ${c.realDraining} draining; ` +
        `${DUMMY_DEVICE} addresses +${addrs.add.length} -${addrs.remove.length}`,
      restoreSummary(plan),
    )
    if (opts.conntrack) {
      const wanted = udpRealServers(ir.virtualServers)
      const removed = [...udpRealServers(before.services.filter((s) => s.family === fam.family))].filter((e) => !wanted.has(e)).sort()
      lines.push(...(await clearUdpConntrack(removed, runner)))
    }
  }
  return { lines }
}

/**
 * Applies a delta bundle from `deltaIpvsParts` (kube-proxy's partial sync) to a node programmed by
 * `applyIpvs` and the deltas since: each step as `planIpvsDelta` orders it, stopping at the first
 * failure (the caller then falls back to a full apply, which converges from whatever was done).
 * Removed TCP real servers with connections are drained at weight 0; the next full apply deletes them
 * once idle.
 */
export async function applyIpvsDelta(files: readonly OutputFile[], family: Family, runner: Runner = spawnRunner()): Promise<ApplyReport> {
  const touchesServers = files.some((f) => f.name === DELTA_FILES.ipvsadm && f.content.trim() !== '')
  const steps = planIpvsDelta(files, family, touchesServers ? await readLiveRealServers(runner) : new Map())
  for (const step of steps) {
    if (step.argv[0] === 'ipvsadm') await ipvsadmRestore(runner, step.stdin.split('\n').filter((l) => l !== ''))
    else await mustRun(runner, { argv: step.argv, ...(step.stdin ? { stdin: step.stdin } : {}), mutates: true })
  }
  const tools = [...new Set(steps.map((s) => s.argv[0]))]
  const draining = steps.reduce((n, s) => n + (s.draining ?? 0), 0)
  return { lines: [`ipvs (${family}, partial): ${steps.length} steps${tools.length > 0 ? ` (${tools.join(', ')})` : ''}${draining > 0 ? `; ${draining} real servers draining` : ''}`] }
}
