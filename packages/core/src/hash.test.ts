import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sha256Base32, sha256Base32_16 } from './hash.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
/** RFC 4648 base32 of node:crypto's SHA-256, written the slow obvious way. */
function reference(s: string, chars: number): string {
  let bits = ''
  for (const b of createHash('sha256').update(s, 'utf8').digest()) bits += b.toString(2).padStart(8, '0')
  let out = ''
  for (let i = 0; i + 5 <= bits.length; i += 5) out += ALPHABET[Number.parseInt(bits.slice(i, i + 5), 2)]
  return out.slice(0, chars)
}

describe('sha256Base32', () => {
  it('matches a reference SHA-256 + base32 on every length around the block boundaries', () => {
    for (let n = 0; n < 200; n++) {
      const s = 'ns-1/svc-1:http'.repeat(20).slice(0, n)
      expect(sha256Base32_16(s)).toBe(reference(s, 16))
    }
  })

  it('matches on random strings (ASCII and not), for every prefix length', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 1, max: 51 }), (s, chars) => {
      expect(sha256Base32(s, chars)).toBe(reference(s, chars))
    }), { numRuns: 500 })
  })

  it('hashes the optional parts as if appended to the first (ASCII and not, across block boundaries)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 90 }), fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 90 }), (a, b, c) => {
      expect(sha256Base32_16(a, b, c)).toBe(reference(a + b + c, 16))
      expect(sha256Base32_16(a, b)).toBe(reference(a + b, 16))
    }), { numRuns: 500 })
  })

  it('gives the chain hash kube-proxy computes for a known service port', () => {
    // pkg/proxy/iptables/proxier_test.go: ns1/svc1:p80 tcp → KUBE-SVC-XPGD46QRK7WJZT7O.
    expect(sha256Base32_16('ns1/svc1:p80tcp')).toBe('XPGD46QRK7WJZT7O')
  })
})
