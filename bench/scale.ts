/**
 * Scale benchmark (issue 8): library and CLI times per mode on synthetic clusters, deltas in a
 * 10k-service state, and the kernel's own load time of the full output. Run with
 * `pnpm bench:scale [SIZES]` (SIZES like 1000x10,10000x10; default the issue's table). Prints a
 * Markdown table; numbers are the minimum of --runs runs (default 3). --full-only, --deltas-only and
 * --no-kernel run a part.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { ModelStore, type ProxyModel, buildModel, loadObjects } from '@kproxc/core'
import * as ipt from '@kproxc/iptables'
import * as ipvs from '@kproxc/ipvs'
import * as nft from '@kproxc/nftables'
import { syntheticCluster, toKubectlJSON } from '../test/synthetic.js'

const args = process.argv.slice(2)
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 3)
// --full-only / --deltas-only run one half; --no-kernel skips the (slow) kernel loads.
const fullCompiles = !args.includes('--deltas-only')
const deltas = !args.includes('--full-only')
const kernelLoads = !args.includes('--no-kernel')
const sizes = (args.find((a) => /^\d+x\d+/.test(a)) ?? '1000x10,10000x10,50000x10,1000x250').split(',').map((s) => s.split('x').map(Number) as [number, number])
// Run from the repository root (pnpm bench:scale does).
const cli = join(process.cwd(), 'packages/cli/bin/kproxc.js')
const dir = mkdtempSync(join(tmpdir(), 'kproxc-bench-'))

function best<T>(f: () => T): { ms: number; value: T } {
  let ms = Infinity
  let value!: T
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    value = f()
    ms = Math.min(ms, performance.now() - t)
  }
  return { ms, value }
}

/** Wall time and peak RSS of one CLI run (GNU time). */
function cliRun(argv: string[]): { ms: number; mb: number } {
  let ms = Infinity
  let mb = 0
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'node', cli, ...argv], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'pipe'] })
    const [sec, kb] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number)
    if (r.status !== 0) return { ms: NaN, mb: NaN }
    ms = Math.min(ms, (sec ?? NaN) * 1000)
    mb = Math.max(mb, (kb ?? 0) / 1024)
  }
  return { ms, mb }
}

function kernelLoad(cmd: string[], text: string): number {
  const file = join(dir, 'load')
  writeFileSync(file, text)
  let ms = Infinity
  for (let i = 0; i < runs; i++) {
    const ns = `kproxc-bench-${process.pid}`
    spawnSync('ip', ['netns', 'add', ns])
    const t = performance.now()
    const r = spawnSync('sh', ['-c', `ip netns exec ${ns} ${cmd.join(' ')} < ${file}`], { stdio: 'ignore' })
    const took = performance.now() - t
    spawnSync('ip', ['netns', 'del', ns])
    if (r.status !== 0) return NaN
    ms = Math.min(ms, took)
  }
  return ms
}

/** Block-style YAML of plain JSON data (what `kubectl get -o yaml` looks like), without a YAML library. */
function toYAML(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]\n'
    return v.map((x) => `${indent}- ${toYAML(x, `${indent}  `).replace(/^\s+/, '')}`).join('')
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v)
    if (entries.length === 0) return '{}\n'
    return entries.map(([k, x]) => (x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0)
      ? `${indent}${k}:\n${toYAML(x, Array.isArray(x) ? indent : `${indent}  `)}`
      : `${indent}${k}: ${toYAML(x, indent)}`)).join('')
  }
  return `${JSON.stringify(v)}\n`
}

/** The same List as `kubectl get -o json` prints it: keys sorted (kubectl prints unstructured maps), 4-space indent. */
function kubectlPretty(json: string): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v
  return `${JSON.stringify(sorted(JSON.parse(json)), null, 4)}\n`
}

