/**
 * Kernel tests: the committed ipset.rules and iptables.rules of every IPVS golden load for real in a
 * throw-away node namespace (ipsets are per netns), and the source-range firewall and the
 * KUBE-IPVS-FILTER guard act on packets. This kernel has no ip_vs, so virtual servers are checked
 * by the parser and property tests instead, and the one `-m ipvs` rule can only be checked with
 * `--test` (kube-proxy's own restore of the filter table fails the same way without xt_ipvs).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { afterEach, describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { Lab, kernelSupport } from '../../../test/lab.js'
import { emitIpvs } from './index.js'

const support = kernelSupport(['ipset', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save'])
const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url))

/** Every folder holding IPVS goldens: fixtures/<case>/ipvs and fixtures/<case>/<family>/ipvs. */
function goldenDirs(): string[] {
  const out: string[] = []
  for (const name of readdirSync(FIXTURES).sort()) {
    for (const sub of ['ipvs', 'ipv4/ipvs', 'ipv6/ipvs']) {
      const dir = join(FIXTURES, name, sub)
      if (existsSync(join(dir, 'ipset.rules'))) out.push(dir)
    }
  }
  return out
}

const IPVS_MATCH = / -m ipvs /

/** `[pkts:bytes] -A …` lines of iptables-save -c, as rule text → packets. */
function counters(save: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of save.matchAll(/^\[(\d+):\d+\] (-A .*)$/gm)) out.set(m[2] ?? '', Number(m[1]))
  return out
}

/** Loads ipset.rules (twice: it must be re-loadable) then iptables.rules; returns what was left out. */
async function load(lab: Lab, ipset: string, iptables: string, v6: boolean): Promise<{ skipped: string[] }> {
  const restore = v6 ? 'ip6tables-restore' : 'iptables-restore'
  await lab.execOk('node', ['ipset', 'restore'], ipset)
  await lab.execOk('node', ['ipset', 'restore'], ipset)
  const full = await lab.exec('node', [restore], iptables)
  if (full.code === 0) return { skipped: [] }
  // Only the xt_ipvs rule may fail, and only because the kernel lacks the module.
  const skipped = iptables.split('\n').filter((l) => IPVS_MATCH.test(l))
  expect(skipped.length, `${restore} failed: ${full.stderr}`).toBeGreaterThan(0)
  expect(full.stderr).toMatch(/ipvs|KUBE-IPVS-OUT-FILTER/)
  const test = await lab.exec('node', [restore, '--test'], iptables)
  expect(test.code, test.stderr).toBe(0)
  await lab.execOk('node', [restore], iptables.split('\n').filter((l) => !IPVS_MATCH.test(l)).join('\n'))
  return { skipped }
}

let lab: Lab | undefined
afterEach(async () => {
  await lab?.destroy()
  lab = undefined
})

