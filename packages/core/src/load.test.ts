import { describe, expect, it } from 'vitest'
import { BAD_CASES } from '../../../test/bad-input.js'
import { KproxcError, formatIssue } from './errors.js'
import { loadObjects } from './load.js'

function errorText(yaml: string): string {
  try {
    loadObjects([{ name: 'input.yaml', text: yaml }])
  } catch (e) {
    expect(e).toBeInstanceOf(KproxcError)
    expect((e as KproxcError).code).toBe('INVALID_INPUT')
    return (e as KproxcError).issues.map(formatIssue).join('\n')
  }
  throw new Error('expected the input to be rejected')
}

describe('loadObjects rejects malformed input', () => {
  it.each(BAD_CASES)('$name', ({ yaml, expect: wanted }) => {
    const text = errorText(yaml)
    for (const w of wanted) expect(text).toContain(w)
  })

  it('reports every problem of every object at once, in a stable order', () => {
    const all = BAD_CASES.slice(0, 8).map((c, i) => c.yaml.replace('name: web', `name: web${i}`)).join('\n---\n')
    const text = errorText(all)
    const reversed = errorText(BAD_CASES.slice(0, 8).map((c, i) => c.yaml.replace('name: web', `name: web${i}`)).reverse().join('\n---\n'))
    expect(text.split('\n').length).toBeGreaterThanOrEqual(8)
    expect(text.replace(/document \d+/g, '')).toBe(reversed.replace(/document \d+/g, ''))
  })
})

describe('loadObjects accepts what kubectl prints', () => {
  it('reads JSON Lists, skips and counts other kinds, defaults the namespace', () => {
    const list = {
      apiVersion: 'v1', kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } },
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } },
      ],
    }
    const out = loadObjects([{ name: 'dump.json', text: JSON.stringify(list) }])
    expect(out.skippedKinds).toEqual({ Pod: 2 })
    expect(out.services[0]?.metadata.namespace).toBe('default')
  })

  it('skips kinds named like Object.prototype members', () => {
    const text = ['constructor', 'toString', 'hasOwnProperty'].map((kind) => `apiVersion: v1\nkind: ${kind}\nmetadata: {name: x}\n`).join('---\n')
    expect(loadObjects([{ name: 'a', text }]).skippedKinds).toEqual({ constructor: 1, hasOwnProperty: 1, toString: 1 })
  })

  it('ignores an identical duplicate (the same object in two files)', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n'
    expect(loadObjects([{ name: 'a', text }, { name: 'b', text }]).services).toHaveLength(1)
  })

  it('parses leading-zero IPv4 as decimal with a warning, not octal', async () => {
    const { buildModel } = await import('./store.js')
    const text = 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {clusterIP: 10.96.0.010, ports: [{port: 80}]}\n'
    const model = buildModel(loadObjects([{ name: 'a', text }]))
    expect(model.families[0]?.servicePorts[0]?.clusterIP).toBe('10.96.0.10')
    expect(model.diagnostics.map((d) => d.code)).toContain('IP_LEADING_ZEROS')
  })
})

describe('YAML parsing paths', () => {
  it('the fast parser (js-yaml) and the yaml package read every fixture into the same documents', async () => {
    const { readdirSync, readFileSync, existsSync } = await import('node:fs')
    const { CORE_SCHEMA, loadAll } = await import('js-yaml')
    const { parseAllDocuments } = await import('yaml')
    const dir = new URL('../../../fixtures/', import.meta.url)
    let compared = 0
    for (const name of readdirSync(dir)) {
      const file = new URL(`${name}/input.yaml`, dir)
      if (!existsSync(file)) continue
      const text = readFileSync(file, 'utf8')
      expect(loadAll(text, undefined, { schema: CORE_SCHEMA })).toEqual(parseAllDocuments(text).map((d) => d.toJS()))
      compared++
    }
    expect(compared).toBeGreaterThan(40)
  })

  it('bounds alias expansion (a billion-laughs document is rejected, not expanded)', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => {
      const p = String.fromCharCode(97 + i)
      const n = String.fromCharCode(98 + i)
      return `${n}: &${n} [*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p},*${p}]`
    })].join('\n')
    const started = Date.now()
    expect(() => loadObjects([{ name: 'bomb.yaml', text: `${bomb}\nkind: Service\napiVersion: v1\n` }])).toThrow()
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('reports duplicate keys with their line, whichever parser saw them first', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nmetadata: {name: other}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n'
    expect(errorText(text)).toMatch(/line 4, column \d+: is not valid YAML/)
  })
})

describe('the fast validators change nothing loadObjects returns or reports', () => {
  it('on every fixture input and every malformed input of the shared table', async () => {
    const { readdirSync, readFileSync, existsSync } = await import('node:fs')
    const { loadOutcome: outcome, sameTree } = await import('./validate/fuzz.js')
    const dir = new URL('../../../fixtures/', import.meta.url)
    const inputs = readdirSync(dir)
      .map((name) => new URL(`${name}/input.yaml`, dir))
      .filter((file) => existsSync(file))
      .map((file) => ({ name: 'input.yaml', text: readFileSync(file, 'utf8') }))
    expect(inputs.length).toBeGreaterThan(40)
    for (const source of [...inputs, ...BAD_CASES.map((c) => ({ name: 'input.yaml', text: c.yaml }))]) {
      const fast = outcome([source], true)
      const slow = outcome([source], false)
      if (!sameTree(fast, slow)) expect(fast).toEqual(slow)
      expect(sameTree(fast, slow)).toBe(true)
    }
  })
})

describe('YAML aliases', () => {
  it('give each object its own copy of an aliased node, as zod does (the fast path would share it)', () => {
    const text = [
      'apiVersion: v1\nkind: List\nitems:',
      '- {apiVersion: v1, kind: Service, metadata: {name: a, namespace: default}, spec: {clusterIP: 10.96.0.1, ports: &ports [{name: http, port: 80}]}}',
      '- {apiVersion: v1, kind: Service, metadata: {name: b, namespace: default}, spec: {clusterIP: 10.96.0.2, ports: *ports}}',
    ].join('\n')
    const [a, b] = loadObjects([{ name: 'aliases.yaml', text }]).services
    expect(a?.spec.ports).toEqual(b?.spec.ports)
    expect(a?.spec.ports).not.toBe(b?.spec.ports)
  })
})
