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

describe('sortAddressList', () => {
  it('orders exactly as the core sortAddresses', async () => {
    const { sortAddresses } = await import('@kproxc/core')
    const { sortAddressList } = await import('./entries.js')
    const addr = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.1', '010.0.0.1', '10.0.0.0/8', 'x', '::ffff:1.2.3.4', '256.1.1.1'))
    fc.assert(fc.property(fc.array(addr, { maxLength: 40 }), (list) => {
      expect(sortAddressList(list)).toEqual(sortAddresses(list))
    }), { numRuns: 300 })
  })
})
