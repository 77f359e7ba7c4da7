import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXIT, run } from '../../cli/src/main.js'

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url))

async function cli(argv: string[], stdin = '') {
  let stdout = ''
  let stderr = ''
  const code = await run(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: async () => stdin,
    stdinIsTTY: false,
    env: {},
  })
  return { code, stdout, stderr }
}

describe('kproxc compile --mode iptables', () => {
  it('prints the golden document of a fixture', async () => {
    const r = await cli(['compile', `${fixtures}affinity/input.yaml`, '--mode', 'iptables'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toBe(readFileSync(`${fixtures}affinity/iptables.rules`, 'utf8'))
  })

  it('applies the backend flags', async () => {
    const r = await cli(['compile', `${fixtures}affinity/input.yaml`, '--mode', 'iptables', '--no-nfacct', '--no-random-fully', '--no-builtin-jumps'])
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).not.toContain('nfacct')
    expect(r.stdout).not.toContain('--random-fully')
    expect(r.stdout).not.toMatch(/^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) /m)
    expect(r.stdout).toContain('-j MASQUERADE\n')
  })

  it('compiles IPv6 from stdin with --ip-family ipv6', async () => {
    const input = readFileSync(`${fixtures}dual-stack/input.yaml`, 'utf8')
    const r = await cli(['compile', '-', '--mode', 'iptables', '--ip-family', 'ipv6'], input)
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toBe(readFileSync(`${fixtures}dual-stack/ipv6/iptables.rules`, 'utf8'))
  })

  it('prints nothing on stdout for invalid input', async () => {
    const bad = 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  clusterIP: 10.96.0.10\n  ports: [{name: "a\\" -j ACCEPT", port: 80}]\n'
    const node = 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n'
    const r = await cli(['compile', '-', '--mode', 'iptables'], node + bad)
    expect(r.code).toBe(EXIT.invalidInput)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('is not a DNS-1123 label')
  })
})
