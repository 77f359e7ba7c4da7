import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ElementPart, Op, Verdict } from './ir.js'
import { ElementStore, Replay, elementKey, hashKey } from './replay.js'

/** ensureElem as kube-proxy's nftElementStorage does it, with string keys (the reference). */
function referenceElem(stored: Map<string, Map<string, string>>, out: Op[], name: string, key: readonly ElementPart[], value: Verdict | undefined, comment: string | undefined): void {
  const store = stored.get(name) as Map<string, string>
  const k = elementKey(key)
  const v = value === undefined ? '' : value.kind === 'goto' || value.kind === 'jump' ? `${value.kind} ${value.target}` : value.kind
  const old = store.get(k)
  if (old === v) return
  if (old !== undefined) out.push({ kind: 'deleteElement', name, container: value === undefined ? 'set' : 'map', key })
  store.set(k, v)
  const op: Op = { kind: 'addElement', name, key }
  if (value !== undefined) op.value = value
  if (comment !== undefined) op.comment = comment
  out.push(op)
}

// Keys as compile writes them: every set has one arity and one type per position.
const ip = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.10', '')
const keys: Record<string, fc.Arbitrary<ElementPart[]>> = {
  s1: fc.tuple(ip, fc.constantFrom('tcp', 'udp'), fc.constantFrom(80, 8080, 0, 65535)),
  s2: fc.tuple(ip),
  s3: fc.tuple(ip, ip, fc.constantFrom('tcp', 'sctp'), fc.constantFrom(80, 81)),
}
const verdict = fc.option(fc.constantFrom<Verdict>({ kind: 'goto', target: 'a' }, { kind: 'goto', target: 'b' }, { kind: 'jump', target: 'a' }, { kind: 'drop' }, { kind: 'reject' }), { nil: undefined })
const request = fc.constantFrom('s1', 's2', 's3').chain((name) => fc.record({ name: fc.constant(name), key: keys[name] as fc.Arbitrary<ElementPart[]>, value: verdict, comment: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }) }))

describe('Replay.elem', () => {
  it('leaves the elements ensureElem with string keys leaves, one request at a time', () => {
    fc.assert(fc.property(fc.array(request, { maxLength: 60 }), (requests) => {
      const got: Op[] = []
      const r = new Replay((op) => got.push(op))
      const want: Op[] = []
      const stored = new Map<string, Map<string, string>>()
      for (const name of ['s1', 's2', 's3']) {
        r.op({ kind: 'addSet', name, container: 'map', keyType: ['ipv4_addr'] })
        stored.set(name, new Map())
        want.push({ kind: 'addSet', name, container: 'map', keyType: ['ipv4_addr'] })
      }
      for (const q of requests) {
        r.elem(q.name, q.key, q.value, q.comment)
        referenceElem(stored, want, q.name, q.key, q.value, q.comment)
      }
      expect(got).toEqual(want)
    }), { numRuns: 500 })
  })

  it('tells apart keys whose hashes collide', () => {
    const seen = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let i = 0; !pair; i++) {
      const k = `k${i}`
      const h = hashKey([k])
      const other = seen.get(h)
      if (other !== undefined) pair = [other, k]
      seen.set(h, k)
    }
    const [a, b] = pair
    const store = new ElementStore()
    expect(store.swap([a], null)).toBeUndefined()
    expect(store.swap([b], { kind: 'drop' })).toBeUndefined()
    expect(store.swap([a], { kind: 'reject' })).toBeNull()
    expect(store.swap([b], null)).toEqual({ kind: 'drop' })
    expect(store.swap(['third'], null)).toBeUndefined()
  })
})
