import { CORE_SCHEMA, loadAll } from 'js-yaml'
import { parseAllDocuments } from 'yaml'
import type { z } from 'zod'
import { type InputIssue, KproxcError, type ObjectRef, sortIssues } from './errors.js'
import { type ConfigObject, configRules, configSchema } from './schema/config.js'
import { type EndpointSliceObject, endpointSliceRules, endpointSliceSchema } from './schema/endpoint-slice.js'
import { type NodeObject, nodeRules, nodeSchema } from './schema/node.js'
import { type ServiceObject, serviceRules, serviceSchema } from './schema/service.js'
import { SERVICE_CIDR_API_VERSIONS, type ServiceCIDRObject, serviceCIDRRules, serviceCIDRSchema } from './schema/service-cidr.js'
import { attempt, fastPathUsable } from './validate/fast-common.js'
import { fastEndpointSlice } from './validate/fast-endpoint-slice.js'
import { fastService } from './validate/fast-service.js'

/** One input text and the name it is reported under (file path or "<stdin>"). */
export interface InputSource {
  name: string
  text: string
}

/** The objects kproxc understands, validated; every other kind counted in `skippedKinds`. */
export interface LoadedObjects {
  services: ServiceObject[]
  endpointSlices: EndpointSliceObject[]
  nodes: NodeObject[]
  /** networking.k8s.io ServiceCIDRs; loadObjects always fills it, hand-built inputs may leave it out (none). */
  serviceCIDRs?: ServiceCIDRObject[]
  config: ConfigObject | undefined
  /** Kinds kproxc does not read (Pods, ConfigMaps, ...), with how many were seen. */
  skippedKinds: Record<string, number>
}

/**
 * `fast` answers a valid object in one walk and bails on anything else, which then goes through zod
 * for its exact issues (validate/fast-common.ts). On 10k Services + 10k slices zod took ~1.7x the
 * instructions of JSON.parse on top of it (its parse, the rules, the garbage of its copies, compiling
 * its parsers on first use); the fast path takes ~0.45x. Node and KubeProxyConfiguration come once:
 * zod's first use on both costs ~5 ms, so they stay on zod.
 */
const KINDS = {
  Service: { apiVersions: ['v1'], schema: serviceSchema, rules: serviceRules, fast: fastService },
  EndpointSlice: { apiVersions: ['discovery.k8s.io/v1'], schema: endpointSliceSchema, rules: endpointSliceRules, fast: fastEndpointSlice },
  Node: { apiVersions: ['v1'], schema: nodeSchema, rules: nodeRules, fast: undefined },
  ServiceCIDR: { apiVersions: SERVICE_CIDR_API_VERSIONS, schema: serviceCIDRSchema, rules: serviceCIDRRules, fast: undefined },
  KubeProxyConfiguration: { apiVersions: ['kubeproxy.config.k8s.io/v1alpha1'], schema: configSchema, rules: configRules, fast: undefined },
} as const

/** Kinds without a namespace: one object per name. */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set(['Node', 'ServiceCIDR'])

type KnownKind = keyof typeof KINDS

/** Parses YAML or JSON texts (multi-document, `kind: List`) and validates every known object. */
export function loadObjects(sources: readonly InputSource[]): LoadedObjects {
  return loadObjectsWith(sources, true)
}

