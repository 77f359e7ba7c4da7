import { type Family, type InputIssue, KproxcError, type Protocol, parseIP } from '@kproxc/core'

/** One real server as read back from ipvsadm text. */
export interface IpvsadmRealServer {
  address: string
  port: number
  method: 'masq' | 'gate' | 'ipip'
  weight: number
}

/** One virtual service as read back from ipvsadm text. */
export interface IpvsadmService {
  protocol: Protocol
  family: Family
  address: string
  port: number
  scheduler: string
  persistenceTimeout: number | null
  flags: string[]
  realServers: IpvsadmRealServer[]
}

/** The content of an ipvsadm-restore file. */
export interface IpvsadmRules {
  timeouts: { tcp: number; tcpFin: number; udp: number } | null
  services: IpvsadmService[]
}

const PROTOCOLS: Record<string, Protocol> = {
  '-t': 'TCP', '--tcp-service': 'TCP', '-u': 'UDP', '--udp-service': 'UDP', '--sctp-service': 'SCTP',
}
const METHODS: Record<string, IpvsadmRealServer['method']> = {
  '-m': 'masq', '--masquerading': 'masq', '-g': 'gate', '--gatewaying': 'gate', '-i': 'ipip', '--ipip': 'ipip',
}
const SCHED_FLAGS = new Set(['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port', 'flag-1', 'flag-2', 'flag-3'])
const SCHEDULER = /^[a-z][a-z0-9]{0,15}$/
/** ipvsadm 1.31 limits (process_options): persistence 1..2678400 s, weight 0..65535. */
const MAX_PERSISTENCE = 2678400
const MAX_WEIGHT = 65535

class LineError extends Error {}

/**
 * Reads ipvsadm-restore text strictly (the subset kube-proxy's state needs: `--set`, `-A`, `-a`) and
 * checks what ipvsadm -R would reject or the kernel would refuse: unknown options, bad numbers,
 * non-canonical or unbracketed addresses, a real server before its service, duplicates.
 * Throws KproxcError(INVALID_INPUT) listing every bad line.
 */
export function loadIpvsadmRules(text: string): IpvsadmRules {
  const out: IpvsadmRules = { timeouts: null, services: [] }
  const byId = new Map<string, IpvsadmService>()
  const issues: InputIssue[] = []
  const lines = text.split('\n')
  if (text !== '' && !text.endsWith('\n')) issues.push(issue(lines.length, text, 'the file does not end with a newline'))
  lines.forEach((line, i) => {
    // ipvsadm -R drops a token that is exactly "ipvsadm" and skips blank lines.
    const tokens = line.split(/[ \t]+/).filter((t) => t !== '' && t !== 'ipvsadm')
    if (tokens.length === 0) return
    try {
      const cmd = tokens[0]
      if (cmd === '--set') {
        if (tokens.length !== 4) throw new LineError('--set takes exactly three timeouts')
        const [tcp, tcpFin, udp] = tokens.slice(1).map((t) => int(t, 0, 2 ** 31 - 1, 'timeout'))
        out.timeouts = { tcp: tcp ?? 0, tcpFin: tcpFin ?? 0, udp: udp ?? 0 }
      } else if (cmd === '-A' || cmd === '--add-service') {
        const svc = parseService(tokens.slice(1))
        const id = serviceId(svc)
        if (byId.has(id)) throw new LineError(`virtual service ${id} is declared twice`)
        byId.set(id, svc)
        out.services.push(svc)
      } else if (cmd === '-a' || cmd === '--add-server') {
        const { id, rs, family } = parseServer(tokens.slice(1))
        const svc = byId.get(id)
        if (!svc) throw new LineError(`real server for ${id}, which no earlier -A line declares`)
        if (family !== svc.family && rs.method === 'masq') throw new LineError('a masqueraded real server must have the family of its service')
        if (svc.realServers.some((r) => r.address === rs.address && r.port === rs.port)) {
          throw new LineError(`real server ${rs.address}:${rs.port} appears twice under ${id}`)
        }
        svc.realServers.push(rs)
      } else {
        throw new LineError(`unexpected command ${JSON.stringify(cmd)}`)
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e
      issues.push(issue(i + 1, line, e.message))
    }
  })
  if (issues.length > 0) throw new KproxcError('INVALID_INPUT', 'malformed ipvsadm rules', issues)
  return out
}

function issue(lineNo: number, line: string, message: string): InputIssue {
  return { object: { kind: 'IpvsadmRules', name: 'ipvsadm.rules' }, path: `line ${lineNo}`, value: line, message }
}

function serviceId(s: { protocol: Protocol; address: string; port: number; family: Family }): string {
  return `${s.protocol} ${s.family === 'IPv6' ? `[${s.address}]` : s.address}:${s.port}`
}

interface Addr { address: string; port: number; family: Family }

function parseAddress(text: string | undefined, what: string): Addr {
  if (text === undefined) throw new LineError(`${what} address is missing`)
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text)
  if (!m) throw new LineError(`${what} ${JSON.stringify(text)} is not ADDRESS:PORT (IPv6 must be bracketed)`)
  const ip = parseIP(m[1] ?? '')
  if ('error' in ip) throw new LineError(`${what} ${JSON.stringify(m[1])} ${ip.error}`)
  if (ip.nonCanonical) throw new LineError(`${what} ${JSON.stringify(m[1])} is not in numeric canonical form (${ip.text})`)
  if (ip.family === 'IPv6' && !text.startsWith('[')) throw new LineError(`${what} IPv6 address must be bracketed`)
  return { address: ip.text, port: int(m[2] ?? '', 0, 65535, `${what} port`), family: ip.family }
}

