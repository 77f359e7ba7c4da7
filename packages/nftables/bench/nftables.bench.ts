/**
 * nftables backend benchmarks: 1k and 10k Services × 10 endpoints (test/synthetic.ts), both
 * formats. "library" = backend.emit on a built model (compile + render); "CLI" = `kproxc compile`
 * run in-process from a kubectl JSON file to an output file (load, validate, model, compile,
 * render, write). With root, the time `nft -j -f` / `nft -f` take to load the same output into a
 * fresh lab namespace is measured too, so compile time can be put against it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildModel } from '@kproxc/core'
import { bench, describe } from 'vitest'
import { run } from '../../cli/src/main.js'
import { Lab, kernelSupport } from '../../../test/lab.js'
import { syntheticCluster, toKubectlJSON } from '../../../test/synthetic.js'
import { backend } from '../src/index.js'
import { nftFile } from '../src/nft-test-util.js'

const dir = mkdtempSync(join(tmpdir(), 'kproxc-nft-bench-'))
const io = { stdout: () => {}, stderr: (t: string) => process.stderr.write(t), stdin: async () => '', stdinIsTTY: false, env: {} }
const kernel = kernelSupport(['nft']).ok
let lab: Lab | undefined

for (const services of [1000, 10000]) {
  const objects = syntheticCluster({ services, endpointsPerService: 10 })
  const model = buildModel(objects, { mode: 'nftables', families: ['IPv4'] })
  const input = join(dir, `cluster-${services}.json`)
  writeFileSync(input, toKubectlJSON(objects))
  const out = { json: backend.emit(model, { family: 'IPv4', format: 'json', options: {} })[0]!.content, text: backend.emit(model, { family: 'IPv4', format: 'text', options: {} })[0]!.content }
  const opts = { iterations: services >= 10000 ? 10 : 30, warmupIterations: 2, time: 0 }

  describe(`${services} services × 10 endpoints`, () => {
    for (const format of ['json', 'text'] as const) {
      bench(`library emit (${format})`, () => {
        backend.emit(model, { family: 'IPv4', format, options: {} })
      }, opts)
    }
    for (const format of ['json', 'text'] as const) {
      bench(`CLI compile from kubectl JSON (${format})`, async () => {
        const code = await run(['compile', input, '--mode', 'nftables', '--format', format, '-o', join(dir, `out-${services}.${format}`)], io)
        if (code !== 0) throw new Error(`kproxc exited ${code}`)
      }, { ...opts, iterations: Math.max(3, opts.iterations / 2) })
    }
  })

  describe.skipIf(!kernel)(`${services} services × 10 endpoints: nft load into a fresh namespace`, () => {
    for (const format of ['json', 'text'] as const) {
      bench(`nft ${format === 'json' ? '-j ' : ''}-f (${format}, ${(out[format].length / 1e6).toFixed(1)} MB)`, async () => {
        await lab!.execOk('node', ['nft', 'flush', 'ruleset'])
        const r = await nftFile(lab!, 'node', format === 'json' ? ['-j', '-f'] : ['-f'], out[format])
        if (r.code !== 0) throw new Error(r.stderr)
      }, {
        iterations: 3,
        warmupIterations: 0,
        time: 0,
        // Bench mode runs no vitest hooks: tinybench's own setup/teardown own the lab (not timed).
        setup: async () => {
          lab ??= await Lab.create({ ipv4: '192.168.0.2' }, 'kpxb')
        },
        teardown: async () => {
          await lab?.destroy()
          lab = undefined
        },
      })
    }
  })
}
