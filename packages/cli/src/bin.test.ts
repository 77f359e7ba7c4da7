/**
 * The built bin loads its bundle through a V8 code cache (bin/load-bundle.js). These tests run
 * against packages/cli/dist (built by `pnpm install`'s prepare step, so always present in CI): the
 * cache a build leaves is accepted by a plain `node`, a damaged cache is ignored without changing
 * behaviour, and the cached bin prints the golden files.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const dist = `${root}packages/cli/dist/`
const bin = `${root}packages/cli/bin/kproxc.js`
const loader = `${root}packages/cli/bin/load-bundle.js`
const built = existsSync(`${dist}main.cjs`)
if (!built && process.env.CI === 'true') throw new Error('packages/cli/dist is not built; CI builds it in `pnpm install` (prepare)')

/** What loadBundle reports in a fresh `node` (no vitest flags), and the version the bundle prints. */
function loadIn(cacheFile: string, bundle = `${dist}main.cjs`): { cache: string; out: string } {
  const code = `
    const { loadBundle } = await import(${JSON.stringify(loader)})
    const r = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheFile)})
    let out = ''
    const io = { stdout: (t) => (out += t), stderr: (t) => (out += t), stdin: async () => '', stdinIsTTY: false, env: {} }
    await r.exports.run(['--version'], io)
    console.log(JSON.stringify({ cache: r.cache, out }))`
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' })
  expect(p.stderr).toBe('')
  return JSON.parse(p.stdout) as { cache: string; out: string }
}

describe.skipIf(!built)('the built bin and its code cache', () => {
  it('ships a cache that a plain node accepts', () => {
    expect(loadIn(`${dist}main.cjs.cache`)).toEqual({ cache: 'accepted', out: '0.1.0\n' })
  })

  it('ignores a damaged or missing cache and still works', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kproxc-cache-'))
    try {
      const damaged = join(dir, 'damaged.cache')
      copyFileSync(`${dist}main.cjs.cache`, damaged)
      const bytes = readFileSync(damaged)
      // Past the source digest: V8's own header, which it checks.
      for (let i = 32; i < bytes.length; i += 97) bytes[i] = (bytes[i] as number) ^ 0x5a
      writeFileSync(damaged, bytes)
      expect(loadIn(damaged)).toEqual({ cache: 'rejected', out: '0.1.0\n' })
      expect(loadIn(join(dir, 'absent.cache'))).toEqual({ cache: 'absent', out: '0.1.0\n' })
      // A bundle edited to the same length: V8 alone would run the cached (old) bytecode.
      const edited = join(dir, 'main.cjs')
      const source = readFileSync(`${dist}main.cjs`, 'utf8')
      expect(source).toContain('"0.1.0"')
      writeFileSync(edited, source.replaceAll('"0.1.0"', '"0.1.9"'))
      expect(loadIn(`${dist}main.cjs.cache`, edited)).toEqual({ cache: 'stale', out: '0.1.9\n' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('prints the golden rulesets of a fixture in every mode', () => {
    const input = `${root}fixtures/affinity/input.yaml`
    for (const [args, golden] of [
      [['--mode', 'iptables'], 'iptables.rules'],
      [['--mode', 'nftables'], 'nftables.json'],
      [['--mode', 'nftables', '--format', 'text'], 'nftables.nft'],
    ] as const) {
      const p = spawnSync(process.execPath, [bin, 'compile', ...args, input], { encoding: 'utf8' })
      expect(p.status).toBe(0)
      expect(p.stdout).toBe(readFileSync(`${root}fixtures/affinity/${golden}`, 'utf8'))
    }
  })
})