function int(text: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(text)) throw new LineError(`${what} ${JSON.stringify(text)} is not a number`)
  const n = Number(text)
  if (n < min || n > max) throw new LineError(`${what} ${n} is not in ${min}..${max}`)
  return n
}

function protocolOf(tokens: string[]): { protocol: Protocol; rest: string[]; addr: Addr } {
  const flag = tokens[0] ?? ''
  const protocol = PROTOCOLS[flag]
  if (!protocol) throw new LineError(`expected -t, -u or --sctp-service, found ${JSON.stringify(flag)}`)
  return { protocol, addr: parseAddress(tokens[1], 'virtual'), rest: tokens.slice(2) }
}

function parseService(tokens: string[]): IpvsadmService {
  const { protocol, addr, rest } = protocolOf(tokens)
  let scheduler: string | undefined
  let persistence: number | null = null
  let flags: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const opt = rest[i]
    const val = rest[i + 1]
    if (opt === '-s' || opt === '--scheduler') {
      if (!val || !SCHEDULER.test(val)) throw new LineError(`-s needs a scheduler name, found ${JSON.stringify(val)}`)
      scheduler = val
      i++
    } else if (opt === '-p' || opt === '--persistent') {
      // The timeout is optional for ipvsadm (default 360 s); we insist on it to avoid that default.
      if (val === undefined || !/^\d+$/.test(val)) throw new LineError('-p must carry an explicit timeout')
      persistence = int(val, 1, MAX_PERSISTENCE, 'persistence timeout')
      i++
    } else if (opt === '-b' || opt === '--sched-flags') {
      flags = (val ?? '').split(',')
      if (flags.some((f) => !SCHED_FLAGS.has(f))) throw new LineError(`unknown scheduler flag in ${JSON.stringify(val)}`)
      i++
    } else {
      throw new LineError(`unexpected service option ${JSON.stringify(opt)}`)
    }
  }
  // ipvsadm's default would be wlc: a service line must name its scheduler.
  if (!scheduler) throw new LineError('-A without -s (ipvsadm would silently use wlc)')
  if (addr.port === 0 && persistence === null) throw new LineError('port 0 is only allowed for persistent services')
  return { protocol, family: addr.family, address: addr.address, port: addr.port, scheduler, persistenceTimeout: persistence, flags, realServers: [] }
}

function parseServer(tokens: string[]): { id: string; rs: IpvsadmRealServer; family: Family } {
  const { protocol, addr, rest } = protocolOf(tokens)
  let real: Addr | undefined
  let method: IpvsadmRealServer['method'] | undefined
  let weight: number | undefined
  for (let i = 0; i < rest.length; i++) {
    const opt = rest[i] ?? ''
    if (opt === '-r' || opt === '--real-server') {
      real = parseAddress(rest[++i], 'real')
    } else if (METHODS[opt]) {
      if (method) throw new LineError('more than one forwarding method')
      method = METHODS[opt]
    } else if (opt === '-w' || opt === '--weight') {
      weight = int(rest[++i] ?? '', 0, MAX_WEIGHT, 'weight')
    } else {
      throw new LineError(`unexpected real-server option ${JSON.stringify(opt)}`)
    }
  }
  if (!real) throw new LineError('-a without -r')
  // ipvsadm's defaults would be -g (direct routing) and weight 1: both must be explicit.
  if (!method) throw new LineError('-a without a forwarding method (ipvsadm would use -g)')
  if (weight === undefined) throw new LineError('-a without -w')
  if (real.port === 0) throw new LineError('real server port 0')
  return {
    id: serviceId({ protocol, address: addr.address, port: addr.port, family: addr.family }),
    rs: { address: real.address, port: real.port, method, weight },
    family: real.family,
  }
}
