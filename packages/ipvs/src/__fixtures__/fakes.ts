/** Test helper: a directory of fake tools to put first on PATH (see fake-tool.mjs). */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('./fake-tool.mjs', import.meta.url))

export interface FakeCall {
  tool: string
  args: string[]
  stdin?: string
}

export interface Fakes {
  dir: string
  /** PATH with the fakes first. */
  path: string
  env: Record<string, string | undefined>
  calls(): FakeCall[]
  state(): { services: { id: string; line: string; reals: { addr: string; method: string; weight: number; active?: number; inactive?: number }[] }[]; link: boolean; addrs: string[]; sysctl: Record<string, string> }
  /** Sets a real server's ActiveConn and InActConn (`service` as `-t 10.96.0.10:80`), as traffic would. */
  setConnections(service: string, real: string, active: number, inactive: number): void
  /** Makes `tool` fail with this stderr from now on. */
  breakTool(tool: string, stderr: string): void
  /** What a recorder prints. */
  setOutput(tool: string, stdout: string): void
  cleanup(): void
}

/** Fakes for `tools`, each a shell wrapper that runs fake-tool.mjs with this node. */
export function makeFakes(tools: readonly string[]): Fakes {
  const dir = mkdtempSync(join(tmpdir(), 'kproxc-fakes-'))
  const realIp = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim()
  for (const t of tools) {
    const p = join(dir, t)
    writeFileSync(p, `#!/bin/sh\nexec "${process.execPath}" "${SCRIPT}" ${t} "$@"\n`)
    chmodSync(p, 0o755)
  }
  writeFileSync(join(dir, 'log.jsonl'), '')
  const path = `${dir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`
  return {
    dir,
    path,
    env: { ...process.env, PATH: path, FAKE_DIR: dir, FAKE_REAL_IP: realIp },
    calls: () => readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FakeCall),
    state: () => (existsSync(join(dir, 'state.json')) ? JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) : { services: [], link: false, addrs: [], sysctl: {} }),
    setConnections: (service, real, active, inactive) => {
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ReturnType<Fakes['state']>
      const rs = state.services.find((s) => s.id === service)?.reals.find((r) => r.addr === real)
      if (!rs) throw new Error(`fake ipvsadm has no real server ${real} under ${service}`)
      Object.assign(rs, { active, inactive })
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state))
    },
    breakTool: (tool, stderr) => writeFileSync(join(dir, `${tool}.fail`), stderr),
    setOutput: (tool, stdout) => writeFileSync(join(dir, `${tool}.out`), stdout),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}
