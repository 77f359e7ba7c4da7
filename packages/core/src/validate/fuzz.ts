/**
 * Test support for the fast validators' properties (not part of the library): one-field mutations
 * of valid objects, the values they plant, and an equality that also compares key order.
 */
import fc from 'fast-check'
import { KproxcError } from '../errors.js'
import { type InputSource, loadObjectsWith } from '../load.js'
import { attempt } from './fast-common.js'

export type Path = (string | number)[]

/** A copy that keeps own `__proto__` keys as plain keys (structuredClone and spreads do not). */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T
  if (typeof v !== 'object' || v === null) return v
  const out = {}
  for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: clone((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true })
  return out as T
}

/** Equal values, the same keys in the same order, the same prototypes; -0 and NaN told apart as Object.is does. */
export function sameTree(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameTree(x, b[i]))
  if (typeof a !== 'object' || a === null) return Object.is(a, b)
  if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const ka = Reflect.ownKeys(a)
  const kb = Reflect.ownKeys(b)
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameTree((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k]))
}

/** Every path in `v` below the root: object keys and list indexes. */
export function pathsOf(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (at.length > 0) out.push(at)
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out))
  else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) pathsOf((v as Record<string, unknown>)[k], [...at, k], out)
  return out
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
}

const ADDRESSES = [
  '10.0.0.1', '010.0.0.1', '10.0.0.256', '10.0.0', '1.2.3.4.5', '0.0.0.0', '0.1.2.3', '127.0.0.1', '169.254.1.1', '169.253.1.1',
  '224.0.0.1', '224.0.1.1', '239.1.1.1', '255.255.255.255', '223.255.255.255', '1.1.1.1', ' 10.0.0.1', '10.0.0.1/32',
  'fd00::1', 'FD00::1', 'fd00:0:0::1', '::1', '::', 'fe80::1', 'febf::1', 'ff02::1', 'ff05::1', '::ffff:10.0.0.1', '2001:db8::1%eth0',
  '2001:db8::/64', '10.0.0.0/8', '10.0.0.1/8', '10.0.0.0/33', 'fd00::/129', 'example.com',
]
const WORDS = [
  '', ' ', 'a', 'A', 'web', 'http', 'https', 'dns-tcp', 'a-', '-a', 'a--b', 'a.b', 'a_b', '1', '80', 'None', 'none', 'x'.repeat(15),
  'x'.repeat(16), 'a'.repeat(63), 'a'.repeat(64), `${'a'.repeat(63)}.${'b'.repeat(63)}`, 'kubernetes.io/h2c', 'a/b', 'a/b/c', '/a', 'a/',
  'TCP', 'UDP', 'SCTP', 'tcp', 'HTTP', 'IPv4', 'IPv6', 'FQDN', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', 'Cluster',
  'Local', 'ClientIP', 'VIP', 'Proxy', 'SingleStack', 'PreferDualStack', 'RequireDualStack', 'PreferClose', 'PreferSameZone',
  'PreferSameNode', '__proto__', 'constructor', 'kubernetes.io/service-name', 'é',
]
const NUMBERS = [0, -0, 1, -1, 1.5, 80, 65535, 65536, 86400, 86401, 1e20, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY]

/** Values a mutation plants: wrong types, null and undefined, boundary numbers, odd strings and addresses, small trees. */
export const plantedValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, undefined, true, false, {}, [], [null], [''], [{}], { name: 'a' }, ...NUMBERS) },
  { weight: 4, arbitrary: fc.constantFrom(...ADDRESSES, ...WORDS) },
  { weight: 1, arbitrary: fc.constantFrom(...ADDRESSES).chain((a) => fc.constantFrom([a], [a, a], ['10.0.0.1', a], ['fd00::1', a])) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.jsonValue({ maxDepth: 2 })) },
)

