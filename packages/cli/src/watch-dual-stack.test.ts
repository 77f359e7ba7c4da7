/**
 * `kproxc watch --apply` on a dual-stack node (fixtures/dual-stack), with a recording runner in
 * place of the tools: the first sync programs both families, a change to both families sends each
 * family's delta to its own tool, a failed IPv6 delta brings a full apply of both, and stdout stays
 * the primary family's output, byte for byte what `compile` and `diff` print. --ip-family keeps
 * watch to one family.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LoadedObjects, loadObjects } from '@kproxc/core'
import type { Command, Runner } from '@kproxc/iptables/apply'
import { afterAll, describe, expect, it } from 'vitest'
import { runWatch } from './watch-harness.js'
import type { IO } from './io.js'
import { run } from './main.js'

const dir = mkdtempSync(join(tmpdir(), 'kproxc-watch-ds-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const inputA = readFileSync(new URL('../../../fixtures/dual-stack/input.yaml', import.meta.url), 'utf8')
// B: web loses its endpoints on n2 in both families, so both families' rules change.
const inputB = inputA.replace(/  - addresses:\n      - "10\.244\.2\.5"\n[\s\S]*?nodeName: n2\n/, '').replace(/  - addresses:\n      - "fd00:244:2::5"\n[\s\S]*?nodeName: n2\n/, '')
const fileA = join(dir, 'a.yaml')
const fileB = join(dir, 'b.yaml')
writeFileSync(fileA, inputA)
writeFileSync(fileB, inputB)
const configFile = join(dir, 'config.yaml')
writeFileSync(configFile, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: "10.244.0.0/16,fd00:244::/48"\n')

const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1' }
const event = (type: string, kind: string, object: unknown) => `${JSON.stringify({ type, object: { apiVersion: API[kind], kind, ...(object as object) } }, null, 2)}\n`
const objects = (text: string): LoadedObjects => loadObjects([{ name: 'x.yaml', text }])

/** Every object of A added; then B's changed slices. */
function stream(): string[] {
  const a = objects(inputA)
  const b = objects(inputB)
  const first = [...a.nodes.map((n) => event('ADDED', 'Node', n)), ...a.services.map((s) => event('ADDED', 'Service', s)), ...a.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', s))]
  const changed = b.endpointSlices.filter((s) => JSON.stringify(s) !== JSON.stringify(a.endpointSlices.find((x) => x.metadata.name === s.metadata.name)))
  expect(changed.map((s) => s.metadata.name).sort()).toEqual(['web-v4', 'web-v6'])
  return [first.join(''), changed.map((s) => event('MODIFIED', 'EndpointSlice', s)).join('')]
}

/** A runner that records every command and succeeds, reading an empty kernel; `fail` picks commands to fail. */
function recorder(fail: (c: Command, n: number) => boolean = () => false): { runner: Runner; calls: Command[] } {
  const calls: Command[] = []
  const runner: Runner = async (c) => {
    calls.push(c)
    if (fail(c, calls.filter((x) => x.argv[0] === c.argv[0]).length)) return { code: 2, stdout: '', stderr: `${c.argv[0]}: line 2 failed (injected)` }
    return { code: 0, stdout: '', stderr: '' }
  }
  return { runner, calls }
}

async function watch(args: string[], runner: Runner, chunks = stream(), base = ['--mode', 'iptables', '--no-nfacct', '--initial-settle', '0s', '--min-sync-period', '0s', '--config', configFile]): Promise<{ stdout: string; stderr: string }> {
  return runWatch({ argv: [...base, ...args], chunks, runner })
}

async function cli(argv: string[]): Promise<string> {
  let stdout = ''
  const io: IO = { stdout: (t) => void (stdout += t), stderr: () => {}, stdin: async () => '', stdinIsTTY: true, env: {} }
  expect(await run(argv, io)).toBe(0)
  return stdout
}

const restores = (calls: readonly Command[]) => calls.filter((c) => /^ip6?tables-restore$/.test(c.argv[0] ?? '')).map((c) => c.argv[0])
/** A full apply restores KUBE-SERVICES from scratch; a delta never declares it. */
const isFull = (c: Command) => (c.stdin ?? '').includes(':KUBE-SERVICES - [0:0]\n')

describe('kproxc watch --apply on a dual-stack node', () => {
  it('programs both families: a full apply of both, then each family\'s delta; stdout is IPv4 only, as compile and diff print it', async () => {
    const { runner, calls } = recorder()
    const w = await watch(['--apply'], runner)
    expect(w.stderr).toMatch(/sync 1 \(full\)[\s\S]*sync 2 \(partial\)/)
    const [firstSync, secondSync] = splitAtPartial(calls, w)
    expect(restores(firstSync)).toEqual(['iptables-restore', 'ip6tables-restore'])
    expect(firstSync.filter((c) => /restore$/.test(c.argv[0] ?? '')).every(isFull)).toBe(true)
    expect(restores(secondSync)).toEqual(['iptables-restore', 'ip6tables-restore'])
    expect(secondSync.some(isFull)).toBe(false)
    const [v4, v6] = secondSync
    expect(v4?.stdin).toContain('10.244.1.5')
    expect(v4?.stdin).not.toContain('fd00:')
    expect(v6?.stdin).toContain('fd00:244:1::5')
    expect(w.stderr).toMatch(/kproxc watch: IPv6: ip6tables \(partial\): \d+ chains/)

    const full = await cli(['compile', fileA, '--mode', 'iptables', '--no-nfacct'])
    const delta = await cli(['diff', fileA, '--to', fileB, '--mode', 'iptables', '--no-nfacct'])
    expect(delta).not.toBe('')
    expect(w.stdout).toBe(full + delta)
    expect(v4?.stdin).toBe(delta)
    // Without --apply nothing changes on stdout either.
    expect((await watch([], recorder().runner)).stdout).toBe(w.stdout)
  })

  it('--ip-family IPv6 programs and prints IPv6 only', async () => {
    const { runner, calls } = recorder()
    const w = await watch(['--apply', '--ip-family', 'IPv6'], runner)
    expect(restores(calls)).toEqual(['ip6tables-restore', 'ip6tables-restore'])
    expect(calls.some((c) => c.argv[0]?.startsWith('iptables'))).toBe(false)
    const full = await cli(['compile', fileA, '--mode', 'iptables', '--no-nfacct', '--ip-family', 'ipv6'])
    expect(w.stdout.startsWith(full)).toBe(true)
    expect(w.stdout).not.toContain('10.96.0.10')
  })

  it('a failed IPv6 delta is followed by a full apply of both families', async () => {
    const { runner, calls } = recorder((c, n) => c.argv[0] === 'ip6tables-restore' && n === 2)
    const w = await watch(['--apply'], runner)
    expect(w.stderr).toContain('partial apply failed, applying the full ruleset: ip6tables-restore --noflush --wait failed')
    const [, secondSync] = splitAtPartial(calls, w)
    const writes = secondSync.filter((c) => /restore$/.test(c.argv[0] ?? ''))
    expect(writes.map((c) => `${c.argv[0]} ${isFull(c) ? 'full' : 'delta'}`)).toEqual([
      'iptables-restore delta', 'ip6tables-restore delta', 'iptables-restore full', 'ip6tables-restore full',
    ])
  })
})

/** The commands of the first sync and of the second: the second starts after the first sync's last restore. */
function splitAtPartial(calls: readonly Command[], w: { stderr: string }): [Command[], Command[]] {
  expect(w.stderr).toMatch(/sync 2 \(partial\)/)
  // The first sync restores each family once: everything after the second restore belongs to sync 2.
  let seen = 0
  const at = calls.findIndex((c) => /restore$/.test(c.argv[0] ?? '') && ++seen === 3)
  return at < 0 ? [[...calls], []] : [calls.slice(0, at), calls.slice(at)]
}
