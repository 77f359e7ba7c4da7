/**
 * applyNftables against a scripted runner (no kernel): the read that decides between a fresh table
 * and an in-place full sync, what is sent, the report, and the fallback for kernels that refuse to
 * delete a chain in the transaction that removed its last reference.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type Command, type CommandResult, applyNftables } from './apply.js'
import { stickyModel } from './testdata/affinity-scenario.js'

const LISTING = readFileSync(new URL('./testdata/listing-sticky-a.json', import.meta.url), 'utf8')
const STALE = 'service-525EHWLU-default/gone/tcp/p'

/** A runner answering reads with `listing` and mutations from `answers` in turn (default: success). */
function scripted(listing: CommandResult, answers: CommandResult[] = []) {
  const calls: Command[] = []
  const runner = (cmd: Command): Promise<CommandResult> => {
    calls.push(cmd)
    return Promise.resolve(cmd.mutates ? (answers.shift() ?? { code: 0, stdout: '', stderr: '' }) : listing)
  }
  return { calls, runner }
}

const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' })
const ops = (c: Command | undefined) => (JSON.parse(c?.stdin ?? '{}') as { nftables: Record<string, Record<string, { name?: string }>>[] }).nftables

describe('applyNftables', () => {
  it('reads the table first, then updates it in place and says what it kept', async () => {
    const { calls, runner } = scripted(ok(LISTING))
    const report = await applyNftables(stickyModel('B', 300), { runner })
    expect(calls.map((c) => [c.argv.join(' '), c.mutates])).toEqual([['nft -j list table ip kube-proxy', false], ['nft -j -f -', true]])
    const sent = ops(calls[1])
    expect(sent.filter((c) => c.delete?.table)).toEqual([])
    expect(sent.at(-1)?.delete?.chain?.name).toBe(STALE)
    expect(report.lines[0]).toMatch(/^nftables: updated table ip kube-proxy in place in one transaction \(\d+ chains/)
    expect(report.lines[1]).toBe('nftables: table ip kube-proxy read first (22 chains, 10 sets/maps); 2 affinity sets kept with 1 client entry; 1 stale chain deleted')
  })

  it('replaces the table when there is none', async () => {
    const { calls, runner } = scripted({ code: 1, stdout: '', stderr: 'Error: No such file or directory\nlist table ip kube-proxy\n' })
    const report = await applyNftables(stickyModel('A', 300), { runner })
    expect(ops(calls[1]).slice(0, 3).map((c) => Object.keys(c)[0])).toEqual(['add', 'delete', 'add'])
    expect(report.lines).toHaveLength(1)
    expect(report.lines[0]).toMatch(/^nftables: replaced table ip kube-proxy in one transaction/)
  })

  it('on EBUSY sends the transaction again with stale chains only flushed, and deletes them a second later', async () => {
    const busy = { code: 1, stdout: '', stderr: 'internal:0:0-0: Error: Could not process rule: Device or resource busy\n' }
    const { calls, runner } = scripted(ok(LISTING), [busy])
    const report = await applyNftables(stickyModel('B', 300), { runner })
    expect(calls.map((c) => c.argv.join(' '))).toEqual(['nft -j list table ip kube-proxy', 'nft -j -f -', 'nft -j -f -', 'nft -j -f -'])
    expect(ops(calls[1]).some((c) => c.delete?.chain?.name === STALE)).toBe(true)
    expect(ops(calls[2]).some((c) => c.delete?.chain)).toBe(false)
    expect(ops(calls[2]).some((c) => c.flush?.chain?.name === STALE)).toBe(true)
    expect(ops(calls[3])).toEqual([{ delete: { chain: { family: 'ip', table: 'kube-proxy', name: STALE } } }])
    expect(report.lines.join('\n')).toContain('1 stale chain flushed')
    expect(report.lines.at(-1)).toBe('nftables: stale chains deleted in a second transaction')
  })

  it('fails on any other error, and on a listing that is not JSON', async () => {
    const broken = { code: 1, stdout: '', stderr: 'Error: Could not process rule: Device or resource busy\n' }
    const noStale = scripted(ok(LISTING), [broken])
    await expect(applyNftables(stickyModel('A', 300), { runner: noStale.runner })).rejects.toMatchObject({ code: 'APPLY_FAILED' })
    expect(noStale.calls).toHaveLength(2)
    const garbled = scripted(ok('{"nftables": ['))
    await expect(applyNftables(stickyModel('A', 300), { runner: garbled.runner })).rejects.toThrow(/nft -j list table ip kube-proxy printed no JSON listing/)
    const denied = scripted({ code: 1, stdout: '', stderr: 'Error: Operation not permitted\n' })
    await expect(applyNftables(stickyModel('A', 300), { runner: denied.runner })).rejects.toThrow(/permission denied: run as root/)
  })
})
