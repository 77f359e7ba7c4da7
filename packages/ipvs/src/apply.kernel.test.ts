/**
 * Kernel tests of `applyIpvs`: ipsets and the iptables part are real (in a throw-away namespace);
 * this kernel has no ip_vs and no dummy links, so ipvsadm, ip (for kube-ipvs0 only) and sysctl are
 * recording fakes on PATH that keep the state such a kernel would.
 */
import { describe, expect, it } from 'vitest'
import { FOREIGN_LINES, addForeignRules, normalizeSave, scenarioModel } from '../../../test/apply-scenario.js'
import { fakeIpvsNodes, support } from './__fixtures__/fake-node.js'
import type { Fakes } from './__fixtures__/fakes.js'
import { type Command, type Runner, applyIpvs, dryRunner } from './apply.js'
import { compileIpvs } from './compile.js'
import { realServerLine, serviceLine } from './render-ipvsadm.js'

const newNode = fakeIpvsNodes()

async function node() {
  const { lab, fake, runner } = await newNode()
  const kernel = async () => ({
    iptables: normalizeSave(await lab.execOk('node', ['iptables-save'])),
    ipset: await lab.execOk('node', ['ipset', 'save']),
    ipvs: fake.state(),
  })
  return { lab, fake, runner, kernel }
}

/** The virtual servers a fresh load of the compiled state would hold, as the fake stores them. */
function expectedServers(state: 'A' | 'B') {
  const ir = compileIpvs(scenarioModel(state, 'ipvs'), { family: 'IPv4' })
  return ir.virtualServers.map((vs) => ({
    line: serviceLine(vs),
    reals: vs.realServers.map((rs) => realServerLine(vs, rs).split(' -r ')[1]).sort(),
  })).sort((a, b) => a.line.localeCompare(b.line))
}

function servers(state: ReturnType<Fakes['state']>) {
  return state.services.map((s) => ({ line: s.line, reals: s.reals.map((r) => `${r.addr} ${r.method} -w ${r.weight}`).sort() }))
    .sort((a, b) => a.line.localeCompare(b.line))
}

const apply = (state: 'A' | 'B', runner: Runner, conntrack = false) => applyIpvs(scenarioModel(state, 'ipvs'), { runner, conntrack })

describe.skipIf(!support.ok)('applyIpvs (real ipsets and iptables, fake ipvsadm/ip/sysctl)', () => {
  it('programs everything, and a second apply changes nothing', async () => {
    const { fake, runner, kernel } = await node()
    await apply('A', runner)
    const once = await kernel()
    expect(servers(once.ipvs)).toEqual(expectedServers('A'))
    expect(once.ipvs.link).toBe(true)
    expect(once.ipvs.addrs.sort()).toEqual(['10.96.0.10/32', '10.96.0.53/32', '10.96.0.99/32'])
    expect(once.ipvs.sysctl['net.ipv4.vs.conntrack']).toBe('1')
    expect(once.ipset).toMatch(/^add KUBE-CLUSTER-IP 10\.96\.0\.53,udp:53$/m)
    expect(once.iptables).toMatch(/^-A KUBE-SERVICES .*KUBE-CLUSTER-IP/m)

    const calls = fake.calls().length
    await apply('A', runner)
    expect(await kernel()).toEqual(once)
    // Only reads the second time: no ipvsadm -R, no ip -batch, no sysctl -w, no link add.
    const writes = fake.calls().slice(calls).filter((c) => c.args[0] === '-R' || c.args[0] === '-batch' || c.args[0] === '-w' || c.args[0] === 'link')
    expect(writes).toEqual([])
  })

  it('A then B equals a fresh B with ipvsadm edits (never a clear), swapped sets, foreign rules untouched', async () => {
    const { lab, fake, runner, kernel } = await node()
    await addForeignRules(lab, false)
    await apply('A', runner)
    const calls = fake.calls().length
    await apply('B', runner, true)
    const after = await kernel()
    for (const line of FOREIGN_LINES) expect(after.iptables).toContain(line)
    expect(servers(after.ipvs)).toEqual(expectedServers('B'))
    expect(after.ipvs.addrs.sort()).toEqual(['10.96.0.10/32', '10.96.0.53/32'])

    const restores = fake.calls().slice(calls).filter((c) => c.tool === 'ipvsadm' && c.args[0] === '-R').map((c) => c.stdin ?? '').join('')
    expect(restores).not.toMatch(/^-C/m)
    expect(restores).toMatch(/^-D -t 10\.96\.0\.99:80$/m)
    expect(restores).toMatch(/^-d -u 10\.96\.0\.53:53 -r 10\.244\.2\.5:5353$/m)
    expect(fake.calls().slice(calls).some((c) => c.tool === 'ipvsadm' && c.args[0] === '-C')).toBe(false)

    const fresh = await node()
    await addForeignRules(fresh.lab, false)
    await apply('B', fresh.runner)
    const b = await fresh.kernel()
    expect(after.iptables).toBe(b.iptables)
    const members = (s: string) => s.split('\n').filter((l) => l.startsWith('add ')).sort()
    expect(members(after.ipset)).toEqual(members(b.ipset))
    expect(after.ipset).not.toMatch(/KPROXC-TMP/)
    expect(servers(after.ipvs)).toEqual(servers(b.ipvs))
  })

  it('a failing ipvsadm stops the apply with its stderr; a dry run records every change and changes nothing', async () => {
    const { fake, runner, kernel } = await node()
    await apply('A', runner)
    const before = await kernel()
    const recorded: Command[] = []
    await applyIpvs(scenarioModel('B', 'ipvs'), { runner: dryRunner(runner, (c) => recorded.push(c)), conntrack: true })
    expect(await kernel()).toEqual(before)
    expect(recorded.map((c) => c.argv.slice(0, 2).join(' '))).toEqual([
      'ipset restore', 'ipvsadm -R', 'iptables-restore --noflush', 'ip -batch', 'ipvsadm -R', 'conntrack -D',
    ])
    expect(recorded[0]?.stdin).toMatch(/^swap KPROXC-TMP-4-\d+ KUBE-CLUSTER-IP$/m)

    fake.breakTool('ipvsadm', 'Memory allocation problem')
    const err = await apply('B', runner).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'APPLY_FAILED' })
    expect(String((err as Error).message)).toMatch(/Memory allocation problem/)
  })
})
if (!support.ok) it.skip(`ipvs apply kernel tests: ${support.reason}`, () => {})
