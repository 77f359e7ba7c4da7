/**
 * In a real network namespace: loading full(OLD) then the delta leaves the kernel's own dump
 * (iptables-legacy-save, nft -j list ruleset) equal to loading full(NEW) into a fresh namespace,
 * for random related clusters.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab, kernelSupport } from '../../../test/lab.js'
import { arbClusterPair, storeModels } from '../../../test/delta-cases.js'
import { syncSession } from './sync.js'

const support = kernelSupport(['iptables-legacy-restore', 'iptables-legacy-save', 'nft', 'ipset'])
let lab: Lab | undefined
let dir = ''

beforeAll(async () => {
  if (!support.ok) return
  lab = await Lab.create({ ipv4: '192.168.60.2' })
  dir = mkdtempSync(join(tmpdir(), 'kproxc-delta-'))
})
afterAll(async () => {
  await lab?.destroy()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const saved = (text: string) => text.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith(':')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n')
const chainsOf = (text: string) => text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.split(' ')[0]).sort().join('\n')

async function nft(args: string[], content?: string) {
  const l = lab as Lab
  if (content === undefined) return l.execOk('node', ['nft', ...args])
  const file = join(dir, 'ruleset.json')
  writeFileSync(file, content)
  const r = await l.exec('node', ['nft', ...args, file])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return r.stdout
}

describe.skipIf(!support.ok)('deltas in the kernel', () => {
  it('iptables-legacy: full(OLD) + --noflush delta == full(NEW)', async () => {
    const l = lab as Lab
    await fc.assert(fc.asyncProperty(arbClusterPair(4), async (pair) => {
      const m = storeModels(pair, { nodeName: 'n1', families: ['IPv4'], mode: 'iptables' })
      const opts = { nfacct: false, builtinJumps: false }
      const s = syncSession('iptables', 'IPv4', 'text', opts)
      const full = s.full(m.old)[0]?.content ?? ''
      const delta = s.delta(m.next)[0]?.content ?? ''
      const fresh = syncSession('iptables', 'IPv4', 'text', opts).full(m.next)[0]?.content ?? ''
      await l.execOk('node', ['iptables-legacy-restore'], full)
      if (delta) {
        const r = await l.exec('node', ['iptables-legacy-restore', '--noflush'], delta)
        expect(r.stderr, delta).toBe('')
      }
      const after = await l.execOk('node', ['iptables-legacy-save'])
      await l.execOk('node', ['iptables-legacy-restore'], fresh)
      const expected = await l.execOk('node', ['iptables-legacy-save'])
      expect(saved(after)).toBe(saved(expected))
      expect(chainsOf(after)).toBe(chainsOf(expected))
    }), { numRuns: 25 })
  })

  it('nftables: full(OLD) + delta transaction == full(NEW)', async () => {
    await fc.assert(fc.asyncProperty(arbClusterPair(4), async (pair) => {
      const m = storeModels(pair, { nodeName: 'n1', families: ['IPv4'], mode: 'nftables' })
      const s = syncSession('nftables', 'IPv4', 'json', {})
      await nft(['-j', '-f'], s.full(m.old)[0]?.content)
      const delta = s.delta(m.next)[0]?.content
      if (delta) await nft(['-j', '-f'], delta)
      const after = await nft(['list', 'table', 'ip', 'kube-proxy'])
      await nft(['-j', '-f'], syncSession('nftables', 'IPv4', 'json', {}).full(m.next)[0]?.content)
      const expected = await nft(['list', 'table', 'ip', 'kube-proxy'])
      const norm = (t: string) => t.split('\n').map((x) => x.trim()).filter(Boolean).sort().join('\n')
      expect(norm(after)).toBe(norm(expected))
    }), { numRuns: 25 })
  })

  it('ipvs (ipsets and companion rules; this kernel has no IPVS): full(OLD) + delta == full(NEW)', async () => {
    const l = lab as Lab
    await fc.assert(fc.asyncProperty(arbClusterPair(4), async (pair) => {
      const m = storeModels(pair, { nodeName: 'n1', families: ['IPv4'], mode: 'ipvs' })
      const s = syncSession('ipvs', 'IPv4', 'bundle', {})
      // Rules matching with `-m ipvs` need the ip_vs module this kernel lacks (as in ipvs.kernel.test.ts).
      const file = (files: { name: string; content: string }[], name: string) =>
        (files.find((f) => f.name === name)?.content ?? '').split('\n').filter((l) => !l.includes(' -m ipvs ')).join('\n')
      const full = s.full(m.old)
      await l.execOk('node', ['ipset', 'restore'], file(full, 'ipset.rules'))
      await l.execOk('node', ['iptables-legacy-restore'], file(full, 'iptables.rules'))
      const delta = s.delta(m.next)
      if (file(delta, 'ipset.rules').trim()) await l.execOk('node', ['ipset', 'restore'], file(delta, 'ipset.rules'))
      if (file(delta, 'iptables.rules').trim()) await l.execOk('node', ['iptables-legacy-restore', '--noflush'], file(delta, 'iptables.rules'))
      const state = async () => {
        const sets = (await l.execOk('node', ['ipset', 'save'])).split('\n').filter((x) => x.startsWith('add ')).sort().join('\n')
        const rules = await l.execOk('node', ['iptables-legacy-save'])
        return `${sets}\n${saved(rules)}\n${chainsOf(rules)}`
      }
      const after = await state()
      const fresh = syncSession('ipvs', 'IPv4', 'bundle', {}).full(m.next)
      await l.execOk('node', ['ipset', 'restore'], file(fresh, 'ipset.rules'))
      await l.execOk('node', ['iptables-legacy-restore'], file(fresh, 'iptables.rules'))
      expect(after).toBe(await state())
    }), { numRuns: 25 })
  })
})
