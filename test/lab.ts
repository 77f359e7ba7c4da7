/**
 * Network-namespace lab for kernel tests. A "node" namespace holds the ruleset under test; pods and
 * clients are namespaces joined to it by veth pairs, routed Calico-style (proxy ARP, /32 routes), so
 * every packet between them crosses the node's netfilter hooks. Every namespace carries a random
 * suffix and is deleted in destroy(), on process exit, and never touches the host's own ruleset.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url))
const GW4 = '169.254.1.1'
const GW6 = 'fe80::1'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface ProbeResult {
  ok: boolean
  server?: string
  peer?: string
  port?: number
  error?: string
}

/** Whether kernel tests can run here; in CI (CI=true) they must, so a missing piece is an error. */
export function kernelSupport(tools: readonly string[] = []): { ok: true } | { ok: false; reason: string } {
  const missing: string[] = []
  if (process.getuid?.() !== 0) missing.push('root')
  for (const tool of ['ip', 'node', ...tools]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      missing.push(tool)
    }
  }
  if (missing.length === 0) return { ok: true }
  const reason = `kernel tests need ${missing.join(', ')}`
  if (process.env.CI === 'true') throw new Error(`${reason}, and CI=true requires them to run`)
  return { ok: false, reason }
}

const live = new Set<Lab>()
process.on('exit', () => {
  for (const lab of live) lab.destroySync()
})

export interface HostAddrs {
  ipv4?: string
  ipv6?: string
}

/** One lab: a node namespace and any number of host namespaces linked to it. */
export class Lab {
  readonly id = randomBytes(3).toString('hex')
  private readonly namespaces: string[] = []
  private readonly procs: ChildProcess[] = []
  private links = 0

  private constructor(readonly prefix: string) {}

