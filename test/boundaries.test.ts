/**
 * Architecture rules from STYLE.md, checked on the sources: core and the backends' compile/render
 * code import nothing effectful (no node:*, no child_process); only apply modules (and the core's
 * file reader) may; backends import each other only through the iptables package's exports.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../packages/', import.meta.url))

function sources(pkg: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.includes('__fixtures__') && !p.includes('testdata')) out.push(p)
    }
  }
  walk(join(root, pkg, 'src'))
  return out
}

const imports = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] as string)
const isApply = (file: string) => /\/apply[^/]*\.ts$/.test(file)

describe('package boundaries', () => {
  it.each(['core', 'iptables', 'nftables', 'ipvs'])('%s: only apply modules (and core/files.ts) import node:*', (pkg) => {
    const offenders = sources(pkg)
      .filter((f) => !isApply(f) && !f.endsWith('core/src/files.ts') && !f.includes('test-util'))
      .flatMap((f) => imports(f).filter((i) => i.startsWith('node:') || i === 'child_process' || i === 'fs').map((i) => `${f}: ${i}`))
    expect(offenders).toEqual([])
  })

  it('backends import other backends only through @kproxc/iptables (the shared rule/naming module)', () => {
    const offenders: string[] = []
    for (const pkg of ['iptables', 'nftables', 'ipvs']) {
      for (const f of sources(pkg)) {
        for (const i of imports(f)) {
          const m = /^@kproxc\/(iptables|nftables|ipvs)/.exec(i)
          if (m && m[1] !== pkg && !(pkg === 'ipvs' && m[1] === 'iptables')) offenders.push(`${f}: ${i}`)
        }
      }
    }
    expect(offenders).toEqual([])
  })

  it('core depends on nothing but zod, immer, yaml parsers and ipaddr.js', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'core', 'package.json'), 'utf8'))
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['immer', 'ipaddr.js', 'js-yaml', 'yaml', 'zod'])
  })
})
