/**
 * Building blocks of the fast validators: each one walks a raw parsed value once and returns a value
 * equal to what the zod schema in schema/ would return (same keys, same key order, unknown keys
 * stripped), or throws BAIL at the first thing it does not expect. A bail is never an error: the
 * object then goes through zod, which finds and words every problem.
 *
 * Inputs are fresh trees from JSON.parse or js-yaml: plain objects (Object.prototype, no symbol keys,
 * no getters), arrays without holes, strings, numbers, booleans and null, and no node reachable twice
 * (load.ts keeps the yaml package's documents, where aliases share nodes, on zod).
 *
 * Where a raw object already equals zod's output (its own keys are exactly the schema keys present,
 * in schema order, and its children equal theirs) the raw object itself is returned instead of a
 * copy: nothing else holds the raw tree, so sharing it is unobservable, and not copying the 100k
 * endpoints of a 10k-Service dump spares their allocation and the scavenges that promote the copies.
 *
 * Optional fields are read as `const x = o.k; if (x !== undefined || 'k' in o) check(x)`: zod keeps
 * a key that is present with the value undefined (parsed text never holds one), and every check
 * bails on undefined, so such a key goes to zod. Property names are spelled out at each read rather
 * than passed to a helper: a computed key makes V8's property lookup megamorphic, which cost more
 * than the rest of the walk (0.4 s of 0.9 s on 10k slices in a profile).
 */
import { type Family, isCanonicalIPv4, parseIP, specialAddressKind } from '../ip.js'
import { dns1123Label } from '../schema/common.js'

/** Thrown to leave a fast validator; caught by `attempt`. */
export const BAIL: unique symbol = Symbol('bail')

export function bail(): never {
  throw BAIL
}

/**
 * Whether the fast validators may run at all: an enumerable property on Object.prototype would show
 * up in every `for…in` they use to compare keys, so then everything goes through zod.
 */
export function fastPathUsable(): boolean {
  for (const _ in {}) return false
  return true
}

/** Runs a fast validator: its value, or undefined when it bailed (or tripped over anything at all). */
export function attempt<T>(validate: (raw: Record<string, unknown>) => T, raw: Record<string, unknown>): T | undefined {
  try {
    return validate(raw)
  } catch {
    // Anything unexpected, bail or not, is left to zod, which reports it exactly as before.
    return undefined
  }
}

export type Obj = Record<string, unknown>

/** zod's isObject: a non-null object that is not an array. */
export function obj(v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bail()
  return v as Obj
}

export function str(v: unknown): string {
  if (typeof v !== 'string') bail()
  return v
}

export function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') bail()
  return v
}

/** `int(lo, hi)` of schema/common.ts: a finite integer in lo..hi. */
export function int(v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bail()
  return v
}

/**
 * Whether `o`'s own enumerable keys are exactly `count` of `keys`, in the order of `keys`. Called
 * after every schema key was read and the present ones counted, so it holds exactly when zod's
 * stripped copy would list the same keys in the same order.
 */
export function sameKeys(o: Obj, keys: readonly string[], count: number): boolean {
  let at = 0
  let n = 0
  for (const k in o) {
    while (at < keys.length && keys[at] !== k) at++
    if (at === keys.length) return false
    at++
    n++
  }
  return n === count
}

/** A list of at most `max` items, each checked by `item`; the raw array when no item was copied. */
export function list<T>(v: unknown, max: number, item: (x: unknown) => T): T[] {
  if (!Array.isArray(v) || v.length > max) bail()
  let out: T[] | undefined
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i]
    const y = item(x)
    if (out) out.push(y)
    else if (y !== x) {
      out = v.slice(0, i) as T[]
      out.push(y)
    }
  }
  return out ?? (v as T[])
}

/** A list of at most `max` strings (the raw array: strings are kept as they are). */
export function strings(v: unknown, max: number): string[] {
  if (!Array.isArray(v) || v.length > max) bail()
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') bail()
  return v as string[]
}

/**
 * `stringMap()`: zod copies own keys in order, which the raw object already has. zod silently drops
 * a `__proto__` key (assigning it would replace the copy's prototype): that case is left to zod.
 */
