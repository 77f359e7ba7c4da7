import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareEntries, sortEntries } from './entries.js'

describe('sortEntries', () => {
  it('orders exactly as compareEntries (parsing each member once)', () => {
    const piece = fc.oneof(
      fc.constantFrom('10.0.0.1', '10.0.0.10', '9.255.0.1', '10.0.0.0/8', '10.0.0.0/16', 'fd00::1', 'fd00::/64', '::1', '0.0.0.0/0', 'x', '80', '8080', '00'),
      fc.tuple(fc.constantFrom('tcp', 'udp', 'sctp'), fc.integer({ min: 0, max: 70000 })).map(([p, n]) => `${p}:${n}`),
      fc.integer({ min: 0, max: 300 }).map(String),
    )
    fc.assert(fc.property(fc.array(fc.array(piece, { minLength: 1, maxLength: 3 }).map((x) => x.join(',')), { maxLength: 40 }), (entries) => {
      expect(sortEntries(entries)).toEqual([...new Set(entries)].sort(compareEntries))
    }), { numRuns: 300 })
  })
})

describe('sortEntries on IPv4 members of one shape (the numeric fast path)', () => {
  it('orders exactly as compareEntries, with host bits, leading zeros and odd members mixed in', () => {
    // Small domains, so members share addresses and ports and the later pieces decide.
    const ip = fc.constantFrom('0.0.0.0', '10.0.0.1', '10.0.1.0', '10.0.1.255', '10.1.0.0', '255.255.255.255', '192.168.0.2')
    const protoPort = fc.tuple(fc.constantFrom('tcp', 'udp', 'sctp'), fc.constantFrom('0', '80', '080', '256', '65535')).map(([p, n]) => `${p}:${n}`)
    const cidr = fc.tuple(ip, fc.constantFrom(0, 1, 8, 9, 16, 24, 31, 32)).map(([a, l]) => `${a}/${l}`)
    const shape = fc.constantFrom<((g: { ip: string; pp: string; third: string; port: string }) => string)[]>(
      (g) => g.port,
      (g) => g.ip,
      (g) => `${g.ip},${g.pp}`,
      (g) => `${g.ip},${g.pp},${g.third}`,
    )
    const member = fc.record({ ip, pp: protoPort, third: fc.oneof(ip, cidr), port: fc.oneof(fc.integer({ min: 0, max: 65535 }).map(String), fc.constantFrom('0', '00', '7', '007')) })
    const odd = fc.constantFrom('010.0.0.1,tcp:80', 'fd00::1,tcp:80', '10.0.0.1,tcp:80,10.0.0.0/033', 'x', '10.0.0.1,icmp:1', '256.0.0.1', '10.0.0.1,tcp:65536', '10.0.0.1')
    fc.assert(fc.property(shape, fc.array(member, { maxLength: 60 }), fc.option(odd, { freq: 4 }), (spell, members, extra) => {
      const entries = members.map(spell)
      if (extra !== null) entries.push(extra)
      expect(sortEntries(entries)).toEqual([...new Set(entries)].sort(compareEntries))
    }), { numRuns: 500 })
    // A network sorts before its longer prefixes and by its masked address.
    const nets = ['10.0.0.1,tcp:80,10.0.1.0/16', '10.0.0.1,tcp:80,10.0.0.0/8', '10.0.0.1,tcp:80,10.0.0.1', '10.0.0.1,tcp:80,9.255.0.0/8']
    expect(sortEntries(nets)).toEqual(['10.0.0.1,tcp:80,9.255.0.0/8', '10.0.0.1,tcp:80,10.0.0.0/8', '10.0.0.1,tcp:80,10.0.1.0/16', '10.0.0.1,tcp:80,10.0.0.1'])
  })
})

describe('sortAddressList', () => {
  it('orders exactly as the core sortAddresses', async () => {
    const { sortAddresses } = await import('@kproxc/core')
    const { sortAddressList } = await import('./entries.js')
    const addr = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.1', '010.0.0.1', '10.0.0.0/8', 'x', '::ffff:1.2.3.4', '256.1.1.1', '80', '100'))
    fc.assert(fc.property(fc.array(addr, { maxLength: 40 }), (list) => {
      expect(sortAddressList(list)).toEqual(sortAddresses(list))
    }), { numRuns: 300 })
    // All IPv4 (the numeric fast path), and numbers, which compareAddresses orders as text.
    fc.assert(fc.property(fc.array(fc.ipV4(), { maxLength: 40 }), fc.option(fc.constantFrom('80', '100', '9'), { freq: 3 }), (list, odd) => {
      const all = odd === null ? list : [...list, odd]
      expect(sortAddressList(all)).toEqual(sortAddresses(all))
    }), { numRuns: 300 })
    expect(sortAddressList(['9', '80', '100'])).toEqual(sortAddresses(['9', '80', '100']))
  })
})
