/**
 * Writes dist/main.cjs.cache, the V8 code cache bin/load-bundle.js hands to V8 (see there why).
 * The bundle is loaded without a cache, every command a user typically runs is run once in this
 * process over the shipped fixtures (YAML, and the same objects as one kubectl JSON List on stdin,
 * which takes the JSON path), and only then is the cache made: it then holds the bytecode of
 * every function those runs compiled, not just the bundle's top level. Run by tsup after each
 * build, in its own `node` process, so the cache matches a plain `node` start.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadObjects } from '@kproxc/core'
import { cacheFileContent, loadBundle } from '../bin/load-bundle.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const bundle = here('../dist/main.cjs')
const fixtures = here('../../../fixtures')
const { exports: cli, script } = loadBundle(bundle)

const inputs = existsSync(fixtures)
  ? readdirSync(fixtures).map((d) => `${fixtures}/${d}/input.yaml`).filter((f) => existsSync(f)).sort()
  : []

/** The inputs' objects as one kubectl-style JSON List. */
function asJSONList(files) {
  const items = []
  for (const f of files) {
    let objects
    try {
      objects = loadObjects([{ name: f, text: readFileSync(f, 'utf8') }])
    } catch {
      continue
    }
    for (const o of objects.nodes) items.push({ apiVersion: 'v1', kind: 'Node', ...o })
    for (const o of objects.services) items.push({ apiVersion: 'v1', kind: 'Service', ...o })
    for (const o of objects.endpointSlices) items.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...o })
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items })
}

let stdin = ''
const io = { stdout() {}, stderr() {}, stdin: async () => stdin, stdinIsTTY: false, stderrIsTTY: false, env: {} }
const runs = []
for (const file of inputs) {
  runs.push(['model', file], ['stats', file])
  for (const mode of ['iptables', 'nftables', 'ipvs']) runs.push(['compile', '--mode', mode, file])
  runs.push(['compile', '--mode', 'nftables', '--format', 'text', file])
}
for (const argv of runs) await cli.run(argv, io)
// One List of one fixture's objects (node names differ between fixtures, so not all at once).
for (const file of inputs.slice(0, 8)) {
  stdin = asJSONList([file])
  for (const mode of ['iptables', 'nftables', 'ipvs']) await cli.run(['compile', '--mode', mode, '-'], io)
}
writeFileSync(here('../dist/main.cjs.cache'), cacheFileContent(readFileSync(bundle, 'utf8'), script.createCachedData()))