  /** Creates the node namespace (forwarding on, node IPs on lo). */
  static async create(node: HostAddrs, prefix = 'kpx'): Promise<Lab> {
    const lab = new Lab(prefix)
    live.add(lab)
    try {
      await lab.addNamespace('node')
      const n = lab.ns('node')
      await lab.must(['ip', 'netns', 'exec', n, 'ip', 'link', 'set', 'lo', 'up'])
      await lab.must(['ip', 'netns', 'exec', n, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      await lab.must(['ip', 'netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
      await lab.must(['ip', 'netns', 'exec', n, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1'])
      // The hosts' gateway: a node-local address, so the node answers ARP for it on every link.
      await lab.must(['ip', 'netns', 'exec', n, 'ip', 'addr', 'add', `${GW4}/32`, 'dev', 'lo'])
      if (node.ipv4) await lab.must(['ip', 'netns', 'exec', n, 'ip', 'addr', 'add', `${node.ipv4}/32`, 'dev', 'lo'])
      if (node.ipv6) await lab.must(['ip', 'netns', 'exec', n, 'ip', '-6', 'addr', 'add', `${node.ipv6}/128`, 'dev', 'lo', 'nodad'])
    } catch (e) {
      await lab.destroy()
      throw e
    }
    return lab
  }

  /** Full namespace name for a short one. */
  ns(short: string): string {
    return `${this.prefix}-${this.id}-${short}`
  }

  private async addNamespace(short: string): Promise<void> {
    const name = this.ns(short)
    await this.must(['ip', 'netns', 'add', name])
    this.namespaces.push(name)
  }

  /** A pod or client namespace with these addresses, linked to the node. */
  async addHost(short: string, addrs: HostAddrs): Promise<void> {
    await this.addNamespace(short)
    const h = this.ns(short)
    const n = this.ns('node')
    const idx = this.links++
    const nodeSide = `kv${this.id}${idx}`.slice(0, 15)
    const hostSide = `kh${this.id}${idx}`.slice(0, 15)
    await this.must(['ip', 'link', 'add', nodeSide, 'type', 'veth', 'peer', 'name', hostSide])
    await this.must(['ip', 'link', 'set', nodeSide, 'netns', n])
    await this.must(['ip', 'link', 'set', hostSide, 'netns', h])
    const inN = (...a: string[]) => this.must(['ip', 'netns', 'exec', n, ...a])
    const inH = (...a: string[]) => this.must(['ip', 'netns', 'exec', h, ...a])
    await inH('ip', 'link', 'set', 'lo', 'up')
    await inH('ip', 'link', 'set', hostSide, 'name', 'eth0')
    await inH('sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0')
    await inH('sysctl', '-qw', 'net.ipv6.conf.eth0.accept_dad=0')
    await inN('sysctl', '-qw', `net.ipv4.conf.${nodeSide}.proxy_arp=1`)
    await inN('sysctl', '-qw', `net.ipv6.conf.${nodeSide}.accept_dad=0`)
    await inN('ip', 'link', 'set', nodeSide, 'up')
    await inH('ip', 'link', 'set', 'eth0', 'up')
    if (addrs.ipv4) {
      await inH('ip', 'addr', 'add', `${addrs.ipv4}/32`, 'dev', 'eth0')
      await inH('ip', 'route', 'add', GW4, 'dev', 'eth0', 'scope', 'link')
      await inH('ip', 'route', 'add', 'default', 'via', GW4, 'dev', 'eth0')
      await inN('ip', 'route', 'add', `${addrs.ipv4}/32`, 'dev', nodeSide)
    }
    if (addrs.ipv6) {
      await inN('ip', '-6', 'addr', 'add', `${GW6}/64`, 'dev', nodeSide, 'nodad')
      await inH('ip', '-6', 'addr', 'add', `${addrs.ipv6}/128`, 'dev', 'eth0', 'nodad')
      await inH('ip', '-6', 'route', 'add', 'default', 'via', GW6, 'dev', 'eth0')
      await inN('ip', '-6', 'route', 'add', `${addrs.ipv6}/128`, 'dev', nodeSide)
    }
  }

  /** Runs a command inside a namespace ("node" or a host's short name). */
  exec(short: string, argv: readonly string[], input?: string, timeoutMs = 30_000): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', this.ns(short), ...argv], input, timeoutMs)
  }

  /** Like exec, but throws with the command's stderr when it fails. */
  async execOk(short: string, argv: readonly string[], input?: string): Promise<string> {
    const r = await this.exec(short, argv, input)
    if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${short} failed (${r.code}): ${r.stderr.trim()}`)
    return r.stdout
  }

  /** Starts an echo server in a host namespace; resolves once it listens. */
  async serve(short: string, name: string, ports: { tcp?: number[]; udp?: number[] }): Promise<void> {
    const args = ['ip', 'netns', 'exec', this.ns(short), process.execPath, PEER, 'serve', '--name', name, '--lifetime', '600000']
    if (ports.tcp?.length) args.push('--tcp', ports.tcp.join(','))
    if (ports.udp?.length) args.push('--udp', ports.udp.join(','))
    const child = spawn(args[0] as string, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    this.procs.push(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${name} did not start`)), 10_000)
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      child.stdout?.on('data', (d) => {
        if (String(d).includes('ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`server ${name} exited (${code}): ${err}`))
      })
    })
  }

  /** Sends `count` connections (or datagrams) from a namespace and returns what answered. */
  async probe(short: string, dst: string, port: number, opts: { proto?: 'tcp' | 'udp'; count?: number; timeoutMs?: number } = {}): Promise<ProbeResult[]> {
    const count = Math.min(opts.count ?? 1, 500)
    const timeout = opts.timeoutMs ?? 1500
    const out = await this.execOk(short, [
      process.execPath, PEER, 'probe', '--dst', dst, '--port', String(port), '--proto', opts.proto ?? 'tcp',
      '--count', String(count), '--timeout', String(timeout),
    ])
    return JSON.parse(out) as ProbeResult[]
  }

  /** Deletes every namespace and stops every server this lab started. */
  async destroy(): Promise<void> {
    this.destroySync()
  }

  /** Synchronous cleanup (also used from the process exit hook). */
  destroySync(): void {
    for (const p of this.procs) p.kill('SIGKILL')
    this.procs.length = 0
    for (const name of this.namespaces.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' })
      } catch {
        // Already gone.
      }
    }
    live.delete(this)
  }

  private async must(argv: readonly string[]): Promise<void> {
    const r = await run(argv, undefined, 30_000)
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  }
}

/**
 * Runs a command with optional stdin, bounded in time. Stdin comes from a temporary file, not a
 * pipe: tools such as `nft -f -` reopen /dev/stdin, which fails (ENXIO) on node's socket pipes.
 */
export function run(argv: readonly string[], input?: string, timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    let fd: number | undefined
    let dir: string | undefined
    if (input !== undefined) {
      dir = mkdtempSync(join(tmpdir(), 'kpx-stdin-'))
      const path = join(dir, 'stdin')
      writeFileSync(path, input)
      fd = openSync(path, 'r')
    }
    const cleanup = () => {
      if (fd !== undefined) closeSync(fd)
      if (dir) rmSync(dir, { recursive: true, force: true })
      fd = undefined
      dir = undefined
    }
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: [fd ?? 'ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout?.on('data', (d) => (stdout += d))
    child.stderr?.on('data', (d) => (stderr += d))
    child.on('error', (e) => {
      clearTimeout(timer)
      cleanup()
      resolve({ code: 127, stdout, stderr: stderr + e.message })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      cleanup()
      resolve({ code: code ?? 1, stdout, stderr })
    })
  })
}

/** Which servers answered, counted. */
export function tally(results: readonly ProbeResult[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of results) {
    const k = r.ok ? (r.server ?? '?') : `error:${r.error}`
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}
