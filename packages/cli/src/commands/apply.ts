import { Command, Option } from 'commander'
import { type Family, KproxcError, type OutputFile, type ProxyMode, type ProxyModel } from '@kproxc/core'
import { type ApplyReport, type Command as ToolCommand, type Runner, dryRunner, spawnRunner } from '@kproxc/iptables/apply'
import { applyIptables, applyIptablesDelta } from '@kproxc/iptables/apply'
import { applyIpvs, applyIpvsDelta } from '@kproxc/ipvs/apply'
import { applyNftables, applyNftablesDelta } from '@kproxc/nftables/apply'
import type { IO } from '../io.js'
import { type ModelFlags, addBackendOptions, addModelOptions, familyFlag } from '../options.js'
import { BACKENDS } from '../backends.js'
import { loadModel } from './model.js'
import { withProgress } from '../progress.js'

interface ApplyFlags extends ModelFlags {
  dryRun?: boolean
  conntrack?: boolean
  [key: string]: unknown
}

/** What every backend's apply module offers, by mode. */
interface ApplyRequest {
  families?: readonly Family[]
  options?: Readonly<Record<string, string | boolean | undefined>>
  runner?: Runner
  conntrack?: boolean
}

/** The appliers, by mode (each backend's `./apply` subpath). */
export const APPLIERS: Record<ProxyMode, (model: ProxyModel, request: ApplyRequest) => Promise<ApplyReport>> = {
  iptables: applyIptables,
  nftables: applyNftables,
  ipvs: applyIpvs,
}

/**
 * The partial-sync appliers, by mode: each takes the delta files a SyncSession printed (which
 * start from the state of the previous apply) and programs only those changes.
 */
export const DELTA_APPLIERS: Record<ProxyMode, (files: readonly OutputFile[], family: Family, format: string, runner: Runner) => Promise<ApplyReport>> = {
  iptables: (files, family, _format, runner) => applyIptablesDelta(files.map((f) => f.content).join(''), family, runner),
  nftables: (files, _family, format, runner) => applyNftablesDelta(files.map((f) => f.content).join(''), format === 'text' ? 'text' : 'json', runner),
  ipvs: (files, family, _format, runner) => applyIpvsDelta(files, family, runner),
}

/** A heredoc delimiter that no payload line equals. */
function delimiter(stdin: string): string {
  let d = 'KPROXC'
  for (let i = 0; i < 100 && stdin.split('\n').includes(d); i++) d = `KPROXC_${i}`
  return d
}

const shellWord = (w: string) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)

/** One recorded command as shell text: the command line, its input as a quoted heredoc. */
export function formatCommand(cmd: ToolCommand): string {
  const line = cmd.argv.map(shellWord).join(' ')
  if (cmd.stdin === undefined || cmd.stdin === '') return `${line}\n`
  const d = delimiter(cmd.stdin)
  return `${line} <<'${d}'\n${cmd.stdin}${cmd.stdin.endsWith('\n') ? '' : '\n'}${d}\n`
}

/** `kproxc apply`: compile, then program the kernel of the current network namespace. */
export function applyCommand(io: IO, runnerFor: (io: IO) => Runner = (x) => spawnRunner({ env: x.env })): Command {
  const cmd = new Command('apply')
    .description('compile, then program the kernel of the network namespace kproxc runs in, as kube-proxy\'s sync would (run as root; wrap in ip netns exec for another namespace)')
    .argument('[files...]', 'YAML or JSON inputs; - for stdin')
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(Object.keys(BACKENDS)).makeOptionMandatory())
    .option('--dry-run', 'print the exact commands and payloads (reads still run, so the plan is exact) and change nothing')
    .option('--conntrack', 'after the update, delete conntrack entries of UDP endpoints it removed (those the kernel DNATs to now and the new ruleset does not)')
  addModelOptions(cmd)
  addBackendOptions(cmd)
  cmd.action(async (files: string[], flags: ApplyFlags) => {
    const mode = flags.mode as ProxyMode
    const backend = BACKENDS[mode]
    // Every family the node has, unless --ip-family picks one (kube-proxy programs both on dual-stack nodes).
    const report = await withProgress(io, async (p) => {
      const model = await loadModel(files, flags, io, mode, undefined, p)
      const family = familyFlag(flags.ipFamily)
      if (model.families.length === 0) throw new KproxcError('USAGE', 'the model has no IP family to apply')
      const options = Object.fromEntries(backend.options.map((o) => [o.key, flags[o.key] as string | boolean | undefined]))
      const real = runnerFor(io)
      // A dry run prints its commands on stdout: the progress line is erased before each.
      const runner = flags.dryRun ? dryRunner(real, (c) => { p.done(); io.stdout(formatCommand(c)) }) : real
      p.phase(`${flags.dryRun ? 'planning' : 'applying'} ${model.families.map((f) => f.servicePorts.length).reduce((a, b) => a + b, 0)} service ports in ${mode} mode`)
      return APPLIERS[mode](model, { ...(family ? { families: [family] } : {}), options, runner, conntrack: Boolean(flags.conntrack) })
    })
    const out = flags.dryRun ? io.stderr : io.stdout
    for (const line of report.lines) out(`${flags.dryRun ? '# dry run, would do: ' : ''}${line}\n`)
  })
  return cmd
}
