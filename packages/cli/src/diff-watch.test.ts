/**
 * `kproxc diff` and `kproxc watch` end to end through run(): a diff of a state with itself is
 * empty; a one-endpoint diff rewrites a few chains; watch prints the full ruleset once, then only
 * deltas, reports an invalid event and keeps the state it had (the final state compiles to what
 * `kproxc compile` gives for the valid objects).
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { syntheticCluster, toKubectlJSON } from '../../../test/synthetic.js'
import { type IO, run } from './main.js'
import { JSONObjectSplitter } from './watch-stream.js'

async function cli(argv: string[], chunks?: string[], delayMs = 0) {
  let stdout = ''
  let stderr = ''
  const io: IO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: async () => (chunks ?? []).join(''),
    stdinChunks: async function* () {
      for (const c of chunks ?? []) {
        yield c
        await new Promise((r) => setTimeout(r, delayMs))
      }
    },
    stdinIsTTY: chunks === undefined,
    env: {},
  }
  const code = await run(argv, io)
  return { code, stdout, stderr }
}

const dir = mkdtempSync(join(tmpdir(), 'kproxc-diff-'))
const objects = syntheticCluster({ services: 20, endpointsPerService: 3, affinityEvery: 5 })
const oldFile = join(dir, 'old.json')
writeFileSync(oldFile, toKubectlJSON(objects))
const slice = objects.endpointSlices[4]!
const moved = { ...slice, endpoints: (slice.endpoints ?? []).map((e, i) => (i === 0 ? { ...e, addresses: ['10.200.0.9'] } : e)) }
const changed = { ...objects, endpointSlices: objects.endpointSlices.map((s) => (s === slice ? moved : s)) }
const newFile = join(dir, 'new.json')
writeFileSync(newFile, toKubectlJSON(changed))

describe('kproxc diff', () => {
  for (const mode of ['iptables', 'nftables', 'ipvs']) {
    it(`${mode}: nothing from a state to itself`, async () => {
      const r = await cli(['diff', oldFile, '--to', oldFile, '--mode', mode])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toBe('')
    })
  }

  it('iptables: a moved endpoint rewrites its SVC and SEP chains and deletes the old SEP', async () => {
    const r = await cli(['diff', oldFile, '--to', newFile, '--mode', 'iptables'])
    expect(r.code).toBe(0)
    const declared = r.stdout.split('\n').filter((l) => l.startsWith(':'))
    expect(declared).toHaveLength(3)
    expect(r.stdout.split('\n').filter((l) => l.startsWith('-X '))).toHaveLength(1)
    expect(r.stdout).toContain('--to-destination 10.200.0.9:8080')
    expect(r.stdout).not.toContain('KUBE-SERVICES')
  })

  it('nftables text: one chain rewritten (and the hairpin element if the endpoint is local)', async () => {
    const r = await cli(['diff', oldFile, '--to', newFile, '--mode', 'nftables', '--format', 'text'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^add chain ip kube-proxy service-\S+\nflush chain/)
    expect(r.stdout).toContain('10.200.0.9 . 8080')
  })

  it('ipvs: a real server deleted and one added', async () => {
    const r = await cli(['diff', oldFile, '--to', newFile, '--mode', 'ipvs'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/# ==> ipvsadm.rules <==\n-d -t 10\.96\.0\.5:80 -r 10\.128\.\d+\.\d+:8080\n-a -t 10\.96\.0\.5:80 -r 10\.200\.0\.9:8080 -m -w 1\n/)
  })
})

const event = (type: string, kind: string, object: unknown) => `${JSON.stringify({ type, object: { apiVersion: 'v1', kind, ...(object as object) } }, null, 2)}\n`

describe('kproxc watch', () => {
  it('prints the full ruleset, then deltas; invalid events are reported and change nothing', async () => {
    const first = [
      ...objects.nodes.map((n) => event('ADDED', 'Node', n)),
      ...objects.services.map((s) => event('ADDED', 'Service', s)),
      ...objects.endpointSlices.map((s) => event('ADDED', 'EndpointSlice', { ...s, apiVersion: 'discovery.k8s.io/v1' })),
    ].join('')
    const bad = event('MODIFIED', 'Service', { ...objects.services[3], spec: { ...objects.services[3]!.spec, clusterIP: '10.96.0.999' } })
    const second = event('MODIFIED', 'EndpointSlice', { ...moved, apiVersion: 'discovery.k8s.io/v1' }) + 'garbage line\n'
    const w = await cli(['watch', '--mode', 'iptables', '--initial-settle', '0s', '--min-sync-period', '0s', '--config', join(dir, 'config.json')], [first, bad, second], 30)
    expect(w.code).toBe(0)
    expect(w.stderr).toMatch(/event \d+: invalid Service, skipped/)
    expect(w.stderr).toContain('not JSON')
    expect(w.stderr).toMatch(/sync 1 \(full\)/)
    const full = await cli(['compile', oldFile, '--mode', 'iptables'])
    expect(w.stdout.startsWith(full.stdout)).toBe(true)
    const delta = await cli(['diff', oldFile, '--to', newFile, '--mode', 'iptables'])
    expect(w.stdout.slice(full.stdout.length)).toBe(delta.stdout)
  })
})

describe('JSONObjectSplitter', () => {
  it('splits pretty-printed objects in any chunking, strings with braces included', () => {
    const text = `${JSON.stringify({ a: '}{"', b: [1, { c: '\\"}' }] }, null, 2)}\n${JSON.stringify({ d: 1 }, null, 2)}\n`
    for (let size = 1; size < 20; size++) {
      const s = new JSONObjectSplitter()
      const out: string[] = []
      for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)))
      expect(out.map((x) => JSON.parse(x))).toEqual([{ a: '}{"', b: [1, { c: '\\"}' }] }, { d: 1 }])
    }
  })
})
writeFileSync(join(dir, 'config.json'), JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', ...objects.config }))

describe('progress', () => {
  it('shows phases on a terminal stderr and erases them; never when stderr is not a terminal', async () => {
    for (const tty of [true, false]) {
      let stderr = ''
      let stdout = ''
      const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, stderrIsTTY: tty, env: {} }
      expect(await run(['compile', oldFile, '--mode', 'iptables'], io)).toBe(0)
      expect(stdout).toContain('*nat')
      if (tty) {
        expect(stderr).toContain('kproxc: building the model…')
        expect(stderr).toContain('compiling 20 service ports for iptables')
        expect(stderr.endsWith('\r\u001b[K')).toBe(true)
      } else expect(stderr).toBe('')
    }
  })
})

describe('progress in every long-running command', () => {
  const commands: [string, string[], RegExp][] = [
    ['model', ['model', oldFile], /building the model/],
    ['stats', ['stats', oldFile], /counting rules in every mode/],
    ['diff', ['diff', oldFile, '--to', newFile, '--mode', 'nftables'], /computing the delta to NEW/],
    ['apply --dry-run', ['apply', oldFile, '--mode', 'nftables', '--dry-run'], /planning 20 service ports in nftables mode/],
  ]
  for (const [name, argv, phase] of commands) {
    it(`${name}: phases on a terminal, erased; stdout the same as without a terminal`, async () => {
      const runs = []
      for (const tty of [true, false]) {
        let stderr = ''
        let stdout = ''
        const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, stderrIsTTY: tty, env: { PATH: '/nonexistent' } }
        const code = await run(argv, io)
        runs.push({ code, stdout, stderr })
      }
      const [tty, plain] = runs
      expect(tty?.stdout).toBe(plain?.stdout)
      expect(tty?.code).toBe(plain?.code)
      expect(tty?.stderr).toMatch(phase)
      expect(tty?.stderr).toMatch(/kproxc: reading/)
      expect(plain?.stderr).not.toMatch(/\r/)
    })
  }
})
