import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { syntheticCluster } from '../../../test/synthetic.js'
import { compileParts, compileRuleset } from './compile.js'
import type { Ruleset } from './ir.js'
import { CHAIN_PREFIX, MAX_CHAIN_NAME } from './names.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'

const BUILTIN = new Set(['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING'])
const PER_SERVICE = Object.values(CHAIN_PREFIX)

/** Every invariant a ruleset must satisfy whatever the cluster; returns the first violation. */
function violations(rs: Ruleset): string[] {
  const out: string[] = []
  for (const table of rs.tables) {
    const declared = [...table.kubeProxy.chains, ...table.builtin.chains]
    const declaredSet = new Set(declared)
    if (declaredSet.size !== declared.length) out.push(`${table.name}: a chain is declared twice`)
    const jumpedTo = new Set<string>()
    for (const r of [...table.kubeProxy.rules, ...table.builtin.rules]) {
      if (!declaredSet.has(r.chain) && !BUILTIN.has(r.chain)) out.push(`${table.name}: rule in undeclared chain ${r.chain}`)
      if (r.target?.kind === 'jump') {
        jumpedTo.add(r.target.chain)
        if (!declaredSet.has(r.target.chain)) out.push(`${table.name}: jump to undeclared ${r.target.chain}`)
        if (r.target.chain === r.chain) out.push(`${table.name}: ${r.chain} jumps to itself`)
      }
      for (const m of r.matches) {
        if ((m.kind === 'recentSet' || m.kind === 'recentCheck') && !declaredSet.has(m.name)) out.push(`recent list ${m.name} names no SEP chain`)
      }
    }
    for (const c of declared) {
      if (c.length > MAX_CHAIN_NAME) out.push(`${c} is longer than ${MAX_CHAIN_NAME}`)
      if (PER_SERVICE.some((p) => c.startsWith(p)) && !jumpedTo.has(c)) out.push(`${table.name}: ${c} is declared but never jumped to`)
      if (!PER_SERVICE.some((p) => c.startsWith(p)) && !jumpedTo.has(c) && rs.tables[0].builtin.rules.length > 0 && c !== 'KUBE-MARK-MASQ') {
        out.push(`${table.name}: fixed chain ${c} is unreachable from the built-in chains`)
      }
    }
    // The NodePort tail must close nat KUBE-SERVICES.
    if (table.name === 'nat') {
      const services = table.kubeProxy.rules.filter((r) => r.chain === 'KUBE-SERVICES')
      const firstTail = services.findIndex((r) => r.target?.kind === 'jump' && r.target.chain === 'KUBE-NODEPORTS')
      if (firstTail >= 0 && services.slice(firstTail).some((r) => !(r.target?.kind === 'jump' && r.target.chain === 'KUBE-NODEPORTS'))) {
        out.push('a KUBE-SERVICES rule follows the KUBE-NODEPORTS tail')
      }
    }
  }
  return out
}

describe('iptables rulesets of random clusters', () => {
  it('only jump to declared chains, use every per-service chain, keep names within 28 characters', () => {
    let checked = 0
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const model = buildModel(c.objects, { nodeName: c.nodeName, mode: 'iptables' })
        for (const f of model.families) {
          const rs = compileRuleset(model, f.family, DEFAULT_OPTIONS)
          expect(violations(rs)).toEqual([])
          const text = renderRuleset(rs)
          // One `-A` line per IR rule: nothing a value contained split or merged a line.
          const rules = rs.tables.reduce((n, t) => n + t.kubeProxy.rules.length + t.builtin.rules.length, 0)
          expect(text.split('\n').filter((l) => l.startsWith('-A ')).length).toBe(rules)
          expect(renderRuleset(compileRuleset(model, f.family, DEFAULT_OPTIONS))).toBe(text)
          checked++
        }
      }),
      { numRuns: 300, seed: 7 },
    )
    expect(checked).toBeGreaterThan(100)
  })

  it('a port writes its rules in fixed nat chains before those in its own chains (deltas rely on it)', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const model = buildModel(c.objects, { nodeName: c.nodeName, mode: 'iptables' })
        for (const f of model.families) {
          const parts = compileParts(model, f.family, DEFAULT_OPTIONS)
          const fixed = new Set(parts.head.natChains)
          for (const { fragment } of parts.ports) {
            const own = new Set(fragment.natChains)
            const kinds = fragment.natRules.map((r) => (fixed.has(r.chain) ? 'fixed' : own.has(r.chain) ? 'own' : `neither: ${r.chain}`))
            const firstOwn = kinds.indexOf('own')
            expect(kinds.filter((k, i) => k !== (firstOwn < 0 || i < firstOwn ? 'fixed' : 'own'))).toEqual([])
            for (const r of fragment.filterRules) expect(parts.head.filterChains).toContain(r.chain)
          }
        }
      }),
      { numRuns: 200, seed: 5 },
    )
  })

  it('output does not depend on input order', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const reversed = { ...c.objects, services: [...c.objects.services].reverse(), endpointSlices: [...c.objects.endpointSlices].reverse() }
        const a = buildModel(c.objects, { nodeName: c.nodeName, mode: 'iptables' })
        const b = buildModel(reversed, { nodeName: c.nodeName, mode: 'iptables' })
        for (const f of a.families) expect(renderRuleset(compileRuleset(b, f.family))).toBe(renderRuleset(compileRuleset(a, f.family)))
      }),
      { numRuns: 100, seed: 11 },
    )
  })

  it('nat rule count follows upstream: 5 + S·(2 + 3E) for plain ClusterIP services', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 12 }), (services, endpoints) => {
        const model = buildModel(syntheticCluster({ services, endpointsPerService: endpoints, nodePortEvery: 0 }), { mode: 'iptables' })
        const nat = compileRuleset(model, 'IPv4').tables[1]
        expect(nat.kubeProxy.rules).toHaveLength(5 + services * (2 + 3 * endpoints))
        // Chains: 4 fixed, one SVC per service, one SEP per endpoint.
        expect(nat.kubeProxy.chains).toHaveLength(4 + services * (1 + endpoints))
      }),
      { numRuns: 60, seed: 3 },
    )
  })
})