/** One edit of one node; `at` picks the node among all paths (modulo their count). */
export type Mutation =
  | { at: number; kind: 'set'; value: unknown }
  | { at: number; kind: 'delete' }
  | { at: number; kind: 'extraKey'; key: string; value: unknown }
  | { at: number; kind: 'reorder' }
  | { at: number; kind: 'duplicate' }
  | { at: number; kind: 'grow'; to: number }

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('set' as const), value: plantedValue }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('delete' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('extraKey' as const), key: fc.constantFrom('__proto__', 'extra', '0', 'name', 'ports', 'ready', 'ip'), value: plantedValue }),
  },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('reorder' as const) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('duplicate' as const) }) },
  // Just past the lists' limits: 2 (clusterIPs, ipFamilies), 8 (hints), 100 (addresses), 1000 (endpoints).
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), kind: fc.constant('grow' as const), to: fc.constantFrom(3, 9, 101, 1001) }) },
)

/**
 * One of `paths`, drawn first among the fields (paths with list indexes as `*`), then among that
 * field's occurrences: otherwise the hundred addresses of a long list would crowd out the one port.
 */
function pick(paths: Path[], at: number): Path | undefined {
  const fields = new Map<string, Path[]>()
  for (const p of paths) {
    const field = p.map((k) => (typeof k === 'number' ? '*' : k)).join('\0')
    fields.set(field, [...(fields.get(field) ?? []), p])
  }
  const groups = [...fields.values()]
  const group = groups[at % Math.max(1, groups.length)]
  return group?.[Math.floor(at / groups.length) % group.length]
}

/** `root` with `m` applied to a copy (the root itself is never replaced: it stays an object of its kind). */
export function mutate(root: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const out = clone(root)
  const at = (p: Path): unknown => p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], out)
  const isObject = (p: Path) => typeof at(p) === 'object' && at(p) !== null
  // Each edit is drawn among the nodes it can change, so growing a list always finds one.
  const candidates =
    m.kind === 'extraKey' || m.kind === 'reorder' ? [[], ...pathsOf(out)].filter(isObject)
    : m.kind === 'grow' ? pathsOf(out).filter((p) => Array.isArray(at(p)) && (at(p) as unknown[]).length > 0)
    : m.kind === 'duplicate' ? pathsOf(out).filter((p) => typeof p[p.length - 1] === 'number')
    : pathsOf(out)
  const path = pick(candidates, m.at)
  if (!path) return out
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], out) as Record<string | number, unknown>
  const key = path[path.length - 1] as string | number
  const node = path.length === 0 ? out : parent[key]
  switch (m.kind) {
    case 'set':
      if (Array.isArray(parent)) parent[key as number] = m.value
      else setOwn(parent, String(key), m.value)
      break
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1)
      else delete parent[key]
      break
    case 'extraKey':
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) setOwn(node as Record<string, unknown>, m.key, m.value)
      break
    case 'reorder':
      if (Array.isArray(node)) node.reverse()
      else if (typeof node === 'object' && node !== null) {
        const o = node as Record<string, unknown>
        const entries = Object.keys(o).map((k) => [k, o[k]] as const)
        for (const [k] of entries) delete o[k]
        for (const [k, v] of entries.reverse()) setOwn(o, k, v)
      }
      break
    case 'duplicate':
      ;(parent as unknown as unknown[]).push(clone(node))
      break
    case 'grow':
      while ((node as unknown[]).length < m.to) (node as unknown[]).push(clone((node as unknown[])[0]))
      break
  }
  return out
}

interface Schema {
  safeParse(v: unknown): { success: boolean; data?: unknown; error?: { issues: unknown[] } }
}

/**
 * The soundness property of one fast validator on one input: when it returns a value, zod's shape
 * schema and rules both pass and zod's value equals it (key order included); the input is left as
 * it was. Returns whether the fast path answered, for the callers' coverage counts.
 */
export function agreesWithZod(fast: (raw: Record<string, unknown>) => unknown, shape: Schema, rules: Schema, input: Record<string, unknown>): boolean {
  const before = clone(input)
  const value = attempt(fast, input)
  if (!sameTree(input, before)) throw new Error(`the fast path changed its input: ${show(before)}`)
  if (value === undefined) return false
  const parsed = shape.safeParse(input)
  const crossed = rules.safeParse(input)
  if (!parsed.success || !crossed.success) {
    throw new Error(`fast path accepted what zod rejects: ${show(input)}\nzod: ${show([...(parsed.error?.issues ?? []), ...(crossed.error?.issues ?? [])])}`)
  }
  if (!sameTree(value, parsed.data)) throw new Error(`fast path value differs from zod's for ${show(input)}\nfast: ${show(value)}\nzod:  ${show(parsed.data)}`)
  return true
}

