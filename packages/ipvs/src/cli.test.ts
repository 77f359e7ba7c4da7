import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXIT, type IO, run } from '../../cli/src/main.js'
import { BAD_CASES } from '../../../test/bad-input.js'

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
const FILES = ['ipvsadm.rules', 'ipset.rules', 'iptables.rules', 'kube-ipvs0.addresses', 'sysctl.conf']

async function kproxc(argv: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: IO = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stdin: async () => stdin ?? '', stdinIsTTY: stdin === undefined, env: {} }
  const code = await run(argv, io)
  return { code, stdout, stderr }
}

const golden = (fixture: string, name: string, sub = 'ipvs') => readFileSync(join(FIXTURES, fixture, sub, name), 'utf8')

describe('kproxc compile --mode ipvs', () => {
  it('prints the five files to stdout, each after a # ==> NAME <== line, equal to the goldens', async () => {
    const r = await kproxc(['compile', join(FIXTURES, 'nodeport', 'input.yaml'), '--mode', 'ipvs'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toBe(FILES.map((f) => `# ==> ${f} <==\n${golden('nodeport', f)}`).join(''))
  })

  it('writes the five files into the -o directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kproxc-ipvs-'))
    try {
      const r = await kproxc(['compile', join(FIXTURES, 'ipvs-sctp-udp-local', 'input.yaml'), '--mode', 'ipvs', '-o', join(dir, 'out')])
      expect(r.code).toBe(EXIT.ok)
      expect(readdirSync(join(dir, 'out')).sort()).toEqual([...FILES].sort())
      for (const f of FILES) expect(readFileSync(join(dir, 'out', f), 'utf8')).toBe(golden('ipvs-sctp-udp-local', f))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('takes --scheduler and --ip-family', async () => {
    const mh = await kproxc(['compile', join(FIXTURES, 'ipvs-scheduler', 'input.yaml'), '--mode', 'ipvs', '--scheduler', 'mh'])
    expect(mh.stdout).toContain(`# ==> ipvsadm.rules <==\n${golden('ipvs-scheduler', 'ipvsadm.rules')}`)
    const v6 = await kproxc(['compile', join(FIXTURES, 'dual-stack', 'input.yaml'), '--mode', 'ipvs', '--ip-family', 'ipv6'])
    expect(v6.code).toBe(EXIT.ok)
    expect(v6.stdout).toContain(`# ==> ipset.rules <==\n${golden('dual-stack', 'ipset.rules', 'ipv6/ipvs')}`)
  })

  it('refuses an unknown scheduler and a format it does not have', async () => {
    const bad = await kproxc(['compile', join(FIXTURES, 'nodeport', 'input.yaml'), '--mode', 'ipvs', '--scheduler', 'fifo'])
    expect(bad.code).toBe(EXIT.usage)
    expect(bad.stderr).toContain('fifo')
    const fmt = await kproxc(['compile', join(FIXTURES, 'nodeport', 'input.yaml'), '--mode', 'ipvs', '--format', 'text'])
    expect(fmt.code).toBe(EXIT.usage)
    expect(fmt.stderr).toContain('--format text is not available for --mode ipvs')
  })

  it.each(BAD_CASES.map((c) => [c.name, c] as const))('reports bad input (%s) with exit 1 and no output', async (_name, c) => {
    const r = await kproxc(['compile', '-', '--mode', 'ipvs', '--node', 'n1'], c.yaml.replaceAll('input.yaml', '<stdin>'))
    expect(r.code).toBe(EXIT.invalidInput)
    expect(r.stdout).toBe('')
    for (const s of c.expect) expect(r.stderr).toContain(s.replaceAll('(input.yaml', '(<stdin>'))
  })
})
