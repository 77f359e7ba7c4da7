import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { BAD_CASES } from '../../../test/bad-input.js'
import { EXIT, type IO, run } from './main.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const fixture = (name: string) => `${root}fixtures/${name}/input.yaml`

async function cli(argv: string[], stdin?: string) {
  let stdout = ''
  let stderr = ''
  const io: IO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: async () => stdin ?? '',
    stdinIsTTY: stdin === undefined,
    env: {},
  }
  const code = await run(argv, io)
  return { code, stdout, stderr }
}

describe('kproxc model', () => {
  it('prints the model of a fixture, equal to its golden', async () => {
    const r = await cli(['model', fixture('case-05')])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(readFileSync(`${root}fixtures/case-05/model.json`, 'utf8'))
  })

  it('reads stdin with -', async () => {
    const r = await cli(['model', '-', '--ip-family', 'ipv4'], readFileSync(fixture('case-01'), 'utf8'))
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).families.map((f: { family: string }) => f.family)).toEqual(['IPv4'])
  })

  it('computes only the family asked for', async () => {
    const r = await cli(['model', fixture('dual-stack'), '--ip-family', 'ipv6'])
    const model = JSON.parse(r.stdout)
    expect(model.families).toHaveLength(1)
    expect(model.families[0].servicePorts.map((p: { clusterIP: string }) => p.clusterIP)).toEqual(['fd00:96::10', 'fd00:96::20'])
  })

  it('--config overrides the mode defaults (nftables: nodePortAddresses primary)', async () => {
    const r = await cli(['model', fixture('nodeport'), '--mode', 'nftables'])
    expect(JSON.parse(r.stdout).families[0].nodePortAddresses).toEqual({ matchAll: false, cidrs: ['192.168.0.2/32'], localhost: false, addresses: ['192.168.0.2'] })
  })

  it.each(BAD_CASES)('bad input "$name": exit 1, every problem on stderr, nothing on stdout', async ({ yaml, expect: wanted }) => {
    const r = await cli(['model', '-'], yaml.replaceAll('input.yaml', '<stdin>'))
    expect(r.code).toBe(EXIT.invalidInput)
    expect(r.stdout).toBe('')
    for (const w of wanted) expect(r.stderr).toContain(w.replaceAll('(input.yaml', '(<stdin>'))
  })

  it('asks for --node when several Nodes are present, listing them', async () => {
    const two = 'apiVersion: v1\nkind: Node\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: a}\n'
    const r = await cli(['model', '-'], two)
    expect(r.code).toBe(EXIT.invalidInput)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('pass --node NAME with one of a, b')
    expect((await cli(['model', '-', '--node', 'a'], two)).code).toBe(0)
  })

  it('usage errors exit 2 without output on stdout', async () => {
    for (const argv of [['model', '--bogus'], ['model', '--ip-family', 'ipv5', fixture('case-01')], ['nonsense'], ['model', '/no/such/file.yaml'], ['model', '--node-ip', '1.2.3', fixture('case-01')]]) {
      const r = await cli(argv)
      expect(r.code, argv.join(' ')).toBe(EXIT.usage)
      expect(r.stdout).toBe('')
      expect(r.stderr).not.toBe('')
    }
  })

  it('without files and with a terminal on stdin, explains instead of waiting', async () => {
    const r = await cli(['model'])
    expect(r.code).toBe(EXIT.usage)
    expect(r.stderr).toContain('no input')
  })

  it('--help works for every command', async () => {
    for (const argv of [['--help'], ['model', '--help'], ['compile', '--help']]) {
      const r = await cli(argv)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('Usage: kproxc')
    }
  })
})

describe('the built bin', () => {
  const bin = `${root}packages/cli/bin/kproxc.js`
  it.skipIf(!existsSync(`${root}packages/cli/dist/main.js`))('runs from node_modules/.bin with real exit codes', () => {
    const ok = spawnSync(process.execPath, [bin, 'model', fixture('case-01')], { encoding: 'utf8' })
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout).schemaVersion).toBe(1)
    const bad = spawnSync(process.execPath, [bin, 'model', '-'], { input: 'kind: Service\napiVersion: v1\nmetadata: {name: X}\n', encoding: 'utf8' })
    expect(bad.status).toBe(1)
    expect(bad.stdout).toBe('')
  })
})

describe('config flags', () => {
  it('override the config of the input like kube-proxy flags', async () => {
    const r = await cli(['model', fixture('case-01'), '--cluster-cidr', '10.0.0.0/8', '--masquerade-all', '--nodeport-addresses', 'primary'])
    expect(r.code).toBe(0)
    const m = JSON.parse(r.stdout)
    expect(m.config.clusterCIDRs).toEqual(['10.0.0.0/8'])
    expect(m.config.masqueradeAll).toBe(true)
    expect(m.config.nodePortAddresses).toEqual(['primary'])
    expect(m.families[0].localDetector).toEqual({ kind: 'cidr', cidr: '10.0.0.0/8' })
  })

  it('are validated, naming the flag', async () => {
    const r = await cli(['model', fixture('case-01'), '--cluster-cidr', 'banana', '--detect-local-mode', 'Magic'])
    expect(r.code).toBe(EXIT.invalidInput)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('flags command line: clusterCIDR: "banana" holds "banana", which is not a CIDR')
    expect(r.stderr).toContain('flags command line: detectLocalMode: "Magic"')
  })
})