const f = (n: number) => (Number.isNaN(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n.toFixed(1))
const rows: string[] = []
rows.push('| services × endpoints | mode | load+validate (ms) | model (ms) | compile+render (ms) | CLI from JSON (ms / peak MB) | CLI from kubectl JSON (ms / peak MB) | CLI from YAML (ms / peak MB) | kernel load (ms) | compile / kernel |')
rows.push('|---|---|---|---|---|---|---|---|---|---|')
for (const [services, eps] of fullCompiles ? sizes : []) {
  const objects = syntheticCluster({ services, endpointsPerService: eps, affinityEvery: 20 })
  const json = toKubectlJSON(objects)
  const jsonFile = join(dir, `${services}x${eps}.json`)
  const prettyFile = join(dir, `${services}x${eps}.kubectl.json`)
  const yamlFile = join(dir, `${services}x${eps}.yaml`)
  writeFileSync(jsonFile, json)
  writeFileSync(prettyFile, kubectlPretty(json))
  writeFileSync(yamlFile, toYAML(JSON.parse(json)))
  const load = best(() => loadObjects([{ name: 'in.json', text: json }]))
  for (const mode of ['iptables', 'nftables', 'ipvs'] as const) {
    const model = best(() => buildModel(load.value, { mode, families: ['IPv4'] }))
    // What `kproxc compile` runs: the backend's emit (compile + render).
    const backend = { iptables: ipt.backend, nftables: nft.backend, ipvs: ipvs.backend }[mode]
    const compile = best(() => backend.emit(model.value, { family: 'IPv4', format: backend.formats[0] as string, options: {} }).map((x) => x.content).join(''))
    const fromJSON = cliRun(['compile', '--mode', mode, jsonFile])
    const fromPretty = cliRun(['compile', '--mode', mode, prettyFile])
    const fromYAML = services * eps <= 100_000 ? cliRun(['compile', '--mode', mode, yamlFile]) : { ms: NaN, mb: NaN }
    let kernel = NaN
    // Loading 50k services takes the kernel many minutes; the ratio is taken up to 250k endpoints.
    if (services * eps > 250_000 || !kernelLoads) {
      // skipped
    } else if (mode === 'iptables') kernel = kernelLoad(['iptables-legacy-restore'], compile.value.replace(/ -m nfacct --nfacct-name \S+/g, '').replace(/^#.*\n/gm, ''))
    else if (mode === 'nftables') kernel = kernelLoad(['nft', '-j', '-f', '/dev/stdin'], compile.value)
    rows.push(`| ${services} × ${eps} | ${mode} | ${f(load.ms)} | ${f(model.ms)} | ${f(compile.ms)} | ${f(fromJSON.ms)} / ${f(fromJSON.mb)} | ${f(fromPretty.ms)} / ${f(fromPretty.mb)} | ${f(fromYAML.ms)} / ${f(fromYAML.mb)} | ${f(kernel)} | ${Number.isNaN(kernel) ? 'n/a' : `${((fromJSON.ms / kernel) * 100).toFixed(1)} %`} |`)
  }
}

// Deltas in a 10k × 10 state: store update (core) and backend delta (compile with cache + diff).
const base = syntheticCluster({ services: 10_000, endpointsPerService: 10, affinityEvery: 20 })
const deltaRows: string[] = ['| delta in 10k × 10 | mode | store.apply (ms) | compile + delta (ms) | total (ms) | output bytes |', '|---|---|---|---|---|---|']
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const scenarios: [string, (o: typeof base) => Parameters<ModelStore['apply']>[0]][] = [
  ['one endpoint changed', (o) => endpointMove(o, 1234, '10.250.0.1')],
  ['one Service added', (o) => {
    const extra = syntheticCluster({ services: 10_001, endpointsPerService: 10 })
    return [{ op: 'upsert', kind: 'Service', object: extra.services[10_000]! }, { op: 'upsert', kind: 'EndpointSlice', object: { ...extra.endpointSlices[10_000]!, endpoints: (extra.endpointSlices[10_000]!.endpoints ?? []).map((e, k) => ({ ...e, addresses: [`10.251.0.${k + 1}`] })) } }]
  }],
  ['10 % of endpoints churned', (o) => o.endpointSlices.filter((_, i) => i % 10 === 0).map((s, j) => ({ op: 'upsert' as const, kind: 'EndpointSlice' as const, object: { ...s, endpoints: (s.endpoints ?? []).map((e, i) => (i === 0 ? { ...e, addresses: [`10.252.${(j >> 8) & 255}.${j & 255}`] } : e)) } }))],
]
/** One synced backend: parts of the last compile, and a step that compiles and diffs the next model. */
function syncer(mode: 'iptables' | 'nftables' | 'ipvs') {
  if (mode === 'iptables') {
    const cache = ipt.createFragmentCache()
    let last: ipt.RulesetParts | undefined
    return (model: ProxyModel) => {
      const parts = ipt.compileParts(model, 'IPv4', ipt.DEFAULT_OPTIONS, cache)
      const out = last ? ipt.deltaRestore(last, parts) : ''
      last = parts
      return out.length
    }
  }
  if (mode === 'nftables') {
    const cache = nft.createFragmentCache()
    let last: nft.RulesetParts | undefined
    return (model: ProxyModel) => {
      const parts = nft.compileParts(model, { family: 'IPv4' }, cache)
      const out = last ? nft.renderJSON(nft.deltaTransaction(last, parts)) : ''
      last = parts
      return out.length
    }
  }
  const cache = ipvs.createFragmentCache()
  let last: ipvs.IpvsParts | undefined
  return (model: ProxyModel) => {
    const parts = ipvs.compileIpvsParts(model, { family: 'IPv4' }, cache)
    const out = last ? ipvs.deltaIpvsParts(last, parts) : []
    last = parts
    return out.reduce((n, x) => n + x.content.length, 0)
  }
}

const endpointMove = (o: typeof base, i: number, ip: string): Parameters<ModelStore['apply']>[0] => {
  const s = o.endpointSlices[i]!
  return [{ op: 'upsert', kind: 'EndpointSlice', object: { ...s, endpoints: (s.endpoints ?? []).map((e, k) => (k === 0 ? { ...e, addresses: [ip] } : e)) } }]
}

for (const mode of deltas ? (['iptables', 'nftables', 'ipvs'] as const) : []) {
  // A watch loop's steady state: 30 successive one-endpoint changes in one store; medians.
  {
    const store = new ModelStore({ mode, families: ['IPv4'] }, base)
    const sync = syncer(mode)
    sync(store.model)
    const storeTimes: number[] = []
    const times: number[] = []
    const totals: number[] = []
    let bytes = 0
    for (let i = 0; i < 31; i++) {
      const t0 = performance.now()
      const model = store.apply(endpointMove(base, (i * 331) % 10_000, `10.254.0.${i + 1}`)).model
      const t1 = performance.now()
      bytes = sync(model)
      const t2 = performance.now()
      if (i === 0) continue
      storeTimes.push(t1 - t0)
      times.push(t2 - t1)
      totals.push(t2 - t0)
    }
    deltaRows.push(`| one endpoint changed (median of 30 in a row) | ${mode} | ${f(median(storeTimes))} | ${f(median(times))} (min ${f(Math.min(...times))}) | ${f(median(totals))} | ${bytes} |`)
  }
  for (const [name, make] of scenarios) {
    let storeMs = Infinity
    let ms = Infinity
    let total = Infinity
    let bytes = 0
    for (let r = 0; r < runs; r++) {
      const store = new ModelStore({ mode, families: ['IPv4'] }, base)
      const sync = syncer(mode)
      sync(store.model)
      // A first delta warms the JIT and builds the indexes a long-running watch keeps.
      sync(store.apply(endpointMove(base, 4321, '10.253.0.1')).model)
      // The changes are built before the clock starts (making the added Service generates a cluster).
      const changes = make(base)
      const t0 = performance.now()
      const after = store.apply(changes).model
      storeMs = Math.min(storeMs, performance.now() - t0)
      const t1 = performance.now()
      bytes = sync(after)
      ms = Math.min(ms, performance.now() - t1)
      total = Math.min(total, performance.now() - t0)
    }
    deltaRows.push(`| ${name} | ${mode} | ${f(storeMs)} | ${f(ms)} | ${f(total)} | ${bytes} |`)
  }
}

const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average at end ${load}; min of ${runs} runs.\n`)
console.log(rows.join('\n'))
console.log()
console.log(deltaRows.join('\n'))
