/**
 * Upstream's TestOverallIPTablesRules: the six services rebuilt in fixtures/upstream-overall, and
 * the test's expected text (upstream-expected.rules, copied from pkg/proxy/iptables/proxier_test.go)
 * compared after upstream's own sort (sortIPTablesRules). The fake proxier there reports no
 * --random-fully, has both nfacct counters, and hard-codes the mark as `0x4000` where a real
 * kube-proxy writes Go's `%#08x` (`0x00004000`); that is the only rewrite applied before comparing.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { modelFromTexts } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { compileRuleset } from './compile.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'
import { sortLikeUpstream } from './upstream-order.js'

const dir = fileURLToPath(new URL('../../../fixtures/upstream-overall/', import.meta.url))

function compileOverall(): string {
  const model = modelFromTexts([{ name: 'input.yaml', text: readFileSync(`${dir}input.yaml`, 'utf8') }], { mode: 'iptables', families: ['IPv4'] })
  return renderRuleset(compileRuleset(model, 'IPv4', { ...DEFAULT_OPTIONS, randomFully: false, builtinJumps: false }))
}

describe('upstream TestOverallIPTablesRules', () => {
  it('matches the upstream expectation after upstream sorting', () => {
    const ours = sortLikeUpstream(compileOverall().replaceAll('0x00004000', '0x4000'))
    const expected = readFileSync(`${dir}upstream-expected.rules`, 'utf8')
    expect(ours).toBe(expected)
  })

  it('the upstream expectation is already in sorted normal form', () => {
    const expected = readFileSync(`${dir}upstream-expected.rules`, 'utf8')
    expect(sortLikeUpstream(expected)).toBe(expected)
  })
})

describe('sortLikeUpstream', () => {
  it('sorts tables, chains and the KUBE-SERVICES / KUBE-NODEPORTS rules as upstream does', () => {
    const raw = [
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-SVC-B - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      '-A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B',
      '-A KUBE-SVC-B -m comment --comment "ns2/b -> 1.1.1.1:80" -j KUBE-SEP-X',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-SERVICES -m comment --comment "ns1/a cluster IP" -j KUBE-SVC-A',
      '-A KUBE-NODEPORTS -m comment --comment ns2/b:p -j KUBE-EXT-B',
      '-A KUBE-NODEPORTS -m comment --comment ns1/a -j KUBE-EXT-A',
      'COMMIT',
      '*filter',
      ':KUBE-SERVICES - [0:0]',
      'COMMIT',
      '',
    ].join('\n')
    expect(sortLikeUpstream(raw)).toBe([
      '*filter',
      ':KUBE-SERVICES - [0:0]',
      'COMMIT',
      '*nat',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      ':KUBE-SVC-B - [0:0]',
      '-A KUBE-NODEPORTS -m comment --comment ns1/a -j KUBE-EXT-A',
      '-A KUBE-NODEPORTS -m comment --comment ns2/b:p -j KUBE-EXT-B',
      '-A KUBE-SERVICES -m comment --comment "ns1/a cluster IP" -j KUBE-SVC-A',
      '-A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-SVC-B -m comment --comment "ns2/b -> 1.1.1.1:80" -j KUBE-SEP-X',
      'COMMIT',
      '',
    ].join('\n'))
  })
})
