/**
 * Equivalence of the three modes: for random clusters (test/arbitraries.ts, every Service feature of
 * the core) and packets to every frontend from local pods, hairpinning endpoints, the node and external
 * sources inside and outside source ranges, tracing each backend's real output gives the model's
 * verdict with that mode's entries of MODE_DIFFERENCES applied: same endpoints with equal shares,
 * same DROP/REJECT, same masquerade decision per endpoint. No rule may be left uninterpreted.
 */
import fc from 'fast-check'
import { type ProxyMode, buildModel, diffOutcomes, expectedOutcome, formatOutcome, outcomeOf } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { BACKENDS } from './backends.js'
import { collidingFrontends, probesFor } from './probes.js'
import { tracerFor } from './tracers.js'

const MODES: ProxyMode[] = ['iptables', 'nftables', 'ipvs']
const NUM_RUNS = Number(process.env.KPROXC_TRACE_RUNS ?? 100)

/** Every disagreement between traced outputs and the expected outcomes of one cluster. */
function disagreements(objects: Parameters<typeof buildModel>[0]): string[] {
  const problems: string[] = []
  for (const mode of MODES) {
    const backend = BACKENDS[mode]
    const model = buildModel(objects, { mode, nodeName: 'n1', families: ['IPv4', 'IPv6'] })
    const options = Object.fromEntries(backend.options.map((o) => [o.key, o.default]))
    for (const fm of model.families) {
      const formats = mode === 'nftables' ? ['json', 'text'] : [backend.formats[0] as string]
      for (const format of formats) {
        const trace = tracerFor(mode, backend.emit(model, { family: fm.family, format, options }))
        const colliding = collidingFrontends(fm)
        for (const probe of probesFor(model, fm, { otherPorts: true })) {
          const p = probe.packet
          if (colliding.has(`${p.dst}/${p.protocol}/${p.dport}`)) continue
          const r = trace(p)
          if (r.unknown.length) problems.push(`${mode}/${format} ${probe.label}: rules not understood: ${r.unknown.join(' | ')}`)
          const { outcome, differences } = expectedOutcome(mode, fm, model.config.masqueradeAll, p)
          const d = diffOutcomes(outcomeOf(r), outcome)
          if (d) {
            problems.push(`${mode}/${format} ${probe.label}: traced ${formatOutcome(outcomeOf(r))}, expected ${formatOutcome(outcome)}${differences.length ? ` [${differences.join(', ')}]` : ''}: ${d}`)
          }
          if (r.verdict === 'forward') {
            const sum = r.endpoints.reduce((s, e) => s + e.probability, 0)
            if (Math.abs(sum - 1) > 1e-6) problems.push(`${mode}/${format} ${probe.label}: probabilities sum to ${sum}`)
          }
        }
      }
    }
  }
  return problems
}

describe('trace equivalence of iptables, nftables and ipvs', () => {
  it(`traced verdicts equal the model's (modulo MODE_DIFFERENCES), ${NUM_RUNS} random clusters`, () => {
    fc.assert(
      fc.property(arbCluster({ maxServices: 4 }), (c) => {
        const problems = disagreements(c.objects)
        if (problems.length) throw new Error(`${problems.length} disagreement(s):\n${problems.slice(0, 12).join('\n')}`)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it('can fail: a wrong expectation is caught', () => {
    // Guards the property itself: an endpoint share off by a little must be reported.
    const a = { verdict: 'forward' as const, endpoints: [{ ip: '10.0.0.1', port: 80, probability: 0.5, masquerade: false }, { ip: '10.0.0.2', port: 80, probability: 0.5, masquerade: false }], masquerade: false }
    const b = { ...a, endpoints: [{ ...a.endpoints[0]!, probability: 0.49 }, { ...a.endpoints[1]!, probability: 0.51 }] }
    expect(diffOutcomes(a, b)).toMatch(/endpoints/)
    expect(diffOutcomes(a, { ...a, endpoints: [a.endpoints[0]!, { ...a.endpoints[1]!, masquerade: true }] })).toMatch(/masquerade/)
    expect(diffOutcomes(a, { verdict: 'drop', endpoints: [], masquerade: false })).toMatch(/verdict/)
  })
})
