import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { run } from '../../cli/src/main.js'

const fixture = (name: string) => fileURLToPath(new URL(`../../../fixtures/${name}/input.yaml`, import.meta.url))

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await run(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), stdin: async () => '', stdinIsTTY: false, env: {} })
  return { code, out, err }
}

describe('kproxc compile --mode nftables', () => {
  it('writes libnftables JSON by default and nft text with --format text', async () => {
    const json = await cli(['compile', fixture('nodeport'), '--mode', 'nftables'])
    expect(json.err).toBe('')
    expect(json.code).toBe(0)
    expect(json.out.startsWith('{"nftables":[\n{"add":{"table":{"family":"ip","name":"kube-proxy"')).toBe(true)
    expect(JSON.parse(json.out).nftables.length).toBeGreaterThan(50)
    const text = await cli(['compile', fixture('nodeport'), '--mode', 'nftables', '--format', 'text'])
    expect(text.code).toBe(0)
    expect(text.out.startsWith('add table ip kube-proxy { comment "rules for kube-proxy" ; }\n')).toBe(true)
  })

  it('takes --service-cidr, --ip-family and -o', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kproxc-nft-cli-'))
    const file = join(dir, 'out.nft')
    const r = await cli(['compile', fixture('nft-service-cidr'), '--mode', 'nftables', '--format', 'text', '--ip-family', 'ipv6', '--service-cidr', '10.96.0.0/16,fd00:96::/112', '-o', file])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const out = readFileSync(file, 'utf8')
    expect(out).toContain('add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:96::/112 } drop comment "Drop traffic to unallocated ClusterIPs"\n')
  })

  it('rejects an unknown format and an invalid service CIDR with usage / input errors', async () => {
    expect((await cli(['compile', fixture('nodeport'), '--mode', 'nftables', '--format', 'bundle'])).code).toBe(2)
    const bad = await cli(['compile', fixture('nodeport'), '--mode', 'nftables', '--service-cidr', 'nope'])
    expect(bad.code).toBe(1)
    expect(bad.err).toContain('service-cidr')
  })
})
