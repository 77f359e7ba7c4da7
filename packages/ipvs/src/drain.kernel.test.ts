/**
 * Kernel tests of graceful termination (drain.ts) through `applyIpvs` and `applyIpvsDelta`: ipsets
 * and iptables are real, in a throw-away namespace; ipvsadm is the recording fake, whose connection
 * counters a test sets as traffic would. In A → B, TCP 192.168.0.2:30080 and UDP 10.96.0.53:53 lose
 * 10.244.2.5 while keeping their virtual server, and TCP 10.96.0.99:80 goes whole.
 */
import { describe, expect, it } from 'vitest'
import { scenarioModel } from '../../../test/apply-scenario.js'
import { fakeIpvsNodes, support } from './__fixtures__/fake-node.js'
import type { Fakes } from './__fixtures__/fakes.js'
import { type Command, type Runner, applyIpvs, applyIpvsDelta, dryRunner } from './apply.js'
import { compileIpvsParts } from './compile.js'
import { deltaIpvsParts } from './delta-parts.js'

const NODEPORT = '-t 192.168.0.2:30080'
const DNS = '-u 10.96.0.53:53'
const POD2 = '10.244.2.5'

const node = fakeIpvsNodes()

const apply = async (state: 'A' | 'B', runner: Runner) => (await applyIpvs(scenarioModel(state, 'ipvs'), { runner })).lines.join('\n')
const real = (fake: Fakes, service: string, addr: string) => fake.state().services.find((s) => s.id === service)?.reals.find((r) => r.addr === addr)
const restores = (fake: Fakes, from: number) => fake.calls().slice(from).filter((c) => c.tool === 'ipvsadm' && c.args[0] === '-R').map((c) => c.stdin ?? '').join('')

describe.skipIf(!support.ok)('graceful termination of removed real servers (real ipsets and iptables, fake ipvsadm)', () => {
  it('drains a busy TCP real server at weight 0 until it is idle, deletes UDP ones at once; a dry run shows the -e line', async () => {
    const { fake, runner } = await node()
    await apply('A', runner)
    fake.setConnections(NODEPORT, `${POD2}:8080`, 2, 1)
    fake.setConnections(DNS, `${POD2}:5353`, 0, 4)
    const before = fake.state()

    const recorded: Command[] = []
    await applyIpvs(scenarioModel('B', 'ipvs'), { runner: dryRunner(runner, (c) => recorded.push(c)) })
    expect(fake.state()).toEqual(before)
    const dry = recorded.filter((c) => c.argv[0] === 'ipvsadm').map((c) => c.stdin ?? '').join('')
    expect(dry).toMatch(/^-e -t 192\.168\.0\.2:30080 -r 10\.244\.2\.5:8080 -m -w 0$/m)
    expect(dry).toMatch(/^-d -u 10\.96\.0\.53:53 -r 10\.244\.2\.5:5353$/m)

    expect(await apply('B', runner)).toMatch(/real servers \+\d+ ~\d+ -1, 1 draining/)
    expect(real(fake, NODEPORT, `${POD2}:8080`)).toMatchObject({ weight: 0, method: '-m', active: 2, inactive: 1 })
    expect(real(fake, DNS, `${POD2}:5353`)).toBeUndefined()
    // The virtual server B drops goes whole, with its real server, as kube-proxy's cleanup does.
    expect(fake.state().services.some((s) => s.id === '-t 10.96.0.99:80')).toBe(false)

    // Still busy: the next apply writes nothing for it.
    let calls = fake.calls().length
    expect(await apply('B', runner)).toMatch(/, 1 draining/)
    expect(restores(fake, calls)).not.toContain(POD2)
    expect(real(fake, NODEPORT, `${POD2}:8080`)?.weight).toBe(0)

    fake.setConnections(NODEPORT, `${POD2}:8080`, 0, 0)
    calls = fake.calls().length
    expect(await apply('B', runner)).toMatch(/-1, 0 draining/)
    expect(restores(fake, calls)).toBe('-d -t 192.168.0.2:30080 -r 10.244.2.5:8080\n')
    expect(real(fake, NODEPORT, `${POD2}:8080`)).toBeUndefined()
  })

  it('gives a draining real server its weight back when the state wants it again', async () => {
    const { fake, runner } = await node()
    await apply('A', runner)
    fake.setConnections(NODEPORT, `${POD2}:8080`, 1, 0)
    await apply('B', runner)
    expect(real(fake, NODEPORT, `${POD2}:8080`)?.weight).toBe(0)
    const calls = fake.calls().length
    expect(await apply('A', runner)).toMatch(/, 0 draining/)
    expect(restores(fake, calls)).toMatch(/^-e -t 192\.168\.0\.2:30080 -r 10\.244\.2\.5:8080 -m -w 1$/m)
    expect(real(fake, NODEPORT, `${POD2}:8080`)).toMatchObject({ weight: 1, active: 1 })
  })

  it('a partial sync (watch --apply) drains too, and re-adding a draining one restores its weight', async () => {
    const { fake, runner } = await node()
    await apply('A', runner)
    fake.setConnections(NODEPORT, `${POD2}:8080`, 3, 0)
    fake.setConnections(DNS, `${POD2}:5353`, 1, 0)
    const parts = (s: 'A' | 'B') => compileIpvsParts(scenarioModel(s, 'ipvs'), { family: 'IPv4' })
    const a = parts('A')
    const b = parts('B')
    const report = await applyIpvsDelta(deltaIpvsParts(a, b), 'IPv4', runner)
    expect(report.lines.join('\n')).toMatch(/ipvs \(IPv4, partial\): \d+ steps .*; 1 real servers draining/)
    expect(real(fake, NODEPORT, `${POD2}:8080`)).toMatchObject({ weight: 0, active: 3 })
    expect(real(fake, DNS, `${POD2}:5353`)).toBeUndefined()

    await applyIpvsDelta(deltaIpvsParts(b, parts('A')), 'IPv4', runner)
    expect(real(fake, NODEPORT, `${POD2}:8080`)).toMatchObject({ weight: 1, active: 3 })
    expect(real(fake, DNS, `${POD2}:5353`)?.weight).toBe(1)
  })
})
if (!support.ok) it.skip(`ipvs drain kernel tests: ${support.reason}`, () => {})
