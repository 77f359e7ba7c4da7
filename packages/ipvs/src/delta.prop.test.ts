/**
 * full(OLD) then the delta leaves the node exactly as full(NEW) does, on models of `ipvsadm -R`
 * (-A of an existing service or -a of an existing server fail, -E/-e/-D/-d need them to exist),
 * `ipset restore` (add of a member fails without -exist, del needs it), iptables-restore --noflush
 * and the kube-ipvs0 address list.
 */
import fc from 'fast-check'
import { ModelStore, buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbClusterPair } from '../../../test/delta-cases.js'
import { compileIpvs, compileIpvsParts, createFragmentCache, assembleIpvs } from './compile.js'
import { deltaIpvsParts } from './delta-parts.js'
import { objectChanges } from '../../cli/src/changes.js'
import { DELTA_FILES, deltaIpvs } from './delta.js'
import { renderIpvsFiles } from './index.js'
import { OUTPUT_FILES } from './names.js'

interface Node {
  vs: Map<string, { line: string; rs: Map<string, string> }>
  sets: Map<string, Set<string>>
  chains: Map<string, string[]>
  addresses: Set<string>
}

function ipvsadm(node: Node, text: string, fresh: boolean): void {
  for (const line of text.split('\n').filter(Boolean)) {
    const [op, proto, addr, ...rest] = line.split(' ')
    const key = `${proto} ${addr}`
    if (op === '--set') continue
    const vs = node.vs.get(key)
    if (op === '-A') {
      if (vs) throw new Error(`-A of existing ${key}`)
      node.vs.set(key, { line: `${proto} ${addr} ${rest.join(' ')}`, rs: new Map() })
    } else if (op === '-E') {
      if (!vs) throw new Error(`-E of missing ${key}`)
      vs.line = `${proto} ${addr} ${rest.join(' ')}`
    } else if (op === '-D') {
      if (!vs) throw new Error(`-D of missing ${key}`)
      node.vs.delete(key)
    } else {
      if (!vs) throw new Error(`${op} on missing ${key}`)
      const server = rest[1] as string
      if (op === '-a' && vs.rs.has(server)) throw new Error(`-a of existing ${server}`)
      if ((op === '-e' || op === '-d') && !vs.rs.has(server)) throw new Error(`${op} of missing ${server}`)
      if (op === '-d') vs.rs.delete(server)
      else vs.rs.set(server, rest.slice(2).join(' '))
    }
  }
  if (fresh) expect(node.vs.size).toBeGreaterThanOrEqual(0)
}

function ipset(node: Node, text: string): void {
  for (const line of text.split('\n').filter(Boolean)) {
    const [op, name, ...rest] = line.split(' ')
    const entry = rest.join(' ')
    if (op === 'create') {
      if (!node.sets.has(name as string)) node.sets.set(name as string, new Set())
    } else if (op === 'flush') node.sets.get(name as string)?.clear()
    else if (op === 'add') {
      const s = node.sets.get(name as string)
      if (!s || s.has(entry)) throw new Error(`add ${name} ${entry}`)
      s.add(entry)
    } else if (op === 'del') {
      if (!node.sets.get(name as string)?.delete(entry)) throw new Error(`del of missing ${name} ${entry}`)
    }
  }
}

function restore(node: Node, text: string): void {
  let table = ''
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1)
    else if (line.startsWith(':')) node.chains.set(`${table} ${line.slice(1).split(' ')[0]}`, [])
    else if (line.startsWith('-A ')) {
      const key = `${table} ${line.split(' ')[1]}`
      if (!node.chains.has(key)) node.chains.set(key, [])
      node.chains.get(key)?.push(line)
    } else if (line.startsWith('-X ')) {
      const key = `${table} ${line.slice(3)}`
      if (!node.chains.has(key) || (node.chains.get(key)?.length ?? 0) > 0) throw new Error(`-X ${key}`)
      node.chains.delete(key)
    }
  }
}

