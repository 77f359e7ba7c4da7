import { Command, Option } from 'commander'
import { KproxcError, type ProxyMode, diffOutcomes, differenceContext, explainDifference, formatOutcome, frontendsOf, outcomeOf } from '@kproxc/core'
import type { IO } from '../io.js'
import { BACKENDS } from '../backends.js'
import { type ModelFlags, addModelOptions } from '../options.js'
import { collidingFrontends, probesFor } from '../probes.js'
import { tracerFor } from '../tracers.js'
import { loadModel } from './model.js'

interface CompareFlags extends ModelFlags {
  from: ProxyMode
  to: ProxyMode
  format: 'text' | 'json'
}

/** One frontend probe whose behaviour differs between the two modes. */
export interface ModeDelta {
  family: string
  probe: string
  from: string
  to: string
  reasons: { id: string; summary: string }[]
}

/** `kproxc compare`: every frontend whose behaviour differs between two modes, with the reason. */
export function compareCommand(io: IO): Command {
  const cmd = new Command('compare')
    .description('list every frontend of the cluster whose behaviour differs between two proxy modes, with the reason (a migration report)')
    .argument('[files...]', 'YAML or JSON inputs; - for stdin')
    .addOption(new Option('--from <mode>', 'mode migrated from').choices(['iptables', 'nftables', 'ipvs']).default('iptables'))
    .addOption(new Option('--to <mode>', 'mode migrated to').choices(['iptables', 'nftables', 'ipvs']).default('nftables'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
  addModelOptions(cmd)
  cmd.action(async (files: string[], flags: CompareFlags) => {
    if (flags.from === flags.to) throw new KproxcError('USAGE', '--from and --to name the same mode')
    const deltas = await compareModes(files, flags, io)
    if (flags.format === 'json') return io.stdout(`${JSON.stringify({ from: flags.from, to: flags.to, differences: deltas }, null, 2)}\n`)
    if (deltas.length === 0) return io.stdout(`no behavioural difference between ${flags.from} and ${flags.to} for this cluster\n`)
    const lines = [`${deltas.length} probe${deltas.length === 1 ? '' : 's'} behave differently in ${flags.from} and ${flags.to}:`]
    for (const d of deltas) {
      lines.push(`- ${d.probe}`, `    ${flags.from}: ${d.from}`, `    ${flags.to}: ${d.to}`)
      if (d.reasons.length === 0) lines.push('    reason: not in the differences table (a kproxc bug or a missing entry: please report)')
      for (const r of d.reasons) lines.push(`    reason [${r.id}]: ${r.summary}`)
    }
    io.stdout(`${lines.join('\n')}\n`)
  })
  return cmd
}

/** Traces every frontend of both modes' outputs and returns the probes whose outcomes differ. */
export async function compareModes(files: string[], flags: CompareFlags, io: IO): Promise<ModeDelta[]> {
  const side = async (mode: ProxyMode) => {
    const model = await loadModel(files, flags, io, mode)
    const backend = BACKENDS[mode]
    const options = Object.fromEntries(backend.options.map((o) => [o.key, o.default]))
    return { mode, model, tracers: new Map(model.families.map((fm) => [fm.family, tracerFor(mode, backend.emit(model, { family: fm.family, format: backend.formats[0] as string, options }))])) }
  }
  const a = await side(flags.from)
  const b = await side(flags.to)
  const out: ModeDelta[] = []
  for (const fa of a.model.families) {
    const fb = b.model.families.find((f) => f.family === fa.family)
    if (!fb) continue
    const ta = a.tracers.get(fa.family)
    const tb = b.tracers.get(fa.family)
    if (!ta || !tb) continue
    const colliding = new Set([...collidingFrontends(fa), ...collidingFrontends(fb)])
    for (const probe of probesFor(a.model, fa, { extraFrontends: frontendsOf(fb), otherPorts: true })) {
      const p = probe.packet
      if (colliding.has(`${p.dst}/${p.protocol}/${p.dport}`)) continue
      const ra = outcomeOf(ta(p))
      const rb = outcomeOf(tb(p))
      if (!diffOutcomes(ra, rb)) continue
      const reasons = explainDifference(
        differenceContext(a.mode, fa, a.model.config.masqueradeAll, p),
        differenceContext(b.mode, fb, b.model.config.masqueradeAll, p),
      )
      out.push({ family: fa.family, probe: probe.label, from: formatOutcome(ra), to: formatOutcome(rb), reasons: reasons.map((r) => ({ id: r.id, summary: r.summary })) })
    }
  }
  return out
}
