import fc from 'fast-check'
import { buildModel, loadObjects } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { scenarioModel, scenarioYaml } from '../../../test/apply-scenario.js'
import { changedTables, parseSave, planRestore, restoreTarget, ruleWords, tableSnapshot, udpDnatTargets } from './apply-plan.js'
import { compileRuleset } from './compile.js'
import { DEFAULT_OPTIONS } from './options.js'

const target = (state: 'A' | 'B') => restoreTarget(compileRuleset(scenarioModel(state, 'iptables'), 'IPv4', DEFAULT_OPTIONS))

/** What iptables-save would print after a plan's payload was restored (declared chains, rules, jumps). */
function savedAfter(payload: string, foreign = ''): string {
  let out = ''
  for (const block of payload.split('COMMIT\n').filter((b) => b.trim() !== '')) {
    const lines = block.split('\n')
    const chains = lines.filter((l) => l.startsWith(':') && !lines.includes(`-X ${l.slice(1).split(' ')[0]}`))
    const rules = lines.filter((l) => l.startsWith('-A '))
    const jumps = lines.filter((l) => l.startsWith('-I ')).reverse().map((l) => l.replace(/^-I (\S+) 1/, '-A $1'))
    out += `${lines[0]}\n${chains.join('\n')}\n${foreign}${[...jumps, ...rules].join('\n')}\nCOMMIT\n`
  }
  return out
}

describe('planRestore', () => {
  it('on a fresh node declares every chain and inserts every jump in reverse, so they end in list order', () => {
    const plan = planRestore(target('A'), new Map())
    expect(plan.jumpsAdded).toHaveLength(14)
    const filterJumps = plan.payload.split('\n').filter((l) => l.startsWith('-I INPUT'))
    expect(filterJumps[0]).toBe('-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES')
    expect(filterJumps.at(-1)).toBe('-I INPUT 1 -j KUBE-FIREWALL')
    expect(plan.chainsDeleted).toEqual([])
    expect(plan.payload).not.toMatch(/^-X /m)
  })

  it('adds no jump that iptables-save already shows, wherever rules of other programs sit around it', () => {
    const first = planRestore(target('A'), new Map())
    // Other programs' rules above and between the jumps.
    const save = savedAfter(first.payload)
      .replace('*filter\n', '*filter\n-A INPUT -s 10.99.0.0/16 -j DROP\n')
      .replace('-A INPUT -j KUBE-FIREWALL', '-A INPUT -m comment --comment x -j ACCEPT\n-A INPUT -j KUBE-FIREWALL')
    const again = planRestore(target('A'), parseSave(save))
    expect(again.jumpsAdded).toEqual([])
    expect(again.payload).not.toMatch(/^-I /m)
  })

  it('flushes and deletes stale service chains after every rule, and never names foreign chains', () => {
    const foreign = ':FOREIGN-NAT - [0:0]\n-A FOREIGN-NAT -j RETURN\n-A PREROUTING -j FOREIGN-NAT\n'
    const afterA = savedAfter(planRestore(target('A'), new Map()).payload, foreign)
    const plan = planRestore(target('B'), parseSave(afterA))
    expect(plan.chainsDeleted.length).toBeGreaterThan(0)
    expect(plan.chainsDeleted.every((c) => /^nat\/KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(c))).toBe(true)
    const lines = plan.payload.split('\n')
    const firstX = lines.findIndex((l) => l.startsWith('-X '))
    const lastA = lines.map((l, i) => (l.startsWith('-A ') ? i : -1)).filter((i) => i >= 0).at(-1) ?? 0
    expect(firstX).toBeGreaterThan(lastA)
    for (const c of plan.chainsDeleted) expect(lines).toContain(`:${c.slice(4)} - [0:0]`)
    expect(plan.payload).not.toContain('FOREIGN')
  })

  it('creates KUBE-FIREWALL only when missing and never flushes it when kube-proxy does not own it', () => {
    const off = buildModel(loadObjects([{ name: 'a.yaml', text: scenarioYaml('A') }]), {
      mode: 'iptables', nodeName: 'n1', families: ['IPv4'], config: { iptables: { localhostNodePorts: false } },
    })
    const t = restoreTarget(compileRuleset(off, 'IPv4', DEFAULT_OPTIONS))
    expect(planRestore(t, new Map()).chainsEnsured).toEqual(['filter/KUBE-FIREWALL'])
    const kubelet = parseSave('*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A KUBE-FIREWALL -j DROP\nCOMMIT\n')
    const plan = planRestore(t, kubelet)
    expect(plan.chainsEnsured).toEqual([])
    expect(plan.payload).not.toContain(':KUBE-FIREWALL')
  })

  it('property: replanning against the state a plan produced changes nothing', () => {
    fc.assert(
      fc.property(arbCluster({ maxServices: 5 }), (c) => {
        const model = buildModel(c.objects, { mode: 'iptables', nodeName: c.nodeName, families: ['IPv4'] })
        const t = restoreTarget(compileRuleset(model, 'IPv4', DEFAULT_OPTIONS))
        const again = planRestore(t, parseSave(savedAfter(planRestore(t, new Map()).payload)))
        expect(again.jumpsAdded).toEqual([])
        expect(again.chainsDeleted).toEqual([])
        expect(again.chainsEnsured).toEqual([])
      }),
      { numRuns: 40, seed: 6 },
    )
  })
})

describe('helpers', () => {
  it('ruleWords splits like iptables-restore', () => {
    expect(ruleWords('-A X -m comment --comment "a \\"b\\" c" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'Y'])
    expect(ruleWords('-A X --comment ""')).toEqual(['-A', 'X', '--comment', ''])
  })

  it('udpDnatTargets reads SEP DNAT targets of UDP rules only', () => {
    const save = [
      '-A KUBE-SEP-AAA -p udp -m comment --comment "default/dns:p" -m udp -j DNAT --to-destination 10.244.2.5:5353',
      '-A KUBE-SEP-BBB -p tcp -m comment --comment "default/web:p" -m tcp -j DNAT --to-destination 10.244.2.5:8080',
      '-A KUBE-SEP-CCC -p udp -m udp -j DNAT --to-destination [fd00::5]:53',
    ].join('\n')
    expect([...udpDnatTargets(save)]).toEqual(['10.244.2.5:5353', '[fd00::5]:53'])
  })

  it('tableSnapshot and changedTables', () => {
    const a = '# x\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n'
    expect(tableSnapshot(a, 'nat')).toBe('*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')
    expect(tableSnapshot(a, 'raw')).toBeUndefined()
    const b = a.replace('-A INPUT -j ACCEPT', '-A INPUT -j DROP')
    expect(changedTables(parseSave(a), parseSave(b), ['filter', 'nat'])).toEqual(['filter'])
  })
})