function dump(node: Node): string {
  const vs = [...node.vs].sort().map(([k, v]) => `${v.line}\n${[...v.rs].sort().map(([r, w]) => `  ${r} ${w}`).join('\n')}`)
  const sets = [...node.sets].sort().map(([k, v]) => `${k}: ${[...v].sort().join(' ')}`)
  const chains = [...node.chains].sort().map(([k, v]) => `${k}\n${v.join('\n')}`)
  return [...vs, ...sets, ...chains, [...node.addresses].sort().join(' ')].join('\n')
}

const empty = (): Node => ({ vs: new Map(), sets: new Map(), chains: new Map(), addresses: new Set() })

function loadFull(node: Node, files: { name: string; content: string }[]): void {
  const f = (n: string) => files.find((x) => x.name === n)?.content ?? ''
  ipset(node, f(OUTPUT_FILES.ipset))
  ipvsadm(node, f(OUTPUT_FILES.ipvsadm), true)
  for (const a of f(OUTPUT_FILES.addresses).split('\n').filter(Boolean)) node.addresses.add(a)
  restore(node, f(OUTPUT_FILES.iptables))
}

const options = { nodeName: 'n1', families: ['IPv4'] as const, mode: 'ipvs' as const }

function applyDelta(node: Node, delta: { name: string; content: string }[]): void {
  const f = (n: string) => delta.find((x) => x.name === n)?.content ?? ''
  ipset(node, f(DELTA_FILES.ipset))
  ipvsadm(node, f(DELTA_FILES.ipvsadm), false)
  for (const line of f(DELTA_FILES.addresses).split('\n').filter(Boolean)) {
    const [op, a] = line.split(' ') as [string, string]
    if (op === 'add') node.addresses.add(a)
    else node.addresses.delete(a)
  }
  restore(node, f(DELTA_FILES.iptables))
}

describe('ipvs delta', () => {
  it('full(OLD) + delta = full(NEW); no change gives no files', () => {
    fc.assert(fc.property(arbClusterPair(), (pair) => {
      const old = compileIpvs(buildModel(pair.old, { ...options, families: ['IPv4'] }), { family: 'IPv4' })
      const next = compileIpvs(buildModel(pair.next, { ...options, families: ['IPv4'] }), { family: 'IPv4' })
      const node = empty()
      loadFull(node, renderIpvsFiles(old))
      const delta = deltaIpvs(old, next)
      const f = (n: string) => delta.find((x) => x.name === n)?.content ?? ''
      ipset(node, f(DELTA_FILES.ipset))
      ipvsadm(node, f(DELTA_FILES.ipvsadm), false)
      for (const line of f(DELTA_FILES.addresses).split('\n').filter(Boolean)) {
        const [op, a] = line.split(' ') as [string, string]
        if (op === 'add') node.addresses.add(a)
        else node.addresses.delete(a)
      }
      restore(node, f(DELTA_FILES.iptables))
      const fresh = empty()
      loadFull(fresh, renderIpvsFiles(next))
      expect(dump(node)).toBe(dump(fresh))
      expect(deltaIpvs(next, next)).toEqual([])
    }), { numRuns: 150 })
  })

  it('from parts, successive deltas through one store and cache add up to the last full state', () => {
    fc.assert(fc.property(arbClusterPair(), arbClusterPair(), arbClusterPair(), (a, b, c) => {
      const store = new ModelStore({ ...options, families: ['IPv4'] }, a.old)
      const cache = createFragmentCache()
      let parts = compileIpvsParts(store.model, { family: 'IPv4' }, cache)
      const node = empty()
      loadFull(node, renderIpvsFiles(assembleIpvs(parts)))
      let objects = a.old
      for (const target of [a.next, b.next, c.next, a.old]) {
        const model = store.apply(objectChanges(objects, target)).model
        objects = target
        const next = compileIpvsParts(model, { family: 'IPv4' }, cache)
        applyDelta(node, deltaIpvsParts(parts, next))
        parts = next
        const fresh = empty()
        loadFull(fresh, renderIpvsFiles(compileIpvs(model, { family: 'IPv4' })))
        expect(dump(node)).toBe(dump(fresh))
      }
    }), { numRuns: 100 })
  })
})
