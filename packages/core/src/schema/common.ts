import { z } from 'zod'
import { parseCIDR, parseIP } from '../ip.js'

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/

/** A check returns an error message (without the value) or undefined. */
export type Check<T> = (value: T) => string | undefined

export function dns1123Label(v: string): string | undefined {
  if (v.length > 63) return 'is longer than 63 characters'
  return DNS1123_LABEL.test(v) ? undefined : 'is not a DNS-1123 label (lowercase alphanumerics and "-", alphanumeric at both ends)'
}

export function dns1123Subdomain(v: string): string | undefined {
  if (v.length > 253) return 'is longer than 253 characters'
  return DNS1123_SUBDOMAIN.test(v) ? undefined : 'is not a DNS-1123 subdomain'
}

export function labelValue(v: string): string | undefined {
  if (v.length > 63) return 'is longer than 63 characters'
  return LABEL_VALUE.test(v) ? undefined : 'is not a valid label value'
}

export function qualifiedName(v: string): string | undefined {
  const parts = v.split('/')
  if (parts.length > 2) return 'is not a qualified name'
  const name = parts[parts.length - 1] ?? ''
  if (parts.length === 2 && (parts[0] === '' || dns1123Subdomain(parts[0] ?? ''))) return 'has a prefix that is not a DNS-1123 subdomain'
  if (name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return 'is not a qualified name'
  return undefined
}

export function ianaSvcName(v: string): string | undefined {
  if (!IANA_SVC_NAME.test(v) || v.includes('--') || !/[a-z]/.test(v)) {
    return 'is not an IANA_SVC_NAME (1-15 lowercase alphanumerics or "-", at least one letter)'
  }
  return undefined
}

export function ipText(v: string): string | undefined {
  const p = parseIP(v)
  return 'error' in p ? p.error : undefined
}

export function cidrText(v: string): string | undefined {
  const p = parseCIDR(v.trim())
  return 'error' in p ? p.error : undefined
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** Type error message used by every schema: "is required" or "must be X, not Y". */
export function typeError(what: string) {
  return (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}, not ${describe(iss.input)}`)
}

/** A string checked by `check`. */
export function str(check?: Check<string>) {
  const base = z.string({ error: typeError('a string') })
  return check ? base.superRefine((v, ctx) => addIf(ctx, check(v))) : base
}

/** An integer within lo..hi (zod's own checks: far cheaper than a refinement per value). */
export function int(lo: number, hi: number) {
  const range = { error: `is not in ${lo}..${hi}` }
  return z.number({ error: typeError('an integer') }).int({ error: 'is not an integer' }).min(lo, range).max(hi, range)
}

export function bool() {
  return z.boolean({ error: typeError('a boolean (true or false)') })
}

/** One of the listed strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.custom<T[number]>((v) => typeof v === 'string' && (values as readonly string[]).includes(v), {
    error: (iss: { input?: unknown }) =>
      iss.input === undefined ? 'is required' : `is not one of ${values.join(', ')}`,
  })
}

/** A list of items with a maximum length. */
export function list<T extends z.ZodType>(item: T, max = Number.MAX_SAFE_INTEGER) {
  return z.array(item, { error: typeError('a list') }).max(max, {
    error: (iss: { input?: unknown }) => `has ${Array.isArray(iss.input) ? iss.input.length : 'too many'} entries, more than ${max}`,
  })
}

/** A string → string map (labels, annotations). */
export function stringMap() {
  return z.record(z.string(), z.string({ error: typeError('a string') }), { error: typeError('a map of strings') })
}

export function addIf(ctx: { addIssue: (i: { code: 'custom'; message: string; path?: PropertyKey[] }) => void }, message: string | undefined, path?: PropertyKey[]): void {
  if (message) ctx.addIssue(path ? { code: 'custom', message, path } : { code: 'custom', message })
}

/** Unique entries by key; reports each duplicate at its index. */
export function reportDuplicates<T>(
  ctx: Parameters<typeof addIf>[0],
  items: readonly T[],
  key: (item: T) => string | undefined,
  pathOf: (index: number) => PropertyKey[],
  what: string,
): void {
  const seen = new Map<string, number>()
  items.forEach((item, i) => {
    const k = key(item)
    if (k === undefined) return
    const first = seen.get(k)
    if (first !== undefined) addIf(ctx, `duplicates ${what} of entry ${first}`, pathOf(i))
    else seen.set(k, i)
  })
}

export const metadata = z.object(
  {
    name: str(),
    namespace: str(dns1123Label).optional(),
    labels: stringMap().nullish(),
    annotations: stringMap().nullish(),
  },
  { error: typeError('an object') },
)

/** Metadata whose name must be a DNS-1123 subdomain (EndpointSlice, Node). */
export const subdomainMetadata = metadata.extend({ name: str(dns1123Subdomain) })

type RefineCtx = Parameters<typeof addIf>[0]

/**
 * Wraps cross-field rules in a schema of their own that runs on the raw object whatever the
 * field checks found, so every problem is reported at once; a rule tripping over a badly typed
 * field stops there (that field is reported by the shape schema).
 */
export function crossCheck<T>(rule: (value: T, ctx: RefineCtx) => void) {
  return z.unknown().superRefine((value, ctx) => {
    try {
      rule(value as T, ctx)
    } catch {
      // A field has the wrong type: its own issue says so.
    }
  })
}