/** loadObjects with the fast validators on or off (tests compare the two; not exported by index.ts). */
export function loadObjectsWith(sources: readonly InputSource[], fast: boolean): LoadedObjects {
  const issues: InputIssue[] = []
  const out: LoadedObjects = { services: [], endpointSlices: [], nodes: [], serviceCIDRs: [], config: undefined, skippedKinds: {} }
  // Kind → namespace → name → object. Nested maps: one `kind/ns/name` string per object, built and
  // hashed for the lookup, cost ~45 ms of CPU on 20k objects; the parsed names hash once.
  const seen = new Map<string, Map<string, Map<string, unknown>>>()
  const configs: ConfigObject[] = []
  // A Map: kind names such as "constructor" must not meet Object.prototype.
  const skipped = new Map<string, number>()
  const quick = fast && fastPathUsable()
  for (const source of sources) {
    for (const { doc, where, shared } of parseDocuments(source, issues)) {
      visit(doc, where, -1, quick && !shared)
    }
  }

  /** `item` is the index in the enclosing List (-1 for a document): its place is spelled only for a report. */
  function visit(doc: unknown, list: string, item: number, quick: boolean): void {
    if (doc === null || doc === undefined) return
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      issues.push({ object: { kind: 'document', source: placeOf(list, item) }, path: '', value: doc, message: 'is not a Kubernetes object' })
      return
    }
    const obj = doc as Record<string, unknown>
    const kind = obj.kind
    if (typeof kind !== 'string' || kind === '') {
      issues.push({ object: { kind: 'document', source: placeOf(list, item) }, path: 'kind', value: kind, message: 'is required: every object needs a kind' })
      return
    }
    if (Array.isArray(obj.items) && (kind === 'List' || kind.endsWith('List'))) {
      const where = placeOf(list, item)
      for (let i = 0; i < obj.items.length; i++) visit(obj.items[i], where, i, quick)
      return
    }
    // Own keys only: a kind such as "constructor" is not one kproxc reads.
    if (!Object.prototype.hasOwnProperty.call(KINDS, kind)) {
      skipped.set(kind, (skipped.get(kind) ?? 0) + 1)
      return
    }
    const known = kind as KnownKind
    const spec = KINDS[known]
    if (!(spec.apiVersions as readonly unknown[]).includes(obj.apiVersion)) {
      issues.push({ object: refOf(known, obj, placeOf(list, item)), path: 'apiVersion', value: obj.apiVersion, message: `is not supported for ${kind} (expected ${spec.apiVersions.join(' or ')})` })
      return
    }
    const walk: ((raw: Record<string, unknown>) => unknown) | undefined = quick ? spec.fast : undefined
    const data = (walk ? attempt(walk, obj) : undefined) ?? validate(spec, obj, issues, known, placeOf(list, item))
    if (data === undefined) return
    if (known === 'KubeProxyConfiguration') {
      configs.push(data as ConfigObject)
      if (configs.length > 1) issues.push({ object: refOf(known, obj, placeOf(list, item)), path: '', message: 'is a second KubeProxyConfiguration; give exactly one' })
      return
    }
    // Valid, so metadata is an object with a non-empty name: the identity refOf would give.
    const meta = obj.metadata as Record<string, unknown>
    const namespace = CLUSTER_SCOPED.has(known) ? '' : typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default'
    let byKind = seen.get(known)
    if (!byKind) seen.set(known, (byKind = new Map()))
    let byName = byKind.get(namespace)
    if (!byName) byKind.set(namespace, (byName = new Map()))
    const prior = byName.get(meta.name as string)
    if (prior !== undefined) {
      // Stringify only on a name collision: doing it for every object costs more than parsing.
      if (JSON.stringify(prior) !== JSON.stringify(data)) {
        issues.push({ object: refOf(known, obj, placeOf(list, item)), path: '', message: 'appears twice in the input with different contents' })
      }
      return
    }
    byName.set(meta.name as string, data)
    if (known === 'Service') out.services.push(withNamespace(data as ServiceObject))
    else if (known === 'EndpointSlice') out.endpointSlices.push(withNamespace(data as EndpointSliceObject))
    else if (known === 'ServiceCIDR') out.serviceCIDRs?.push(data as ServiceCIDRObject)
    else out.nodes.push(data as NodeObject)
  }

  if (issues.length > 0) throw new KproxcError('INVALID_INPUT', 'invalid input', sortIssues(issues))
  out.config = configs[0]
  out.skippedKinds = Object.fromEntries([...skipped].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return out
}

function placeOf(list: string, item: number): string {
  return item < 0 ? list : `${list} items[${item}]`
}

