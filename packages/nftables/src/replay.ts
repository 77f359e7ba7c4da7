/**
 * The transaction state kube-proxy keeps during one sync (ensureChain, ensureElem), and the sink
 * the compiler writes a service port's requests to: recorded as steps (a fragment, replayed into a
 * transaction later) or replayed on the spot (the one-shot writer, which never keeps the steps).
 */
import type { ElementPart, Op, Verdict } from './ir.js'

/**
 * One request of a service port, in order. Chains and elements are requests (`ensureChain`,
 * `ensureElem`) because whether they become operations depends on what earlier service ports
 * asked for; replaying the steps gives the same operations as compiling the port in place.
 */
export type Step =
  | { t: 'chain'; name: string }
  | { t: 'elem'; name: string; key: readonly ElementPart[]; value?: Verdict; comment?: string }
  | { t: 'op'; op: Op }

/** Where the compiler sends what one service port asks for. */
export interface Sink {
  chain(name: string): void
  elem(name: string, key: readonly ElementPart[], value: Verdict | undefined, comment: string | undefined): void
  op(op: Op): void
}

/** A sink that keeps the requests as steps. */
export class StepRecorder implements Sink {
  readonly steps: Step[] = []

  chain(name: string): void {
    this.steps.push({ t: 'chain', name })
  }

  elem(name: string, key: readonly ElementPart[], value: Verdict | undefined, comment: string | undefined): void {
    const step: Step = { t: 'elem', name, key }
    if (value !== undefined) step.value = value
    if (comment !== undefined) step.comment = comment
    this.steps.push(step)
  }

  op(op: Op): void {
    this.steps.push({ t: 'op', op })
  }
}

/** ensureChain / ensureElem over a growing transaction; every resulting operation goes to `out`. */
export class Replay implements Sink {
  readonly chains = new Set<string>()
  /** nftElementStorage: what each tracked set/map holds so far. */
  readonly stored = new Map<string, ElementStore>()

  constructor(private readonly out: (op: Op) => void) {}

  /** Passes operations through, tracking the chains, sets and elements they create. */
  op(op: Op): void {
    if (op.kind === 'addChain') this.chains.add(op.name)
    else if (op.kind === 'addSet') this.stored.set(op.name, new ElementStore())
    else if (op.kind === 'deleteSet') this.stored.delete(op.name)
    else if (op.kind === 'addElement') this.stored.get(op.name)?.swap(op.key, op.value ?? null)
    this.out(op)
  }

  steps(steps: readonly Step[]): void {
    for (const s of steps) {
      if (s.t === 'op') this.op(s.op)
      else if (s.t === 'chain') this.chain(s.name)
      else this.elem(s.name, s.key, s.value, s.comment)
    }
  }

  /** ensureChain: add + flush once per transaction. */
  chain(name: string): void {
    if (this.chains.has(name)) return
    this.chains.add(name)
    this.out({ kind: 'addChain', name })
    this.out({ kind: 'flushChain', name })
  }

  /**
   * nftElementStorage.ensureElem: add when absent, nothing when present with the same value,
   * delete + add when the value differs (an add with another verdict fails with EEXIST). Two
   * service ports claiming one key therefore leave the later one's value, as upstream.
   */
  elem(name: string, key: readonly ElementPart[], value: Verdict | undefined, comment: string | undefined): void {
    const store = this.stored.get(name) as ElementStore
    const v = value ?? null
    const old = store.swap(key, v)
    if (old !== undefined) {
      if (sameVerdict(old, v)) return
      this.out({ kind: 'deleteElement', name, container: value === undefined ? 'set' : 'map', key })
    }
    const op: Op = { kind: 'addElement', name, key }
    if (value !== undefined) op.value = value
    if (comment !== undefined) op.comment = comment
    this.out(op)
  }
}

/** The identity of an element key within its set. */
export function elementKey(key: readonly ElementPart[]): string {
  return key.length === 1 ? String(key[0]) : key.join(' . ')
}

/** Whether two element values are the same verdict (null: no value). */
export function sameVerdict(a: Verdict | null, b: Verdict | null): boolean {
  if (a === b) return true
  if (a === null || b === null || a.kind !== b.kind) return false
  return (a.kind !== 'jump' && a.kind !== 'goto') || a.target === (b as { target: string }).target
}

interface Stored {
  key: readonly ElementPart[]
  value: Verdict | null
}

/**
 * The elements of one set by key, without building a key string per request: keys are hashed
 * part by part into a small integer and compared part by part (a number never equals a string:
 * compile gives every set one type per key position). A 10k-service transaction makes ~5·10^4
 * requests; joining each key into a string to look it up took most of the replay.
 */
export class ElementStore {
  private readonly byHash = new Map<number, Stored | Stored[]>()

  /** The value stored for `key` (undefined: absent), which becomes `value`. */
  swap(key: readonly ElementPart[], value: Verdict | null): Verdict | null | undefined {
    const h = hashKey(key)
    const found = this.byHash.get(h)
    if (found === undefined) {
      this.byHash.set(h, { key, value })
      return undefined
    }
    const list = Array.isArray(found) ? found : [found]
    for (const s of list) {
      if (sameKey(s.key, key)) {
        const old = s.value
        // A sticking value keeps its first verdict object, as ensureElem keeps the first element.
        if (!sameVerdict(old, value)) s.value = value
        return old
      }
    }
    list.push({ key, value })
    if (list.length === 2) this.byHash.set(h, list)
    return undefined
  }
}

function sameKey(a: readonly ElementPart[], b: readonly ElementPart[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** FNV-1a over the parts (numbers and strings kept apart), cut to a small integer. */
export function hashKey(key: readonly ElementPart[]): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    const p = key[i] as ElementPart
    if (typeof p === 'number') {
      h = Math.imul(h ^ (p & 0xffff), 0x01000193)
      h = Math.imul(h ^ (p >>> 16) ^ 0x10000, 0x01000193)
    } else {
      for (let j = 0; j < p.length; j++) h = Math.imul(h ^ p.charCodeAt(j), 0x01000193)
    }
    h = Math.imul(h ^ 0x2e, 0x01000193)
  }
  return h & 0x3fffffff
}
