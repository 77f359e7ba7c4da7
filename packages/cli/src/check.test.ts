import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXIT, type IO, run } from './main.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))

async function cli(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, env: {} }
  return { code: await run(argv, io), stdout, stderr }
}

describe('kproxc compile --check', () => {
  const input = `${root}fixtures/nodeport/input.yaml`
  const golden = `${root}fixtures/nodeport/iptables.rules`

  it('exits 0 and prints nothing when the output equals the golden file', async () => {
    const r = await cli(['compile', input, '--mode', 'iptables', '--check', golden])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toBe('')
  })

  it('prints a unified diff and exits 3 when they differ', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kproxc-check-'))
    const changed = join(dir, 'iptables.rules')
    writeFileSync(changed, readFileSync(golden, 'utf8').replace('COMMIT\n', '-A KUBE-SERVICES -j ACCEPT\nCOMMIT\n'))
    const r = await cli(['compile', input, '--mode', 'iptables', '--check', changed])
    expect(r.code).toBe(EXIT.checkMismatch)
    expect(r.stdout).toContain(`--- ${changed}`)
    expect(r.stdout).toContain('+++ compiled')
    expect(r.stdout).toContain('--A KUBE-SERVICES -j ACCEPT')
    expect(r.stderr).toContain('differs')
  })

  it('compares every file of a multi-file mode against a directory', async () => {
    const r = await cli(['compile', input, '--mode', 'ipvs', '--check', `${root}fixtures/nodeport/ipvs`])
    expect(r.code).toBe(EXIT.ok)
    const missing = await cli(['compile', input, '--mode', 'ipvs', '--check', '/nonexistent'])
    expect(missing.code).toBe(EXIT.usage)
  })
})
