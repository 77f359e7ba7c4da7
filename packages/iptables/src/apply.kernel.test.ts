/**
 * Kernel tests of `applyIptables` in throw-away network namespaces (the runner prefixes
 * `ip netns exec`): idempotence, foreign rules left alone, A → B equal to a fresh B, real traffic
 * following the update, stale UDP conntrack entries removed, a failing restore rolled back, and a
 * dry run that changes nothing.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { cleanupAfterEach } from '../../../test/cleanup.js'
import { Lab, kernelSupport, tally } from '../../../test/lab.js'
import { FOREIGN_LINES, POD1, POD2, addForeignRules, addScenarioPods, normalizeSave, scenarioModel } from '../../../test/apply-scenario.js'
import { type Command, type Runner, applyIptables, dryRunner, spawnRunner } from './apply.js'

const support = kernelSupport(['iptables-restore', 'iptables-save', 'conntrack'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'
const OPTIONS = { nfacct: false }

const cleanup = cleanupAfterEach()

async function node(): Promise<{ lab: Lab; runner: Runner; save: () => Promise<string> }> {
  const lab = await Lab.create({ ipv4: '192.168.0.2' })
  cleanup(() => lab.destroy())
  const runner = spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')] })
  return { lab, runner, save: async () => normalizeSave(await lab.execOk('node', ['iptables-save'])) }
}

const apply = (state: 'A' | 'B', runner: Runner, conntrack = false) =>
  applyIptables(scenarioModel(state, 'iptables'), { runner, options: OPTIONS, conntrack })

describe.skipIf(!support.ok)('applyIptables in a network namespace', () => {
  it('is idempotent: a second apply leaves iptables-save identical (no duplicate jumps)', async () => {
    const { runner, save } = await node()
    const first = await apply('A', runner)
    expect(first.lines.join('\n')).toContain('14 jumps from built-in chains added')
    const once = await save()
    const second = await apply('A', runner)
    expect(second.lines.join('\n')).not.toContain('jumps from built-in chains added')
    expect(await save()).toBe(once)
    expect(once.match(/-j KUBE-SERVICES$/gm)?.length).toBe(4)
  })

  it('A then B equals a fresh B, foreign rules survive, stale chains are gone, traffic follows', async () => {
    const { lab, runner, save } = await node()
    await addScenarioPods(lab)
    await addForeignRules(lab, false)
    await apply('A', runner)
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 3 }))).toEqual({ pod2: 3 })
    const viaA = tally(await lab.probe('client', '10.96.0.10', 80, { count: 40 }))
    expect(Object.keys(viaA).sort()).toEqual(['pod1', 'pod2'])
    const staleChains = (await save()).match(/^:KUBE-(SVC|SEP|EXT)-\S+/gm) ?? []

    const report = await apply('B', runner)
    expect(report.lines.join('\n')).toMatch(/stale chains deleted/)
    const after = await save()
    for (const line of FOREIGN_LINES) expect(after).toContain(line)

    const fresh = await node()
    await addForeignRules(fresh.lab, false)
    await apply('B', fresh.runner)
    expect(after).toBe(await fresh.save())
    // Chains of the deleted Service and the removed endpoint are not left behind.
    const gone = staleChains.filter((c) => !after.includes(c))
    expect(gone.length).toBeGreaterThan(0)

    // The deleted Service no longer forwards; the old port is closed; the old endpoint gets nothing.
    expect((await lab.probe('client', '10.96.0.99', 80, { timeoutMs: 600 }))[0]?.ok).toBe(false)
    expect((await lab.probe('client', '10.96.0.10', 80, { timeoutMs: 600 }))[0]?.ok).toBe(false)
    expect(tally(await lab.probe('client', '10.96.0.10', 81, { count: 20 }))).toEqual({ pod1: 20 })
    expect(tally(await lab.probe('client', '10.96.0.53', 53, { proto: 'udp', count: 20 }))).toEqual({ pod1: 20 })
  })

  it('--conntrack deletes the UDP flows to the removed endpoint and keeps the others', async () => {
    const { lab, runner } = await node()
    await addScenarioPods(lab)
    await apply('A', runner)
    const seen = tally(await lab.probe('client', '10.96.0.53', 53, { proto: 'udp', count: 30 }))
    expect(Object.keys(seen).sort()).toEqual(['pod1', 'pod2'])
    const flows = async (ip: string) => {
      const r = await lab.exec('node', ['conntrack', '-L', '-p', 'udp', '--dst-nat', ip])
      return r.stdout.split('\n').filter((l) => l.includes('dport=53')).length
    }
    expect(await flows(POD2)).toBeGreaterThan(0)
    const before1 = await flows(POD1)
    expect(before1).toBeGreaterThan(0)
    const report = await apply('B', runner, true)
    expect(report.lines.join('\n')).toContain(`UDP flows to removed endpoint ${POD2}:5353`)
    expect(await flows(POD2)).toBe(0)
    expect(await flows(POD1)).toBe(before1)
  })

  it('a failing restore leaves the previous ruleset in place and working, with the tool\'s stderr', async () => {
    const { lab, runner, save } = await node()
    await addScenarioPods(lab)
    await addForeignRules(lab, false)
    await apply('A', runner)
    const before = await save()
    // Test hook: a filter change (committed first) and a broken nat table (the second one), so the
    // restore fails half-way and filter must be rolled back.
    const broken: Runner = (cmd: Command) =>
      runner(cmd.argv[0] === 'iptables-restore' && cmd.argv.includes('--noflush')
        ? {
            ...cmd,
            stdin: (cmd.stdin ?? '')
              .replace('\nCOMMIT\n*nat\n', '\n-A KUBE-FORWARD -s 10.98.0.0/16 -j DROP\nCOMMIT\n*nat\n')
              .replace(/COMMIT\n$/, '-A KUBE-SERVICES -j KPROXC-NO-SUCH-CHAIN\nCOMMIT\n'),
          }
        : cmd)
    const err = await applyIptables(scenarioModel('B', 'iptables'), { runner: broken, options: OPTIONS }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'APPLY_FAILED' })
    expect(String((err as Error).message)).toMatch(/KPROXC-NO-SUCH-CHAIN/)
    expect(String((err as Error).message)).toMatch(/the filter table was restored to its previous rules/)
    expect(await save()).toBe(before)
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 3 }))).toEqual({ pod2: 3 })
  })

  it('without nfacct counters the default options fail with a hint and change nothing', async () => {
    const { lab, runner, save } = await node()
    await addForeignRules(lab, false)
    const before = await save()
    // No `nfacct` tool on PATH inside the namespace's view: the counters cannot be created.
    const noNfacct: Runner = (cmd) => (cmd.argv[0] === 'nfacct' ? Promise.resolve({ code: 127, stdout: '', stderr: 'command not found' }) : runner(cmd))
    const err = await applyIptables(scenarioModel('A', 'iptables'), { runner: noNfacct }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'APPLY_FAILED' })
    expect(String((err as Error).message)).toMatch(/RULE_APPEND failed[\s\S]*pass --no-nfacct/)
    expect(await save()).toBe(before)
  })

  it('--dry-run records the exact restore and changes nothing', async () => {
    const { lab, runner, save } = await node()
    await addForeignRules(lab, false)
    await apply('A', runner)
    const before = await save()
    const recorded: Command[] = []
    await applyIptables(scenarioModel('B', 'iptables'), { runner: dryRunner(runner, (c) => recorded.push(c)), options: OPTIONS, conntrack: true })
    expect(await save()).toBe(before)
    expect(recorded.map((c) => c.argv.join(' '))).toEqual(['iptables-restore --noflush --wait', `conntrack -D -p udp --dst-nat ${POD2} --reply-port-src 5353`])
    expect(recorded[0]?.stdin).toMatch(/^-X KUBE-SVC-/m)
    // The recorded payload is exactly what a real apply then sends.
    const sent: string[] = []
    await applyIptables(scenarioModel('B', 'iptables'), { runner: (c) => (c.mutates && c.stdin && sent.push(c.stdin), runner(c)), options: OPTIONS })
    expect(sent[0]).toBe(recorded[0]?.stdin)
  })
})
if (!support.ok) it.skip(`iptables apply kernel tests: ${support.reason}`, () => {})