/** zod's verdict: the parsed object, or undefined with every issue (deduplicated) added to `issues`. */
function validate(spec: (typeof KINDS)[KnownKind], obj: Record<string, unknown>, issues: InputIssue[], known: KnownKind, where: string): unknown {
  const parsed = (spec.schema as z.ZodType).safeParse(obj)
  const crossed = spec.rules.safeParse(obj)
  const found = [...(parsed.error?.issues ?? []), ...(crossed.error?.issues ?? [])]
  if (parsed.success && found.length === 0) return parsed.data
  const reported = new Set<string>()
  const ref = refOf(known, obj, where)
  for (const iss of found) {
    const path = formatPath(iss.path)
    if (reported.has(`${path}\0${iss.message}`)) continue
    reported.add(`${path}\0${iss.message}`)
    issues.push({ object: ref, path, value: valueAt(obj, iss.path), message: iss.message })
  }
  return undefined
}

function withNamespace<T extends { metadata: { namespace?: string | undefined } }>(obj: T): T {
  return obj.metadata.namespace ? obj : { ...obj, metadata: { ...obj.metadata, namespace: 'default' } }
}

function refOf(kind: KnownKind, obj: Record<string, unknown>, where: string): ObjectRef {
  const meta = (typeof obj.metadata === 'object' && obj.metadata !== null ? obj.metadata : {}) as Record<string, unknown>
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined
  const namespaced = kind === 'Service' || kind === 'EndpointSlice'
  const namespace = namespaced ? (typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default') : undefined
  const ref: ObjectRef = { kind }
  if (namespace !== undefined) ref.namespace = namespace
  if (name !== undefined) ref.name = name
  ref.source = where
  return ref
}

/** A parsed document; `shared` when aliases may make one node reachable twice (the fast path's premise fails). */
interface ParsedDocument {
  doc: unknown
  where: string
  shared?: boolean
}

function parseDocuments(source: InputSource, issues: InputIssue[]): ParsedDocument[] {
  const trimmed = source.text.trimStart()
  // JSON first: kubectl -o json dumps are large and JSON.parse is far faster than a YAML parser.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const value: unknown = JSON.parse(source.text)
      const docs = Array.isArray(value) ? value : [value]
      return docs.map((doc, i) => ({ doc, where: docs.length > 1 ? `${source.name} [${i}]` : source.name }))
    } catch {
      // Not strict JSON: the YAML parser below reports where it breaks.
    }
  }
  const fast = fastYAML(source)
  if (fast) return fast
  const docs = parseAllDocuments(source.text, { uniqueKeys: true })
  const list = Array.isArray(docs) ? docs : [docs]
  const out: ParsedDocument[] = []
  list.forEach((d, i) => {
    const where = list.length > 1 ? `${source.name} document ${i + 1}` : source.name
    if (d.errors.length > 0) {
      for (const e of d.errors) {
        const pos = e.linePos?.[0]
        const at = pos ? `line ${pos.line}, column ${pos.col}` : ''
        issues.push({ object: { kind: 'document', source: where }, path: at, message: `is not valid YAML: ${e.message.split('\n')[0]}` })
      }
      return
    }
    out.push({ doc: d.toJS({ maxAliasCount: 100 }), where, shared: true })
  })
  return out
}

/** Anchors or aliases (`&a`, `*a`): only the yaml package bounds how far aliases expand. */
const ANCHOR_OR_ALIAS = /(^|[\s:[{,-])[&*][^\s]/m

/**
 * js-yaml parses large kubectl dumps about 9x faster than the yaml package (18 MB: 2.4 s vs 21 s).
 * It is used only for plain YAML that parses cleanly; anything with anchors or aliases, and every
 * error (for the yaml package's line and column), goes through the yaml package.
 */
function fastYAML(source: InputSource): ParsedDocument[] | undefined {
  if (ANCHOR_OR_ALIAS.test(source.text)) return undefined
  try {
    const docs = loadAll(source.text, undefined, { schema: CORE_SCHEMA, json: false })
    return docs.map((doc, i) => ({ doc, where: docs.length > 1 ? `${source.name} document ${i + 1}` : source.name }))
  } catch {
    return undefined
  }
}

/** `['spec','ports',1,'port']` → `spec.ports[1].port`; label keys with dots stay readable. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else {
      const key = String(p)
      out += /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`
    }
  }
  return out
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[p]
  }
  return cur
}
