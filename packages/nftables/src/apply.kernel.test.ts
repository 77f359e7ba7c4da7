/**
 * Kernel tests of `applyNftables` in throw-away network namespaces: one transaction replaces the
 * kube-proxy table (twice → the same ruleset), another program's table and iptables rules survive,
 * A → B equals a fresh B and traffic follows, stale UDP flows are deleted, a failing transaction
 * leaves the old table working, and a dry run changes nothing.
 */
import { execFileSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab, kernelSupport, tally } from '../../../test/lab.js'
import { CLIENT, FOREIGN_LINES, POD1, POD2, addForeignRules, normalizeSave, scenarioModel } from '../../../test/apply-scenario.js'
import { type Command, type Runner, applyNftables, spawnRunner } from './apply.js'

const support = kernelSupport(['nft', 'conntrack', 'iptables-save'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'

let labs: Lab[] = []
afterEach(async () => {
  for (const l of labs) await l.destroy()
  labs = []
})

async function node(pods = false) {
  const lab = await Lab.create({ ipv4: '192.168.0.2' })
  labs.push(lab)
  if (pods) {
    await lab.addHost('client', { ipv4: CLIENT })
    await lab.addHost('pod1', { ipv4: POD1 })
    await lab.addHost('pod2', { ipv4: POD2 })
    await lab.serve('pod1', 'pod1', { tcp: [8080], udp: [5353] })
    await lab.serve('pod2', 'pod2', { tcp: [8080], udp: [5353] })
  }
  await addForeignRules(lab, true)
  const runner = spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')] })
  const ruleset = async () => lab.execOk('node', ['nft', 'list', 'ruleset'])
  return { lab, runner, ruleset }
}

const apply = (state: 'A' | 'B', runner: Runner, conntrack = false) => applyNftables(scenarioModel(state, 'nftables'), { runner, conntrack })

/** The iptables rules (the foreign ones) as iptables-save prints them through the nft compat tables. */
const foreignIn = (text: string) => FOREIGN_LINES.every((l) => text.includes(l))

describe.skipIf(!support.ok)('applyNftables in a network namespace', () => {
  it('is idempotent and leaves other tables alone', async () => {
    const { lab, runner, ruleset } = await node()
    await apply('A', runner)
    const once = await ruleset()
    expect(once).toContain('table ip kube-proxy')
    expect(once).toContain('table inet foreign')
    await apply('A', runner)
    expect(await ruleset()).toBe(once)
    expect(foreignIn(normalizeSave(await lab.execOk('node', ['iptables-save'])))).toBe(true)
  })

  it('A then B equals a fresh B plus the foreign tables, and traffic follows', async () => {
    const { lab, runner, ruleset } = await node(true)
    await apply('A', runner)
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 3 }))).toEqual({ pod2: 3 })
    expect(Object.keys(tally(await lab.probe('client', '10.96.0.10', 80, { count: 40 }))).sort()).toEqual(['pod1', 'pod2'])
    await apply('B', runner)
    const after = await ruleset()
    const fresh = await node()
    await apply('B', fresh.runner)
    expect(after).toBe(await fresh.ruleset())
    expect(after).toContain('table inet foreign')
    expect(after).not.toContain('default/gone')

    expect((await lab.probe('client', '10.96.0.99', 80, { timeoutMs: 600 }))[0]?.ok).toBe(false)
    expect((await lab.probe('client', '10.96.0.10', 80, { timeoutMs: 600 }))[0]?.ok).toBe(false)
    expect(tally(await lab.probe('client', '10.96.0.10', 81, { count: 20 }))).toEqual({ pod1: 20 })
    expect(tally(await lab.probe('client', '10.96.0.53', 53, { proto: 'udp', count: 20 }))).toEqual({ pod1: 20 })
  })

  it('--conntrack deletes the UDP flows to the removed endpoint only', async () => {
    const { lab, runner } = await node(true)
    await apply('A', runner)
    expect(Object.keys(tally(await lab.probe('client', '10.96.0.53', 53, { proto: 'udp', count: 30 }))).sort()).toEqual(['pod1', 'pod2'])
    const flows = async (ip: string) => (await lab.exec('node', ['conntrack', '-L', '-p', 'udp', '--dst-nat', ip])).stdout.split('\n').filter((l) => l.includes('dport=53')).length
    const kept = await flows(POD1)
    expect(await flows(POD2)).toBeGreaterThan(0)
    const report = await apply('B', runner, true)
    expect(report.lines.join('\n')).toContain(`${POD2}:5353`)
    expect(await flows(POD2)).toBe(0)
    expect(await flows(POD1)).toBe(kept)
  })

  it('a failing transaction leaves the previous table in place and working; a dry run changes nothing', async () => {
    const { lab, runner, ruleset } = await node(true)
    await apply('A', runner)
    const before = await ruleset()
    // Test hook: a last command that nft must refuse, after the whole new table.
    const broken: Runner = (cmd: Command) =>
      runner(cmd.argv[0] === 'nft' && cmd.mutates
        ? { ...cmd, stdin: (cmd.stdin ?? '').replace(/\n\]\}\n$/, ',\n{"add":{"rule":{"family":"ip","table":"kube-proxy","chain":"kproxc-no-such-chain","expr":[{"accept":null}]}}}\n]}\n') }
        : cmd)
    const err = await applyNftables(scenarioModel('B', 'nftables'), { runner: broken }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'APPLY_FAILED' })
    expect(String((err as Error).message)).toMatch(/nft -j -f - failed[\s\S]*(No such file|Error)/)
    expect(await ruleset()).toBe(before)
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 3 }))).toEqual({ pod2: 3 })

    const recorded: Command[] = []
    const dry: Runner = (c) => (c.mutates ? (recorded.push(c), Promise.resolve({ code: 0, stdout: '', stderr: '' })) : runner(c))
    await applyNftables(scenarioModel('B', 'nftables'), { runner: dry, conntrack: true })
    expect(await ruleset()).toBe(before)
    expect(recorded.map((c) => c.argv.join(' '))).toEqual(['nft -j -f -', `conntrack -D -p udp --dst-nat ${POD2} --reply-port-src 5353`])
  })
})
if (!support.ok) it.skip(`nftables apply kernel tests: ${support.reason}`, () => {})
