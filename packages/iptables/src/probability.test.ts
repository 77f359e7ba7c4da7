import { describe, expect, it } from 'vitest'
import { formatFixed10, probability } from './probability.js'

/** Go's %0.10f by exact arithmetic: the double's exact value × 10^10, rounded half to even. */
function goFixed10(x: number): string {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const biased = (hi >>> 20) & 0x7ff
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let exp = biased - 1075
  if (biased === 0) exp = -1074
  else mantissa |= 1n << 52n
  // value = mantissa · 2^exp, exp < 0 for every probability.
  const num = mantissa * 10n ** 10n
  const den = 1n << BigInt(-exp)
  let q = num / den
  const r2 = (num % den) * 2n
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n
  const digits = q.toString().padStart(11, '0')
  return `${digits.slice(0, -10)}.${digits.slice(-10)}`
}

describe('probability (Go %0.10f of 1/k)', () => {
  it('prints the reference examples', () => {
    expect(probability(2)).toBe('0.5000000000')
    expect(probability(3)).toBe('0.3333333333')
    expect(probability(6)).toBe('0.1666666667')
    expect(probability(7)).toBe('0.1428571429')
    expect(probability(100001)).toBe('0.0000099999')
  })

  it('rounds the exact tie at k = 2048 to even, where toFixed rounds up', () => {
    expect((1 / 2048).toFixed(10)).toBe('0.0004882813')
    expect(probability(2048)).toBe('0.0004882812')
  })

  it('equals exact half-to-even rounding for every k up to 200000', () => {
    const differsFromToFixed: number[] = []
    for (let k = 2; k <= 200_000; k++) {
      const want = goFixed10(1 / k)
      if (formatFixed10(1 / k) !== want) throw new Error(`k=${k}: ${formatFixed10(1 / k)} != ${want}`)
      if ((1 / k).toFixed(10) !== want) differsFromToFixed.push(k)
    }
    expect(differsFromToFixed).toEqual([2048])
  })

  it('handles other exact ties both ways', () => {
    expect(formatFixed10(0.00000000005)).toBe(goFixed10(0.00000000005))
    expect(formatFixed10(0.25)).toBe('0.2500000000')
    expect(formatFixed10(0.5 ** 11)).toBe(goFixed10(0.5 ** 11))
    expect(formatFixed10(3 * 0.5 ** 11)).toBe(goFixed10(3 * 0.5 ** 11))
  })
})