export function stringMap(v: unknown): Record<string, string> {
  const o = obj(v)
  for (const k in o) {
    if (k === '__proto__' || typeof o[k] !== 'string') bail()
  }
  return o as Record<string, string>
}

/**
 * What endpointSliceRules asks of an address in a slice of `family`: a valid IP of that family that
 * is not a special address. Canonical unicast dotted quads are answered without parsing; parseIP
 * allocates two objects per call and specialAddressKind parses again (~25 % of the walk on 100k
 * endpoints). The shortcut accepts only 1–223.x.x.x minus 127/8 and 169.254/16, well inside what
 * ip.ts accepts; everything else gets the rules' own calls.
 */
export function isEndpointAddress(addr: string, family: Family): boolean {
  if (family === 'IPv4' && isOrdinaryIPv4(addr)) return true
  const p = parseIP(addr)
  return !('error' in p) && p.family === family && specialAddressKind(addr) === undefined
}

/** A canonical dotted quad in 1–223.x.x.x, not 127/8 or 169.254/16: valid, IPv4 and not special for ip.ts. */
export function isOrdinaryIPv4(s: string): boolean {
  if (!isCanonicalIPv4(s)) return false
  // Canonical: only digits up to each dot, so the octets read without checks.
  let i = 0
  let first = 0
  for (; s.charCodeAt(i) !== 46; i++) first = first * 10 + s.charCodeAt(i) - 48
  if (first < 1 || first > 223 || first === 127) return false
  if (first !== 169) return true
  let second = 0
  for (i++; s.charCodeAt(i) !== 46; i++) second = second * 10 + s.charCodeAt(i) - 48
  return second !== 254
}

/** Whether any two keys are equal (undefined keys skipped); small lists without a Set. */
export function hasDuplicate(keys: readonly (string | undefined)[]): boolean {
  if (keys.length > 16) {
    const seen = new Set<string>()
    for (const k of keys) {
      if (k === undefined) continue
      if (seen.has(k)) return true
      seen.add(k)
    }
    return false
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]
    if (k === undefined) continue
    for (let j = 0; j < i; j++) if (keys[j] === k) return true
  }
  return false
}

/**
 * A check's verdict remembered per distinct valid string: namespaces, node names and port names
 * repeat across thousands of objects. Bounded so a hostile input cannot grow it without limit.
 */
export function remembered(check: (v: string) => string | undefined, limit = 4096): (v: string) => boolean {
  const ok = new Set<string>()
  return (v) => {
    if (ok.has(v)) return true
    if (check(v) !== undefined) return false
    if (ok.size >= limit) ok.clear()
    ok.add(v)
    return true
  }
}

export const isLabel = remembered(dns1123Label)

export interface Metadata {
  name: string
  namespace?: string
  labels?: Record<string, string> | null
  annotations?: Record<string, string> | null
}

const METADATA_KEYS = ['name', 'namespace', 'labels', 'annotations']

/** `metadata` / `subdomainMetadata` of schema/common.ts, with the name check given. */
export function metadata(v: unknown, nameOk: (name: string) => boolean): Metadata {
  const m = obj(v)
  const name = str(m.name)
  if (!nameOk(name)) bail()
  let n = 1
  const namespace = m.namespace
  if (namespace !== undefined || 'namespace' in m) {
    n++
    if (!isLabel(str(namespace))) bail()
  }
  const labels = m.labels
  if (labels !== undefined || 'labels' in m) {
    n++
    if (labels !== null) stringMap(labels)
  }
  const annotations = m.annotations
  if (annotations !== undefined || 'annotations' in m) {
    n++
    if (annotations !== null) stringMap(annotations)
  }
  if (sameKeys(m, METADATA_KEYS, n)) return m as unknown as Metadata
  // Real dumps carry uid, resourceVersion, managedFields, ...: zod keeps only these four.
  const out: Metadata = { name }
  if (namespace !== undefined) out.namespace = namespace as string
  if (labels !== undefined) out.labels = labels as Metadata['labels']
  if (annotations !== undefined) out.annotations = annotations as Metadata['annotations']
  return out
}
