/**
 * `kproxc watch` over several event streams, as a node runs it: one kubectl watch per resource type
 * (kubectl refuses to watch several types in one command), each stream split on its own, and the
 * first sync held until every stream's initial listing is in, so a node is never programmed with
 * Services whose EndpointSlices have not arrived yet.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadObjects } from '@kproxc/core'
import { afterAll, describe, expect, it } from 'vitest'
import type { IO } from './io.js'
import { run } from './main.js'
import { type EventStream, followStreams } from './watch-input.js'

const dir = mkdtempSync(join(tmpdir(), 'kproxc-watch-streams-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const API: Record<string, string> = { Service: 'v1', Node: 'v1', EndpointSlice: 'discovery.k8s.io/v1' }
// Pretty-printed like kubectl's -o json, so every object spans many lines.
const event = (kind: string, object: object) => `${JSON.stringify({ type: 'ADDED', object: { apiVersion: API[kind], kind, ...object } }, null, 4)}\n`

async function* chunked(text: string, size: number, pause: number, delay = 0): AsyncIterable<string> {
  if (delay) await sleep(delay)
  for (let i = 0; i < text.length; i += size) {
    yield text.slice(i, i + size)
    await sleep(pause)
  }
}

describe('followStreams', () => {
  it('splits each stream on its own, keeps each stream in order, and settles once both listings are in', async () => {
    const a = Array.from({ length: 5 }, (_, i) => JSON.stringify({ stream: 'a', i, pad: 'x'.repeat(50) }, null, 2)).join('\n')
    const b = Array.from({ length: 4 }, (_, i) => JSON.stringify({ stream: 'b', i, note: 'braces } { and "quotes" inside' }, null, 2)).join('\n')
    const streams: EventStream[] = [
      { name: 'a', chunks: chunked(a, 7, 1) },
      { name: 'b', chunks: chunked(b, 11, 1, 80) },
    ]
    const seen: { stream: string; value: { stream: string; i: number } }[] = []
    let settledAfter = -1
    await followStreams(streams, 30, (text, stream) => seen.push({ stream, value: JSON.parse(text) }), () => {
      settledAfter = seen.length
    })
    expect(seen.filter((e) => e.stream === 'a').map((e) => e.value)).toEqual(a.split('\n}\n').map((_, i) => expect.objectContaining({ stream: 'a', i })))
    expect(seen.filter((e) => e.stream === 'b').map((e) => e.value.i)).toEqual([0, 1, 2, 3])
    // Stream b starts 80 ms late: nothing may settle before all of its listing is in.
    expect(settledAfter).toBe(9)
  })

  it('does not hold the first sync for ever on a stream that is never quiet', async () => {
    let sent = 0
    const busy: EventStream = {
      name: 'nodes',
      chunks: (async function* () {
        for (; sent < 40; sent++) {
          yield `{"n":${sent}}`
          await sleep(20)
        }
      })(),
    }
    let settledAt = -1
    await followStreams([busy], 100, () => {}, () => (settledAt = sent), 300)
    // Settled by the hold limit while the stream was still sending, not at its end.
    expect(settledAt).toBeGreaterThan(0)
    expect(settledAt).toBeLessThan(30)
  })

  it('closes every other stream when one fails, and throws that failure once all have stopped', async () => {
    let closed = false
    let afterFailure = 0
    let failed = false
    const endless: EventStream = {
      name: 'endless',
      chunks: (async function* () {
        for (let i = 0; !closed && i < 500; i++) {
          yield `{"i":${i}}`
          await sleep(5)
        }
      })(),
      close: () => (closed = true),
    }
    const broken: EventStream = {
      name: 'broken',
      chunks: (async function* () {
        yield '{"ok":1}'
        await sleep(30)
        failed = true
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })
      })(),
    }
    const err = await followStreams([endless, broken], 0, (_, stream) => void (failed && stream === 'endless' && afterFailure++), () => {}).catch((e: unknown) => e)
    expect(String(err)).toContain('cannot read broken: EIO: i/o error, read')
    expect(closed).toBe(true)
    // At most the chunk that was already on its way.
    expect(afterFailure).toBeLessThanOrEqual(1)
  })

  it('does not wait for ever on a stream that sends nothing', async () => {
    let settled = 0
    const silent: EventStream = { name: 'silent', chunks: (async function* () { await sleep(700) })() }
    const started = Date.now()
    await followStreams([{ name: 'a', chunks: chunked('{"a":1}', 100, 0) }, silent], 0, () => {}, () => (settled = Date.now() - started))
    // The silent stream ended after 700 ms, which also settles; settling counts once.
    expect(settled).toBeGreaterThanOrEqual(650)
  })
})

describe('kproxc watch FILE...', () => {
  const input = readFileSync(new URL('../../../fixtures/clusterip-multiport/input.yaml', import.meta.url), 'utf8')
  const objects = loadObjects([{ name: 'in.yaml', text: input }])
  const nodesAndServices = [...objects.nodes.map((n) => event('Node', n)), ...objects.services.map((s) => event('Service', s))].join('')
  const slices = objects.endpointSlices.map((s) => event('EndpointSlice', s)).join('')

  async function watch(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = ''
    let stderr = ''
    const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, env: {} }
    const code = await run(['watch', '--mode', 'iptables', '--no-nfacct', ...args], io)
    return { code, stdout, stderr }
  }

  it('reads one stream per type, and the first sync waits for the slow one', async () => {
    const services = join(dir, 'services.json')
    writeFileSync(services, nodesAndServices)
    // A FIFO whose writer starts late, like a kubectl that connects after the others.
    const fifo = join(dir, 'slices.fifo')
    execFileSync('mkfifo', [fifo])
    const writer = open(fifo, 'w').then(async (h) => {
      await sleep(300)
      await h.writeFile(slices)
      await h.close()
    })
    const [w] = await Promise.all([watch(['--initial-settle', '100ms', services, fifo]), writer])
    expect(w.stderr.slice(0, 600)).toMatch(/^kproxc watch: sync 1/)
    expect(w.code).toBe(0)
    expect(w.stderr).toMatch(/^kproxc watch: sync 1 \(full\): \d+ object changes/)
    expect(w.stderr).not.toContain('sync 2')
    // What compile prints for the same objects (watch takes no configuration from its streams).
    const withoutConfig = input.split(/^---$/m).filter((doc) => !doc.includes('kind: KubeProxyConfiguration')).join('---')
    let compiled = ''
    await run(['compile', '--mode', 'iptables', '--no-nfacct', '-'], { stdout: (t) => void (compiled += t), stderr: () => {}, stdin: async () => withoutConfig, stdinIsTTY: false, env: {} })
    expect(compiled).toContain('KUBE-SVC-')
    expect(w.stdout).toBe(compiled)
  })

  it('names the stream of an invalid event, and a missing file is a usage error', async () => {
    const good = join(dir, 'good.json')
    const bad = join(dir, 'bad.json')
    writeFileSync(good, nodesAndServices + slices)
    writeFileSync(bad, '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"ports":[{"port":99999}]}}}\n')
    const w = await watch(['--initial-settle', '0s', good, bad])
    expect(w.code).toBe(0)
    expect(w.stderr).toContain(`kproxc watch: ${bad}: event`)
    const missing = await watch([join(dir, 'nope.json')])
    expect(missing.code).toBe(2)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toContain('nope.json: no such file')
    const directory = await watch([good, dir])
    expect(directory.code).toBe(2)
    expect(directory.stderr).toContain(`cannot read ${dir}: a directory`)
  })

  it('keeps events that came before the Node under their object, so a later delete still wins', async () => {
    const service = objects.services[0] as (typeof objects.services)[number]
    const deleted = `${JSON.stringify({ type: 'DELETED', object: { apiVersion: 'v1', kind: 'Service', ...service } })}\n`
    const rest = objects.nodes.map((n) => event('Node', n)).join('') + slices
    // One stream, in three bursts: the Service, its deletion, then the Node and the slices.
    const io: IO = {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      stdin: async () => '',
      stdinChunks: async function* () {
        yield event('Service', service)
        await sleep(80)
        yield deleted
        await sleep(80)
        yield rest
      },
      stdinIsTTY: false,
      env: {},
    }
    let out = ''
    let err = ''
    expect(await run(['watch', '--mode', 'iptables', '--no-nfacct', '--initial-settle', '0s', '--min-sync-period', '0s'], io)).toBe(0)
    expect(err).toContain('cannot build the model yet')
    expect(out).toContain('*nat')
    expect(out).not.toContain(service.metadata.name)
  })
})
