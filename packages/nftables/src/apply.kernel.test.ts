/**
 * Kernel tests of `applyNftables` in throw-away network namespaces: the first apply creates the
 * kube-proxy table, later ones update it in place (twice → the same ruleset), another program's
 * table and iptables rules survive, A → B equals a fresh B and traffic follows, ClientIP-affinity
 * entries survive re-applies (and their sets go with their Service, or are re-created for a new
 * timeout), stale UDP flows are deleted, a failing transaction leaves the old table working, and a
 * dry run reads but changes nothing.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { cleanupAfterEach } from '../../../test/cleanup.js'
import { Lab, kernelSupport, tally } from '../../../test/lab.js'
import { CLIENT, FOREIGN_LINES, POD1, POD2, addForeignRules, addScenarioPods, normalizeSave, scenarioModel } from '../../../test/apply-scenario.js'
import { type Command, type Runner, applyNftables, spawnRunner } from './apply.js'
import { canonicalListing } from './table-listing.js'
import { STICKY_IP, stickyModel } from './testdata/affinity-scenario.js'

const support = kernelSupport(['nft', 'conntrack', 'iptables-save'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'

const cleanup = cleanupAfterEach()

async function node(pods = false) {
  const lab = await Lab.create({ ipv4: '192.168.0.2' })
  cleanup(() => lab.destroy())
  if (pods) await addScenarioPods(lab)
  await addForeignRules(lab, true)
  const runner = spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')] })
  const ruleset = async () => lab.execOk('node', ['nft', 'list', 'ruleset'])
  /** The kube-proxy table, comparable across in-place and fresh applies (affinity entries left out). */
  const table = async () => canonicalListing(JSON.parse(await lab.execOk('node', ['nft', '-j', 'list', 'table', 'ip', 'kube-proxy'])), { dropAffinityElements: true })
  return { lab, runner, ruleset, table }
}

/** The client entries of every affinity set, `set: ip` (the packet path's session state). */
async function affinityEntries(lab: Lab): Promise<string[]> {
  const doc = JSON.parse(await lab.execOk('node', ['nft', '-j', 'list', 'table', 'ip', 'kube-proxy'])) as { nftables: { set?: { name: string; elem?: { elem: { val: string } }[] } }[] }
  return doc.nftables.flatMap((o) => (o.set?.name.startsWith('affinity-') ? (o.set.elem ?? []).map((e) => `${o.set?.name}: ${e.elem.val}`) : [])).sort()
}

/** The table a fresh node gets from `model`. */
async function freshTable(model: ReturnType<typeof stickyModel>): Promise<string> {
  const fresh = await node()
  await applyNftables(model, { runner: fresh.runner })
  return fresh.table()
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
    const { lab, runner, ruleset, table } = await node(true)
    await apply('A', runner)
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 3 }))).toEqual({ pod2: 3 })
    expect(Object.keys(tally(await lab.probe('client', '10.96.0.10', 80, { count: 40 }))).sort()).toEqual(['pod1', 'pod2'])
    const report = await apply('B', runner)
    expect(report.lines[0]).toMatch(/^nftables: updated table ip kube-proxy in place/)
    const after = await ruleset()
    const fresh = await node()
    await apply('B', fresh.runner)
    // In place, objects keep the kernel's order of creation: compare them by name.
    expect(await table()).toBe(await fresh.table())
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
    // The read ran, so the recorded transaction is the in-place one.
    expect(recorded[0]?.stdin).not.toContain('"delete":{"table"')
    expect(recorded[0]?.stdin).toContain('{"delete":{"chain":{"family":"ip","table":"kube-proxy","name":"service-525EHWLU-default/gone/tcp/p"}}}')
  })

  it('re-applies keep ClientIP-affinity entries; the sets go with their Service', async () => {
    const { lab, runner, table } = await node(true)
    await applyNftables(stickyModel('A', 300), { runner })
    const first = tally(await lab.probe('client', STICKY_IP, 80, { count: 10 }))
    expect(Object.values(first)).toEqual([10])
    const entries = await affinityEntries(lab)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatch(new RegExp(`: ${CLIENT.replaceAll('.', '\\.')}$`))

    const again = await applyNftables(stickyModel('A', 300), { runner })
    expect(again.lines.join('\n')).toContain('2 affinity sets kept with 1 client entry')
    expect(await affinityEntries(lab)).toEqual(entries)
    await applyNftables(stickyModel('B', 300), { runner })
    expect(await affinityEntries(lab)).toEqual(entries)
    expect(await table()).toBe(await freshTable(stickyModel('B', 300)))
    // The session sticks: the entry, not a new random pick, chooses the pod.
    expect(tally(await lab.probe('client', STICKY_IP, 80, { count: 10 }))).toEqual(first)

    const gone = await applyNftables(stickyModel('B', null), { runner })
    expect(gone.lines.join('\n')).toMatch(/3 stale chains deleted; 2 stale sets\/maps deleted/)
    const listed = await lab.execOk('node', ['nft', 'list', 'table', 'ip', 'kube-proxy'])
    expect(listed).not.toContain('affinity-')
    expect(listed).not.toContain('default/sticky')
    expect(await table()).toBe(await freshTable(stickyModel('B', null)))
    expect((await lab.probe('client', STICKY_IP, 80, { timeoutMs: 600 }))[0]?.ok).toBe(false)
  })

  it('a table of another layout (base chains moved or misplaced, leftover chain and map) ends as a fresh one', async () => {
    const { lab, runner, table } = await node()
    await lab.execOk('node', ['nft', '-f', '-'], [
      'add table ip kube-proxy',
      'add chain ip kube-proxy old-chain',
      'add rule ip kube-proxy old-chain counter',
      'add map ip kube-proxy old-ports { type inet_service : verdict; }',
      'add element ip kube-proxy old-ports { 8 : goto old-chain }',
      'add chain ip kube-proxy nat-output { type nat hook output priority -99; policy accept; }',
      'add rule ip kube-proxy nat-output tcp dport vmap @old-ports',
      'add chain ip kube-proxy services { type nat hook prerouting priority 5; }',
      'add rule ip kube-proxy services jump old-chain',
      '',
    ].join('\n'))
    const report = await applyNftables(stickyModel('A', 300), { runner })
    expect(report.lines[1]).toMatch(/2 base chains re-created; 1 stale chain deleted; 1 stale set\/map deleted$/)
    expect(await table()).toBe(await freshTable(stickyModel('A', 300)))
  })

  it('a changed affinity timeout re-creates the sets, which then fill again', async () => {
    const { lab, runner, table } = await node(true)
    await applyNftables(stickyModel('A', 300), { runner })
    await lab.probe('client', STICKY_IP, 80, { count: 3 })
    expect(await affinityEntries(lab)).toHaveLength(1)
    const report = await applyNftables(stickyModel('A', 600), { runner })
    expect(report.lines.join('\n')).toContain('2 sets re-created for a new spec')
    expect(await table()).toBe(await freshTable(stickyModel('A', 600)))
    expect(await lab.execOk('node', ['nft', 'list', 'table', 'ip', 'kube-proxy'])).toMatch(/flags dynamic,timeout\n\s+timeout 10m/)
    expect(Object.values(tally(await lab.probe('client', STICKY_IP, 80, { count: 5 })))).toEqual([5])
    expect(await affinityEntries(lab)).toHaveLength(1)
  })
})
if (!support.ok) it.skip(`nftables apply kernel tests: ${support.reason}`, () => {})
