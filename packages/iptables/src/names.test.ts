import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { endpointChain, formatMark, servicePortChains, servicePortHash } from './names.js'
import { sha256Base32_16 } from '@kproxc/core'

describe('chain hash', () => {
  it('is base32(SHA-256) of the text, cut to 16 characters, for any text including non-ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        expect(sha256Base32_16(s)).toBe(rfc4648(createHash('sha256').update(s, 'utf8').digest()).slice(0, 16))
      }),
      { numRuns: 500, seed: 1 },
    )
  })
})

function rfc4648(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const b of bytes) bits += b.toString(2).padStart(8, '0')
  let out = ''
  for (let i = 0; i + 5 <= bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)]
  return out
}

describe('chain names (iptables.md §2 worked examples; the first five are upstream test expectations)', () => {
  it.each([
    ['ns1/svc1:p80', 'tcp', 'KUBE-SVC-XPGD46QRK7WJZT7O'],
    ['ns2/svc2:p80', 'tcp', 'KUBE-SVC-GNZBNJ2PO5MGZ6GT'],
    ['ns5/svc5:p80', 'tcp', 'KUBE-SVC-NUKIZ6OKUXPJNT4C'],
    ['default/kubernetes:https', 'tcp', 'KUBE-SVC-NPX46M4PTMTKRN6Y'],
    ['kube-system/kube-dns:dns', 'udp', 'KUBE-SVC-TCOU7JCQXEZGVUNU'],
    ['kube-system/kube-dns:dns-tcp', 'tcp', 'KUBE-SVC-ERIFXISQEP7F7OF4'],
    ['ns1/svc1', 'tcp', 'KUBE-SVC-AQI2S6QIMU7PVVRP'],
  ])('%s %s → %s', (spn, proto, chain) => {
    expect(servicePortChains(servicePortHash(spn, proto)).svc).toBe(chain)
  })

  it('SVC, SVL, EXT and FW share the hash', () => {
    expect(servicePortChains(servicePortHash('ns1/svc1:p80', 'tcp'))).toEqual({
      svc: 'KUBE-SVC-XPGD46QRK7WJZT7O',
      svl: 'KUBE-SVL-XPGD46QRK7WJZT7O',
      ext: 'KUBE-EXT-XPGD46QRK7WJZT7O',
      fw: 'KUBE-FW-XPGD46QRK7WJZT7O',
    })
  })

  it.each([
    ['ns1/svc1:p80', '10.180.0.1:80', 'KUBE-SEP-SXIVWICOYRO3J4NJ'],
    ['ns5/svc5:p80', '10.180.0.3:80', 'KUBE-SEP-I77PXRDZVX7PMWMN'],
    ['ns1/svc1:p80', '[fd00:10:180::1]:80', 'KUBE-SEP-OGYCNMB4EMRUSJ6N'],
  ])('SEP of %s %s → %s', (spn, ep, chain) => {
    expect(endpointChain(spn, 'tcp', ep)).toBe(chain)
  })

  it('formats the mark as Go %#08x does', () => {
    expect(formatMark(1 << 14)).toBe('0x00004000')
    expect(formatMark(1)).toBe('0x00000001')
    expect(formatMark(2 ** 31)).toBe('0x80000000')
  })
})
