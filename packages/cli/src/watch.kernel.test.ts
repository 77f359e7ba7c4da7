/**
 * `kproxc watch --apply` in a real network namespace: the watch stream of state A, then the events
 * that turn it into state B (test/apply-scenario.ts). The first sync is a full apply, the second a
 * partial one that sends only the delta to the kernel; afterwards the kernel holds exactly what a
 * fresh `kproxc apply` of B programs, and traffic follows B. A partial apply that fails is followed
 * at once by a full apply of the same state. On a dual-stack node both families are programmed and
 * each gets its own delta.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LoadedObjects, type ProxyMode, buildModel, loadObjects } from '@kproxc/core'
import { type Runner, spawnRunner } from '@kproxc/iptables/apply'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAfterEach } from '../../../test/cleanup.js'
import { addScenarioPods, normalizeSave, scenarioModel, scenarioYaml } from '../../../test/apply-scenario.js'
import { Lab, kernelSupport, tally } from '../../../test/lab.js'
import { type Fakes, makeFakes } from '../../ipvs/src/__fixtures__/fakes.js'
import { APPLIERS } from './commands/apply.js'
import { runWatch } from './watch-harness.js'

const support = kernelSupport(['iptables-restore', 'iptables-save', 'nft', 'ipset'])
const support6 = kernelSupport(['iptables-restore', 'iptables-save', 'ip6tables-restore', 'ip6tables-save'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'
const dir = mkdtempSync(join(tmpdir(), 'kproxc-watch-'))
const configFile = join(dir, 'config.json')
writeFileSync(configFile, JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', clusterCIDR: '10.244.0.0/16' }))

const cleanup = cleanupAfterEach()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const objectsOf = (state: 'A' | 'B'): LoadedObjects => loadObjects([{ name: `state-${state}.yaml`, text: scenarioYaml(state) }])
const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1' }
const event = (type: string, kind: string, object: unknown) =>
  `${JSON.stringify({ type, object: { apiVersion: API[kind], kind, ...(object as object) } }, null, 2)}\n`

/** The watch stream: every object of A added, then what changes A into B (kubectl's event order). */
function stream(): string[] {
  const a = objectsOf('A')
  const b = objectsOf('B')
  const first = [
    ...a.nodes.map((n) => event('ADDED', 'Node', n)),
    ...a.services.map((s) => event('ADDED', 'Service', s)),
    ...a.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s)),
  ].join('')
  const second = [
    ...b.services.map((s) => event('MODIFIED', 'Service', s)),
    ...b.endpointSlices.map((s) => event('MODIFIED', 'EndpointSlice', s)),
    event('DELETED', 'EndpointSlice', a.endpointSlices.find((s) => s.metadata.name === 'gone-x')),
    event('DELETED', 'Service', a.services.find((s) => s.metadata.name === 'gone')),
  ].join('')
  return [first, second]
}

/**
 * Runs `kproxc watch --apply` with this runner over the stream; chunks a second apart (separate
 * syncs), `between` run after each pause.
 */
async function watch(mode: ProxyMode, runner: Runner, extra: string[] = [], chunks = stream(), between: () => Promise<void> = async () => {}): Promise<{ stdout: string; stderr: string }> {
  const argv = ['--mode', mode, '--apply', '--initial-settle', '0s', '--min-sync-period', '0s', '--node', 'n1', '--config', configFile, ...extra]
  return runWatch({ argv, chunks, runner, gapMs: 1000, between, env: process.env })
}