function show(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (x === undefined ? '<undefined>' : typeof x === 'number' && !Number.isFinite(x) ? String(x) : Object.is(x, -0) ? '-0' : x))
  return text.length > 3000 ? `${text.slice(0, 3000)}...` : text
}

/** Planted where a key should be present with the value undefined (parsed text never has one). */
export const PRESENT_UNDEFINED = Symbol('present undefined')

/** `o` without its undefined entries; PRESENT_UNDEFINED entries become present undefined ones. */
export function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(o)) {
    const v = o[k]
    if (v === PRESENT_UNDEFINED) out[k] = undefined
    else if (v !== undefined) setOwn(out, k, v)
  }
  return out
}

/** An object with an own `__proto__` key besides `rest`, as JSON.parse builds it. */
export function withProtoKey(value: unknown, rest: Record<string, unknown>): Record<string, unknown> {
  const o = JSON.parse('{"__proto__": null}') as Record<string, unknown>
  o.__proto__ = value
  return Object.assign(o, rest)
}

/** How a generator draws one field: from its valid values, or now and then from its invalid ones. */
export type Field = <T>(valid: readonly T[], invalid: readonly unknown[]) => fc.Arbitrary<T>

export const fields = {
  valid: (<T>(valid: readonly T[]) => fc.constantFrom(...valid)) as Field,
  // About one field in forty is off: most objects keep one or two bad fields, many none.
  nearly: (<T>(valid: readonly T[], invalid: readonly unknown[]) =>
    invalid.length === 0
      ? fc.constantFrom(...valid)
      : fc.oneof({ weight: 40, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) as fc.Arbitrary<T> })) as Field,

  /** metadata with kubectl's extra keys; `names`/`labels` valid for the kind, `badNames`/`badLabels` not. */
  metadata(field: Field, names: string[], badNames: unknown[], labels: Record<string, string>[], badLabels: unknown[]) {
    return fc.record({
      name: field(names, [...badNames, undefined, null, PRESENT_UNDEFINED]),
      namespace: field([undefined, 'default', 'ns-1'], ['', 'kube_system', null, PRESENT_UNDEFINED]),
      uid: field([undefined, '0c3b2a'], []),
      labels: field([undefined, null, {}, ...labels], [...badLabels, { a: 1 }, [], withProtoKey('x', { a: 'b' }), { a: PRESENT_UNDEFINED }]),
      annotations: field([undefined, null, { 'kubectl.kubernetes.io/last-applied-configuration': '{}', '0': '' }], [{ a: null }, 'x', withProtoKey({}, {})]),
      managedFields: field([undefined, [{ manager: 'kube-controller-manager', fieldsV1: { 'f:x': {} } }]], []),
    }).map(defined)
  },
}

/** `arb` with the keys of some objects (chosen by a drawn mask) in reverse order, as other writers order them. */
export function shuffled<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.tuple(arb, fc.nat()).map(([v, mask]) => {
    let i = 0
    const walk = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(walk)
      if (typeof x !== 'object' || x === null) return x
      const keys = Object.keys(x)
      if ((mask >> (i++ % 31)) & 1) keys.reverse()
      const out = {}
      for (const k of keys) setOwn(out, k, walk((x as Record<string, unknown>)[k]))
      return out
    }
    return walk(v) as T
  })
}

/** What loading gives: the objects, or the error's code, message and issues. */
export function loadOutcome(sources: InputSource[], fast: boolean): unknown {
  try {
    return { loaded: loadObjectsWith(sources, fast) }
  } catch (e) {
    if (!(e instanceof KproxcError)) throw e
    return { code: e.code, message: e.message, issues: e.issues }
  }
}
