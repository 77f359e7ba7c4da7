import { KproxcError } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { loadIpvsadmRules } from './load-ipvsadm.js'

function issuesOf(text: string): string[] {
  try {
    loadIpvsadmRules(text)
  } catch (e) {
    if (e instanceof KproxcError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

describe('loadIpvsadmRules (the structural checker for ipvsadm.rules)', () => {
  it('reads services, real servers, timeouts and IPv6 brackets', () => {
    const rules = loadIpvsadmRules([
      '--set 900 0 300',
      '-A -t 10.96.0.1:443 -s rr -p 10800',
      '-a -t 10.96.0.1:443 -r 192.168.1.2:6443 -m -w 1',
      '-A --sctp-service [fd00:96::a]:53 -s mh -b mh-port',
      '-a --sctp-service [fd00:96::a]:53 -r [fd00:244:1::5]:53 -m -w 1',
      '',
    ].join('\n'))
    expect(rules.timeouts).toEqual({ tcp: 900, tcpFin: 0, udp: 300 })
    expect(rules.services).toEqual([
      { protocol: 'TCP', family: 'IPv4', address: '10.96.0.1', port: 443, scheduler: 'rr', persistenceTimeout: 10800, flags: [], realServers: [{ address: '192.168.1.2', port: 6443, method: 'masq', weight: 1 }] },
      { protocol: 'SCTP', family: 'IPv6', address: 'fd00:96::a', port: 53, scheduler: 'mh', persistenceTimeout: null, flags: ['mh-port'], realServers: [{ address: 'fd00:244:1::5', port: 53, method: 'masq', weight: 1 }] },
    ])
  })

  it('accepts an empty file', () => {
    expect(loadIpvsadmRules('')).toEqual({ timeouts: null, services: [] })
  })

  it.each([
    ['a real server before its service', '-a -t 10.96.0.1:80 -r 10.0.0.1:80 -m -w 1\n', 'no earlier -A line declares'],
    ['a duplicate service', '-A -t 10.96.0.1:80 -s rr\n-A -t 10.96.0.1:80 -s rr\n', 'declared twice'],
    ['a duplicate real server', '-A -u 10.96.0.1:53 -s rr\n-a -u 10.96.0.1:53 -r 10.0.0.1:53 -m -w 1\n-a -u 10.96.0.1:53 -r 10.0.0.1:53 -m -w 1\n', 'appears twice'],
    ['an unbracketed IPv6 address', '-A -t fd00::1:80 -s rr\n', 'is not ADDRESS:PORT'],
    ['a non-canonical address', '-A -t 010.96.0.1:80 -s rr\n', 'numeric canonical form'],
    ['a host name', '-A -t kubernetes:https -s rr\n', 'is not ADDRESS:PORT'],
    ['a missing scheduler', '-A -t 10.96.0.1:80\n', 'would silently use wlc'],
    ['a missing forwarding method', '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r 10.0.0.1:80 -w 1\n', 'would use -g'],
    ['a missing weight', '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r 10.0.0.1:80 -m\n', 'without -w'],
    ['a weight out of range', '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r 10.0.0.1:80 -m -w 70000\n', 'not in 0..65535'],
    ['a persistence timeout out of range', '-A -t 10.96.0.1:80 -s rr -p 2678401\n', 'not in 1..2678400'],
    ['-p without a value', '-A -t 10.96.0.1:80 -s rr -p\n', 'explicit timeout'],
    ['an unknown scheduler flag', '-A -t 10.96.0.1:80 -s mh -b mh-weird\n', 'unknown scheduler flag'],
    ['a comment line', '# ipvsadm -R would pass this on\n', 'unexpected command'],
    ['an unknown option', '-A -t 10.96.0.1:80 -s rr -o\n', 'unexpected service option'],
    ['a family mix under NAT', '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r [fd00::1]:80 -m -w 1\n', 'family of its service'],
    ['port 0 without persistence', '-A -t 10.96.0.1:0 -s rr\n', 'only allowed for persistent'],
    ['a missing final newline', '-A -t 10.96.0.1:80 -s rr', 'does not end with a newline'],
  ])('rejects %s', (_name, text, message) => {
    const issues = issuesOf(text)
    expect(issues.join('\n')).toContain(message)
  })

  it('reports every bad line, with its number', () => {
    expect(issuesOf('-A -t 10.96.0.1:80 -s rr\nbogus\n-a -t 10.96.0.2:80 -r 10.0.0.1:80 -m -w 1\n')).toEqual([
      'line 2: unexpected command "bogus"',
      'line 3: real server for TCP 10.96.0.2:80, which no earlier -A line declares',
    ])
  })
})
