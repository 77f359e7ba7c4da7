/**
 * `kproxc apply` end to end through the CLI with every tool a recording fake on PATH (io.env), so
 * nothing here touches a kernel: dry-run output, the commands a real run sends, and the one-line
 * errors for missing tools, missing privileges and failing tools. The kernel tests of each
 * backend's apply module prove the effects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scenarioYaml } from '../../../test/apply-scenario.js'
import { type Fakes, makeFakes } from '../../ipvs/src/__fixtures__/fakes.js'
import { formatCommand } from './commands/apply.js'
import { EXIT, type IO, run } from './main.js'

const TOOLS = ['iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore', 'nft', 'ipset', 'ipvsadm', 'ip', 'sysctl', 'conntrack']

let fakes: Fakes
let dir: string
let input: string
beforeEach(() => {
  fakes = makeFakes(TOOLS)
  dir = mkdtempSync(join(tmpdir(), 'kproxc-apply-cli-'))
  input = join(dir, 'a.yaml')
  writeFileSync(input, scenarioYaml('A'))
})
afterEach(() => {
  fakes.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

async function cli(argv: string[], env: Record<string, string | undefined> = fakes.env) {
  let stdout = ''
  let stderr = ''
  const io: IO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => '', stdinIsTTY: true, env }
  return { code: await run(argv, io), stdout, stderr }
}

const writes = () => fakes.calls().filter((c) => c.stdin !== undefined || ['-w', 'link', '-D'].includes(c.args[0] ?? ''))

describe('kproxc apply', () => {
  it('--dry-run prints the exact commands with their payloads as heredocs, and only reads', async () => {
    const r = await cli(['apply', input, '--mode', 'iptables', '--dry-run', '--no-nfacct'])
    expect(r.stderr).toMatch(/^# dry run, would do: iptables: \d+ chains and \d+ rules written, 14 jumps from built-in chains added\n$/)
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toMatch(/^iptables-restore --noflush --wait <<'KPROXC'\n\*filter\n:KUBE-SERVICES - \[0:0\]\n/)
    expect(r.stdout).toMatch(/^-I INPUT 1 -j KUBE-FIREWALL$/m)
    expect(r.stdout).toMatch(/^COMMIT\nKPROXC\n$/m)
    expect(fakes.calls().map((c) => c.tool)).toEqual(['iptables-save'])
  })

  it('programs nftables with one nft -j -f - carrying both tables of a dual-stack node', async () => {
    writeFileSync(input, scenarioYaml('A').replace('address: "192.168.0.2"}', 'address: "192.168.0.2"}\n    - {type: InternalIP, address: "fd00::2"}'))
    const r = await cli(['apply', input, '--mode', 'nftables'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toMatch(/^nftables: replaced table ip kube-proxy and table ip6 kube-proxy in one transaction/)
    const sent = writes()
    expect(sent.map((c) => `${c.tool} ${c.args.join(' ')}`)).toEqual(['nft -j -f -'])
    const doc = JSON.parse(sent[0]?.stdin ?? '') as { nftables: unknown[] }
    expect(doc.nftables.length).toBeGreaterThan(50)
  })

  it('programs ipvs in kube-proxy order; a second run only reads', async () => {
    const r = await cli(['apply', input, '--mode', 'ipvs'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(EXIT.ok)
    expect(r.stdout).toMatch(/^ipvs \(IPv4\): 4 sysctls set; 17 ipsets created, 0 swapped; virtual servers \+4/)
    expect(writes().map((c) => `${c.tool} ${c.args[0]}`)).toEqual([
      'sysctl -w', 'sysctl -w', 'sysctl -w', 'sysctl -w', 'ip link', 'ipset restore', 'ipvsadm -R', 'ip -batch', 'iptables-restore --noflush',
    ])
    // The recorders cannot remember ipsets and iptables; ipvsadm, ip and sysctl can.
    const n = fakes.calls().length
    await cli(['apply', input, '--mode', 'ipvs'])
    const again = fakes.calls().slice(n).filter((c) => ['ipvsadm', 'ip', 'sysctl'].includes(c.tool) && (c.stdin !== undefined || c.args[0] === '-w' || c.args[0] === 'link'))
    expect(again).toEqual([])
  })

  it('explains a missing tool in one line, without a stack trace', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kproxc-empty-'))
    try {
      const r = await cli(['apply', input, '--mode', 'iptables'], { PATH: empty })
      expect(r.code).toBe(EXIT.applyFailed)
      expect(r.stderr).toBe('kproxc: iptables-save is not installed or not on PATH (install iptables)\n')
      const n = await cli(['apply', input, '--mode', 'nftables'], { PATH: empty })
      expect(n.stderr).toBe('kproxc: nft is not installed or not on PATH (install nftables)\n')
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  it('explains missing privileges in one line', async () => {
    fakes.breakTool('iptables-save', 'iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)')
    const r = await cli(['apply', input, '--mode', 'iptables'])
    expect(r.code).toBe(EXIT.applyFailed)
    expect(r.stderr).toMatch(/^kproxc: iptables-save: permission denied: run as root \(CAP_NET_ADMIN\)[^\n]*\n$/)
  })

  it('exits 4 with the tool\'s own stderr when it fails', async () => {
    fakes.breakTool('nft', 'Error: Could not process rule: No such file or directory')
    const r = await cli(['apply', input, '--mode', 'nftables'])
    expect(r.code).toBe(EXIT.applyFailed)
    expect(r.stderr).toContain('nft -j -f - failed (exit 1):\nError: Could not process rule: No such file or directory')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('formats commands as copyable shell', () => {
    expect(formatCommand({ argv: ['conntrack', '-D', '-p', 'udp'], mutates: true })).toBe('conntrack -D -p udp\n')
    expect(formatCommand({ argv: ['ipset', 'restore'], stdin: 'KPROXC\n', mutates: true })).toBe("ipset restore <<'KPROXC_0'\nKPROXC\nKPROXC_0\n")
    expect(formatCommand({ argv: ['sysctl', '-w', "a b'c"], mutates: true })).toBe("sysctl -w 'a b'\\''c'\n")
  })
})
