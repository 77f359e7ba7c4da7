import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { type Family, type ProxyModel, buildModel, loadObjects } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { compile } from './compile.js'
import type { Ruleset } from './ir.js'
import { renderJSON, toNftDocument } from './render-json.js'
import { renderText } from './render-text.js'

const fixturesDir = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
const fixtures = readdirSync(fixturesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(fixturesDir, d.name, 'input.yaml')))
  .map((d) => d.name)

function rulesets(model: ProxyModel, serviceCIDRs: string[]): Ruleset[] {
  return model.families.map((f) => compile(model, { family: f.family, serviceCIDRs }))
}

/** The invariants every rendering must hold. */
function checkRenderings(rs: Ruleset): void {
  const json = renderJSON(rs)
  // The fast writer says exactly what the typed builders say.
  const reference = `{"nftables":[\n${toNftDocument(rs).nftables.map((c) => JSON.stringify(c)).join(',\n')}\n]}\n`
  expect(json).toBe(reference)
  const parsed = JSON.parse(json) as { nftables: unknown[] }
  expect(parsed.nftables).toHaveLength(rs.ops.length)
  // Rendering is pure: twice gives the same bytes.
  expect(renderJSON(rs)).toBe(json)
  const text = renderText(rs)
  expect(renderText(rs)).toBe(text)
  expect(text.endsWith('\n') && !text.includes('\r')).toBe(true)
  expect(text.split('\n')).toHaveLength(rs.ops.length + 1)
}

describe('render', () => {
  it.each(fixtures)('fixture %s: fast JSON writer equals the typed builders; renderings are stable', (name) => {
    const objects = loadObjects([{ name, text: readFileSync(join(fixturesDir, name, 'input.yaml'), 'utf8') }])
    const families: Family[] = ['IPv4', 'IPv6']
    for (const rs of rulesets(buildModel(objects, { mode: 'nftables', families }), ['10.96.0.0/12', 'fd00::/108'])) checkRenderings(rs)
  })

  it('random clusters: same invariants', () => {
    fc.assert(
      fc.property(arbCluster(), (c) => {
        for (const rs of rulesets(buildModel(c.objects, { mode: 'nftables', nodeName: c.nodeName }), ['10.96.0.0/12'])) checkRenderings(rs)
      }),
      { numRuns: 150 },
    )
  })

  it('escapes comments that need it and truncates them to 128 bytes', () => {
    const rs: Ruleset = {
      family: 'ip',
      table: 'kube-proxy',
      ops: [
        { kind: 'addTable', comment: 'a "quoted" \\ comment' },
        { kind: 'addChain', name: 'c' },
        { kind: 'addRule', chain: 'c', stmts: [{ kind: 'verdict', verdict: { kind: 'drop' } }], comment: 'x "y"' },
      ],
    }
    checkRenderings(rs)
    expect(renderText(rs)).toContain('add table ip kube-proxy { comment "a \\"quoted\\" \\\\ comment" ; }')
  })
})