async function node(pods = false): Promise<{ lab: Lab; runner: Runner }> {
  const lab = await Lab.create({ ipv4: '192.168.0.2' })
  cleanup(() => lab.destroy())
  if (pods) await addScenarioPods(lab)
  return { lab, runner: spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')] }) }
}

const nftTable = async (lab: Lab) => (await lab.execOk('node', ['nft', 'list', 'table', 'ip', 'kube-proxy'])).split('\n').map((l) => l.trim()).filter(Boolean).sort().join('\n')

describe.skipIf(!support.ok)('kproxc watch --apply in a network namespace', () => {
  it('iptables: a full apply, then only the delta; the kernel ends as a fresh apply of B, and traffic follows', async () => {
    const { lab, runner } = await node(true)
    const calls: string[] = []
    const recording: Runner = (c) => {
      calls.push(`${c.argv.join(' ')}\n${c.stdin ?? ''}`)
      return runner(c)
    }
    const w = await watch('iptables', recording, ['--no-nfacct'])
    expect(w.stderr).toMatch(/sync 1 \(full\)/)
    expect(w.stderr).toMatch(/sync 2 \(partial\)/)
    expect(w.stderr).toMatch(/iptables \(partial\): \d+ chains and \d+ rules rewritten, \d+ stale chains deleted/)
    // The partial sync sent the delta printed on stdout, and nothing else that changes the kernel.
    const partial = calls.filter((c) => c.startsWith('iptables-restore --noflush --wait\n')).pop() ?? ''
    expect(w.stdout.endsWith(partial.slice(partial.indexOf('\n') + 1))).toBe(true)
    expect(partial).not.toContain('-A KUBE-SERVICES -d 10.96.0.53/32')

    const fresh = await node()
    await APPLIERS.iptables(scenarioModel('B', 'iptables'), { runner: fresh.runner, options: { nfacct: false } })
    expect(normalizeSave(await lab.execOk('node', ['iptables-save']))).toBe(normalizeSave(await fresh.lab.execOk('node', ['iptables-save'])))
    expect(tally(await lab.probe('client', '10.96.0.10', 81, { count: 10 }))).toEqual({ pod1: 10 })
    expect(tally(await lab.probe('client', '10.96.0.99', 80, { count: 2, timeoutMs: 500 }))).not.toHaveProperty('pod2')
  })

  it('iptables: a failing partial apply is followed by a full apply of the same state', async () => {
    const { lab, runner } = await node()
    let restores = 0
    const flaky: Runner = async (c) => {
      if (c.argv[0] === 'iptables-restore' && ++restores === 2) return { code: 2, stdout: '', stderr: 'iptables-restore: line 3 failed (injected)' }
      return runner(c)
    }
    const w = await watch('iptables', flaky, ['--no-nfacct'])
    expect(w.stderr).toContain('partial apply failed, applying the full ruleset: iptables-restore --noflush --wait failed')
    expect(restores).toBeGreaterThanOrEqual(3)
    const fresh = await node()
    await APPLIERS.iptables(scenarioModel('B', 'iptables'), { runner: fresh.runner, options: { nfacct: false } })
    expect(normalizeSave(await lab.execOk('node', ['iptables-save']))).toBe(normalizeSave(await fresh.lab.execOk('node', ['iptables-save'])))
  })

  it('iptables: the periodic full sync repairs a chain flushed behind its back; without it the damage stays', async () => {
    const fresh = await node()
    await APPLIERS.iptables(scenarioModel('A', 'iptables'), { runner: fresh.runner, options: { nfacct: false } })
    const expected = normalizeSave(await fresh.lab.execOk('node', ['iptables-save']))
    const onlyA = [stream()[0] as string]
    for (const period of ['300ms', '0']) {
      const { lab, runner } = await node()
      const tamper = async () => {
        await lab.execOk('node', ['iptables', '-t', 'nat', '-F', 'KUBE-SERVICES'])
        await new Promise((r) => setTimeout(r, 1000))
      }
      const w = await watch('iptables', runner, ['--no-nfacct', '--full-sync-period', period], onlyA, tamper)
      const state = normalizeSave(await lab.execOk('node', ['iptables-save']))
      if (period === '0') {
        expect(w.stderr).not.toContain('periodic full sync')
        expect(state).not.toBe(expected)
      } else {
        expect(w.stderr).toContain('kproxc watch: periodic full sync')
        expect(state).toBe(expected)
      }
    }
  })

  it('nftables: a full apply, then one delta transaction; the table ends as a fresh apply of B', async () => {
    const { lab, runner } = await node(true)
    const w = await watch('nftables', runner)
    expect(w.stderr).toMatch(/nftables \(partial\): \d+ operations in one transaction/)
    const fresh = await node()
    await APPLIERS.nftables(scenarioModel('B', 'nftables'), { runner: fresh.runner })
    expect(await nftTable(lab)).toBe(await nftTable(fresh.lab))
    expect(tally(await lab.probe('client', '10.96.0.10', 81, { count: 10 }))).toEqual({ pod1: 10 })
  })

  it('nftables text format: the delta applies as nft text', async () => {
    const { lab, runner } = await node()
    const w = await watch('nftables', runner, ['--format', 'text'])
    expect(w.stderr).toMatch(/nftables \(partial\): \d+ commands in one transaction/)
    const fresh = await node()
    await APPLIERS.nftables(scenarioModel('B', 'nftables'), { runner: fresh.runner })
    expect(await nftTable(lab)).toBe(await nftTable(fresh.lab))
  })

  it('ipvs (real ipsets and iptables, fake ipvsadm/ip/sysctl): the delta leaves what a fresh apply of B leaves', async () => {
    const { lab } = await node()
    const fake = makeFakes(['ipvsadm', 'ip', 'sysctl'])
    cleanup(() => fake.cleanup())
    const runner = spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')], env: fake.env })
    const w = await watch('ipvs', runner)
    expect(w.stderr).toMatch(/ipvs \(IPv4, partial\): \d+ steps/)
    const state = async (l: Lab, f: Fakes) => ({
      iptables: normalizeSave(await l.execOk('node', ['iptables-save'])),
      // `create` lines carry a random initval: the members are the state.
      ipset: (await l.execOk('node', ['ipset', 'save'])).split('\n').filter((x) => x.startsWith('add ')).sort().join('\n'),
      ipvs: f.state(),
    })
    const after = await state(lab, fake)
    const fresh = await node()
    const freshFake = makeFakes(['ipvsadm', 'ip', 'sysctl'])
    cleanup(() => freshFake.cleanup())
    await APPLIERS.ipvs(scenarioModel('B', 'ipvs'), { runner: spawnRunner({ prefix: [IP, 'netns', 'exec', fresh.lab.ns('node')], env: freshFake.env }) })
    const expected = await state(fresh.lab, freshFake)
    expect(after.iptables).toBe(expected.iptables)
    expect(after.ipset).toBe(expected.ipset)
    const servers = (s: typeof after.ipvs) => s.services.map((v) => `${v.line} ${v.reals.map((r) => `${r.addr} ${r.weight}`).sort().join(',')}`).sort()
    expect(servers(after.ipvs)).toEqual(servers(expected.ipvs))
    expect([...after.ipvs.addrs].sort()).toEqual([...expected.ipvs.addrs].sort())
  })
})

/**
 * Dual stack (fixtures/dual-stack as state A; B drops web's endpoints on n2 in both families and
 * deletes web6): watch --apply programs both families, the second sync is a partial one in each,
 * and the kernel ends as a fresh `apply` of B leaves it.
 */
describe.skipIf(!support6.ok)('kproxc watch --apply on a dual-stack node', () => {
  const inputA = readFileSync(new URL('../../../fixtures/dual-stack/input.yaml', import.meta.url), 'utf8')
  const inputB = inputA
    .replace(/  - addresses:\n      - "10\.244\.2\.5"\n[\s\S]*?nodeName: n2\n/, '')
    .replace(/  - addresses:\n      - "fd00:244:2::5"\n[\s\S]*?nodeName: n2\n/, '')
  const dsConfig = join(dir, 'dual-stack-config.yaml')
  writeFileSync(dsConfig, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: "10.244.0.0/16,fd00:244::/48"\n')
  const a = loadObjects([{ name: 'a.yaml', text: inputA }])
  const b = loadObjects([{ name: 'b.yaml', text: inputB }])
  const changed = b.endpointSlices.filter((s) => JSON.stringify(s) !== JSON.stringify(a.endpointSlices.find((x) => x.metadata.name === s.metadata.name)))
  const chunks = [
    [...a.nodes.map((n) => event('ADDED', 'Node', n)), ...a.services.map((s) => event('ADDED', 'Service', s)), ...a.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s))].join(''),
    [
      ...changed.map((s) => event('MODIFIED', 'EndpointSlice', s)),
      event('DELETED', 'EndpointSlice', a.endpointSlices.find((s) => s.metadata.name === 'web6-v4')),
      event('DELETED', 'Service', a.services.find((s) => s.metadata.name === 'web6')),
    ].join(''),
  ]
  const modelB = (mode: ProxyMode) => buildModel({ ...b, services: b.services.filter((s) => s.metadata.name !== 'web6'), endpointSlices: b.endpointSlices.filter((s) => s.metadata.name !== 'web6-v4') }, { mode, nodeName: 'n1' })
  const dualLab = async () => {
    const lab = await Lab.create({ ipv4: '192.168.0.2', ipv6: 'fd00:0:0:1::2' })
    cleanup(() => lab.destroy())
    return { lab, runner: spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')] }) }
  }

  it('iptables: both families fully applied, then each family\'s delta; iptables-save and ip6tables-save equal a fresh apply of B', async () => {
    expect(changed.map((s) => s.metadata.name).sort()).toEqual(['web-v4', 'web-v6'])
    const { lab, runner } = await dualLab()
    const w = await watch('iptables', runner, ['--no-nfacct', '--config', dsConfig], chunks)
    expect(w.stderr).toMatch(/sync 2 \(partial\)/)
    expect(w.stderr).toMatch(/kproxc watch: IPv4: iptables \(partial\): \d+ chains/)
    expect(w.stderr).toMatch(/kproxc watch: IPv6: ip6tables \(partial\): \d+ chains and \d+ rules rewritten, \d+ stale chains deleted/)
    expect(w.stdout).not.toContain('fd00:')

    const fresh = await dualLab()
    const model = modelB('iptables')
    expect(model.families.map((f) => f.family)).toEqual(['IPv4', 'IPv6'])
    await APPLIERS.iptables(model, { runner: fresh.runner, options: { nfacct: false } })
    for (const save of ['iptables-save', 'ip6tables-save']) {
      const got = normalizeSave(await lab.execOk('node', [save]))
      expect(got, save).toContain('KUBE-SERVICES')
      expect(got, save).toBe(normalizeSave(await fresh.lab.execOk('node', [save])))
    }
  })

  it.skipIf(!support.ok)('nftables: one delta transaction per family; tables ip and ip6 kube-proxy equal a fresh apply of B', async () => {
    const { lab, runner } = await dualLab()
    const w = await watch('nftables', runner, ['--config', dsConfig], chunks)
    expect(w.stderr).toMatch(/kproxc watch: IPv4: nftables \(partial\)[\s\S]*kproxc watch: IPv6: nftables \(partial\)/)
    const fresh = await dualLab()
    await APPLIERS.nftables(modelB('nftables'), { runner: fresh.runner })
    for (const family of ['ip', 'ip6']) {
      const table = async (l: Lab) => (await l.execOk('node', ['nft', 'list', 'table', family, 'kube-proxy'])).split('\n').map((x) => x.trim()).filter(Boolean).sort().join('\n')
      const got = await table(lab)
      expect(got, family).toContain('service-')
      expect(got, family).toBe(await table(fresh.lab))
    }
  })
})