describe.skipIf(!support.ok)('ipvs goldens in a network namespace', () => {
  const dirs = goldenDirs()

  it('finds the goldens', () => {
    expect(dirs.length).toBeGreaterThan(40)
  })

  it.each(dirs.map((d) => [d.slice(FIXTURES.length), d]))('%s: ipset.rules and iptables.rules load and read back', async (_name, dir) => {
    const ipset = readFileSync(join(dir, 'ipset.rules'), 'utf8')
    const iptables = readFileSync(join(dir, 'iptables.rules'), 'utf8')
    const v6 = ipset.includes(' family inet6 ')
    lab = await Lab.create(v6 ? { ipv6: 'fd00:0:0:1::2' } : { ipv4: '192.168.0.2' })
    const { skipped } = await load(lab, ipset, iptables, v6)

    // Every set holds exactly the members we wrote (ipset prints /32 and /128 nets bare).
    const saved = await lab.execOk('node', ['ipset', 'save'])
    const norm = (l: string) => l.replace(/\/(32|128)$/, '')
    const ours = ipset.split('\n').filter((l) => l.startsWith('add ')).map(norm).sort()
    const theirs = saved.split('\n').filter((l) => l.startsWith('add ')).map(norm).sort()
    expect(theirs).toEqual(ours)
    expect(saved.split('\n').filter((l) => l.startsWith('create ')).length).toBe(17)

    // Every rule is in the kernel (iptables-save respells rules, so compare counts per chain).
    const dump = await lab.execOk('node', [v6 ? 'ip6tables-save' : 'iptables-save'])
    const perChain = (text: string) => {
      const m = new Map<string, number>()
      for (const x of text.matchAll(/^-A (\S+) /gm)) m.set(x[1] ?? '', (m.get(x[1] ?? '') ?? 0) + 1)
      return m
    }
    const expected = perChain(iptables.split('\n').filter((l) => !skipped.includes(l)).join('\n'))
    expect(perChain(dump)).toEqual(expected)
  })

  it('loads the sets and rules of random clusters, both families', async () => {
    const cases = fc.sample(arbCluster({ maxServices: 5 }), { numRuns: 6, seed: 5 })
    for (const c of cases) {
      const model = buildModel(c.objects, { mode: 'ipvs', nodeName: c.nodeName, families: ['IPv4', 'IPv6'] })
      for (const fam of model.families) {
        const files = Object.fromEntries(emitIpvs(model, { family: fam.family }).map((f) => [f.name, f.content]))
        lab = await Lab.create(fam.family === 'IPv6' ? { ipv6: 'fd00:1::2' } : { ipv4: '192.168.0.2' })
        try {
          await load(lab, files['ipset.rules'] ?? '', files['iptables.rules'] ?? '', fam.family === 'IPv6')
        } finally {
          await lab.destroy()
          lab = undefined
        }
      }
    }
  })

  it('drops LB traffic from outside the source ranges, passes traffic from inside, rejects non-service ports on VIPs', async () => {
    const dir = join(FIXTURES, 'ipvs-source-ranges', 'ipvs')
    lab = await Lab.create({ ipv4: '192.168.0.2' })
    await lab.addHost('inside', { ipv4: '198.51.100.9' })
    await lab.addHost('outside', { ipv4: '10.0.0.9' })
    // Stand-in for kube-ipvs0 (this kernel has no dummy device): the VIP becomes a local address.
    for (const vip of readFileSync(join(dir, 'kube-ipvs0.addresses'), 'utf8').trim().split('\n')) {
      await lab.execOk('node', ['ip', 'addr', 'add', `${vip}/32`, 'dev', 'lo'])
    }
    await load(lab, readFileSync(join(dir, 'ipset.rules'), 'utf8'), readFileSync(join(dir, 'iptables.rules'), 'utf8'), false)

    const drop = '-A KUBE-SOURCE-RANGES-FIREWALL -j DROP'
    const reject = '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable'
    const read = async () => counters(await lab!.execOk('node', ['iptables-save', '-c', '-t', 'filter']))
    expect((await read()).get(drop)).toBe(0)

    // Outside the ranges: silently dropped (a timeout, not a refusal).
    const out = await lab.probe('outside', '192.168.30.1', 80, { timeoutMs: 700 })
    expect(out[0]?.ok).toBe(false)
    const afterOut = await read()
    expect(afterOut.get(drop)).toBeGreaterThan(0)

    // Inside the ranges: past the firewall; with no IPVS behind the VIP the node answers with a reset.
    const dropped = afterOut.get(drop) ?? 0
    const inside = await lab.probe('inside', '192.168.30.1', 80, { timeoutMs: 700 })
    expect(inside[0]?.ok).toBe(false)
    expect((await read()).get(drop)).toBe(dropped)

    // A port that is no service port on a kube-ipvs0 address: KUBE-IPVS-FILTER rejects it (issue #72236).
    expect((await read()).get(reject)).toBe(0)
    await lab.probe('inside', '192.168.30.1', 81, { timeoutMs: 700 })
    expect((await read()).get(reject)).toBeGreaterThan(0)
    // The open LB (0.0.0.0/0 range) has no firewall: outside clients are not dropped.
    await lab.probe('outside', '192.168.30.3', 80, { timeoutMs: 700 })
    expect((await read()).get(drop)).toBe(dropped)
  })
})
if (!support.ok) it.skip(`ipvs kernel tests: ${support.reason}`, () => {})
