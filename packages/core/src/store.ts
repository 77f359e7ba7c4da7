import { castDraft, enableMapSet, freeze, produce } from 'immer'
import type { LoadedObjects } from './load.js'
import type { Diagnostic, Family, HealthCheck, ProxyModel, ServicePortModel } from './model.js'
import { type Context, type ModelOptions, buildContext } from './normalize/context.js'
import { passesInformerFilter, sliceOwner } from './normalize/endpoints.js'
import { computeServicePorts, serviceSkipReason, serviceWarnings } from './normalize/service.js'
import type { ConfigObject } from './schema/config.js'
import type { EndpointSliceObject } from './schema/endpoint-slice.js'
import type { NodeObject } from './schema/node.js'
import type { ServiceObject } from './schema/service.js'
import { byteCompare } from './select.js'
import { deepEqual } from './equal.js'

/** One change fed to the store (what a watch event becomes). */
export type StoreChange =
  | { op: 'upsert'; kind: 'Service'; object: ServiceObject }
  | { op: 'upsert'; kind: 'EndpointSlice'; object: EndpointSliceObject }
  | { op: 'upsert'; kind: 'Node'; object: NodeObject }
  | { op: 'delete'; kind: 'Service' | 'EndpointSlice'; namespace: string; name: string }
  | { op: 'delete'; kind: 'Node'; name: string }

/** A service port whose model differs between two store states. */
export interface ChangedPort {
  family: Family
  key: string
  change: 'added' | 'removed' | 'modified'
}

/** The store's immutable input state (structurally shared by immer). */
export interface StoreState {
  /** namespace → name → Service (sharded so a change copies only its namespace's map). */
  services: Sharded<ServiceObject>
  /** namespace → name → EndpointSlice. */
  slices: Sharded<EndpointSliceObject>
  /** By name. */
  nodes: ReadonlyMap<string, NodeObject>
  config: ConfigObject | undefined
  skippedKinds: Readonly<Record<string, number>>
}

interface ServiceEntry {
  svc: ServiceObject
  slices: readonly EndpointSliceObject[]
  ctx: Context
  ports: Partial<Record<Family, ServicePortModel[]>>
  health: HealthCheck | undefined
  diagnostics: Diagnostic[]
}

const nsName = (ns: string | undefined, name: string) => `${ns ?? 'default'}/${name}`

// Maps, not records: spreading a large record (a dictionary-mode object in V8) costs milliseconds
// per change at 10k Services. Sharded by namespace, so immer copies only the changed namespace.
enableMapSet()

/** namespace → name → object. */
export type Sharded<T> = ReadonlyMap<string, ReadonlyMap<string, T>>

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/')
  return [key.slice(0, i), key.slice(i + 1)]
}

function getIn<T>(m: Sharded<T>, key: string): T | undefined {
  const [ns, name] = splitKey(key)
  return m.get(ns)?.get(name)
}

function* entriesOf<T>(m: Sharded<T>): Generator<[string, T]> {
  for (const [ns, inner] of m) for (const [name, v] of inner) yield [`${ns}/${name}`, v]
}

function sizeOf<T>(m: Sharded<T>): number {
  let n = 0
  for (const inner of m.values()) n += inner.size
  return n
}

function setIn<T>(m: Map<string, Map<string, T>>, key: string, value: T): void {
  const [ns, name] = splitKey(key)
  const inner = m.get(ns)
  if (inner) inner.set(name, value)
  else m.set(ns, new Map([[name, value]]))
}

function deleteIn<T>(m: Map<string, Map<string, T>>, key: string): void {
  const [ns, name] = splitKey(key)
  const inner = m.get(ns)
  if (!inner) return
  inner.delete(name)
  if (inner.size === 0) m.delete(ns)
}

/**
 * Incremental model state: feed it changes, get a new model in which every service port whose
 * inputs did not change keeps its object identity, and the list of ports that changed.
 */
export class ModelStore {
  private stateValue: StoreState
  private ctx: Context
  private entries = new Map<string, ServiceEntry>()
  /** Service keys in model order (namespace, then name), kept sorted as Services come and go. */
  private order: string[] = []
  /** `ns/service` → its slices by slice key, for the slices the informer filter lets through. */
  private slicesByOwner = new Map<string, Map<string, EndpointSliceObject>>()
  private sliceDiagnostics = new Map<string, Diagnostic[]>()
  private modelValue: ProxyModel

  constructor(private readonly options: ModelOptions, initial?: LoadedObjects) {
    // The bulk load builds plain records (immer would walk every object); updates go through immer.
    const services = new Map<string, Map<string, ServiceObject>>()
    const slices = new Map<string, Map<string, EndpointSliceObject>>()
    const nodes = new Map<string, NodeObject>()
    for (const s of initial?.services ?? []) setIn(services, nsName(s.metadata.namespace, s.metadata.name), freeze(s))
    for (const s of initial?.endpointSlices ?? []) setIn(slices, nsName(s.metadata.namespace, s.metadata.name), freeze(s))
    for (const n of initial?.nodes ?? []) nodes.set(n.metadata.name, freeze(n))
    this.stateValue = freeze({
      services: freezeSharded(services),
      slices: freezeSharded(slices),
      nodes: freeze(nodes),
      config: initial?.config,
      skippedKinds: initial?.skippedKinds ?? {},
    })
    this.ctx = buildContext([...nodes.values()], this.stateValue.config, options)
    const svcByKey = new Map(entriesOf(services))
    this.order = [...svcByKey.keys()].sort((a, b) => compareServiceKeys(svcByKey.get(a) as ServiceObject, svcByKey.get(b) as ServiceObject))
    for (const [key, slice] of entriesOf(slices)) this.indexSlice(key, undefined, slice)
    const all = new Set(this.order)
    for (const key of this.order) this.entryFor(key, svcByKey.get(key) as ServiceObject, all)
    for (const [key] of entriesOf(slices)) this.refreshSliceDiagnostics(key)
    this.modelValue = this.assemble()
  }

  /** The current model. */
  get model(): ProxyModel {
    return this.modelValue
  }

  /** The current input state. */
  get state(): StoreState {
    return this.stateValue
  }

  /** The current objects, as the loader returns them (e.g. to rebuild from scratch). */
  objects(): LoadedObjects {
    return {
      services: [...entriesOf(this.stateValue.services)].map(([, v]) => v),
      endpointSlices: [...entriesOf(this.stateValue.slices)].map(([, v]) => v),
      nodes: [...this.stateValue.nodes.values()],
      config: this.stateValue.config,
      skippedKinds: this.stateValue.skippedKinds,
    }
  }

  /** Applies changes atomically; on error (e.g. the node becomes ambiguous) nothing changes. */
  apply(changes: readonly StoreChange[]): { model: ProxyModel; changed: ChangedPort[] } {
    const prevModel = this.modelValue
    const prevState = this.stateValue
    const next = produce(prevState, (d) => {
      for (const c of changes) {
        if (c.op === 'upsert') {
          // Frozen objects are taken as they are: immer neither walks nor copies them.
          if (c.kind === 'Service') setIn(d.services as Map<string, Map<string, ServiceObject>>, nsName(c.object.metadata.namespace, c.object.metadata.name), castDraft(freeze(c.object)))
          else if (c.kind === 'EndpointSlice') setIn(d.slices as Map<string, Map<string, EndpointSliceObject>>, nsName(c.object.metadata.namespace, c.object.metadata.name), castDraft(freeze(c.object)))
          else d.nodes.set(c.object.metadata.name, castDraft(freeze(c.object)))
        } else if (c.kind === 'Node') d.nodes.delete(c.name)
        else if (c.kind === 'Service') deleteIn(d.services as Map<string, Map<string, ServiceObject>>, nsName(c.namespace, c.name))
        else deleteIn(d.slices as Map<string, Map<string, EndpointSliceObject>>, nsName(c.namespace, c.name))
      }
    })
    let ctx = this.ctx
    if (next.nodes !== prevState.nodes || next.config !== prevState.config) {
      const rebuilt = buildContext([...next.nodes.values()], next.config, this.options)
      if (!deepEqual(rebuilt, this.ctx)) ctx = rebuilt
    }
    if (next === prevState && ctx === this.ctx) return { model: prevModel, changed: [] }
    // Everything below is proportional to the changed objects, except when node or config changed.
    const dirty = new Set<string>()
    const changedServices = keysChanged(prevState.services, next.services, changes, 'Service')
    const changedSlices = keysChanged(prevState.slices, next.slices, changes, 'EndpointSlice')
    for (const key of changedServices) dirty.add(key)
    for (const key of changedSlices) {
      for (const obj of [getIn(prevState.slices, key), getIn(next.slices, key)]) {
        const owner = obj && sliceOwner(obj)
        if (owner) dirty.add(owner)
      }
      this.indexSlice(key, getIn(prevState.slices, key), getIn(next.slices, key))
    }
    const ctxChanged = ctx !== this.ctx
    this.stateValue = next
    this.ctx = ctx
    for (const key of changedServices) {
      const had = getIn(prevState.services, key) !== undefined
      const has = getIn(next.services, key) !== undefined
      if (had && !has) {
        this.order.splice(this.indexOf(key, getIn(prevState.services, key) as ServiceObject), 1)
        this.entries.delete(key)
      } else if (!had && has) {
        this.order.splice(this.insertionPoint(getIn(next.services, key) as ServiceObject), 0, key)
      }
    }
    const recompute = ctxChanged ? this.order : [...dirty].filter((k) => getIn(next.services, k) !== undefined)
    const before = new Map<string, ServiceEntry | undefined>()
    for (const key of ctxChanged ? this.order : dirty) before.set(key, this.entries.get(key))
    for (const key of changedServices) if (getIn(next.services, key) === undefined) before.set(key, undefined)
    const recomputeSet = new Set(recompute)
    for (const key of recompute) this.entryFor(key, getIn(next.services, key) as ServiceObject, recomputeSet)
    // Slice diagnostics depend on the slice and on whether its Service exists.
    const sliceKeys = new Set(changedSlices)
    for (const key of changedServices) for (const sk of this.slicesByOwner.get(key)?.keys() ?? []) sliceKeys.add(sk)
    if (ctxChanged) for (const [sk] of entriesOf(next.slices)) sliceKeys.add(sk)
    for (const sk of sliceKeys) this.refreshSliceDiagnostics(sk)
    this.modelValue = this.assemble()
    const changed = ctxChanged ? diffPorts(prevModel, this.modelValue) : diffEntries(prevModel, before, this.entries)
    return { model: this.modelValue, changed }
  }

  private indexOf(key: string, svc: ServiceObject): number {
    const i = this.insertionPoint(svc)
    return this.order[i] === key ? i : this.order.indexOf(key)
  }

  /** Binary search for where a Service goes in `order`. */
  private insertionPoint(svc: ServiceObject): number {
    let lo = 0
    let hi = this.order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const other = getIn(this.stateValue.services, this.order[mid] as string) ?? this.entries.get(this.order[mid] as string)?.svc
      if (other && compareServiceKeys(other, svc) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private indexSlice(key: string, before: EndpointSliceObject | undefined, after: EndpointSliceObject | undefined): void {
    const oldOwner = before && sliceOwner(before)
    if (oldOwner) {
      const m = this.slicesByOwner.get(oldOwner)
      m?.delete(key)
      if (m && m.size === 0) this.slicesByOwner.delete(oldOwner)
    }
    const owner = after && sliceOwner(after)
    if (after && owner && passesInformerFilter(after.metadata.labels, this.options.serviceProxyName)) {
      let m = this.slicesByOwner.get(owner)
      if (!m) this.slicesByOwner.set(owner, (m = new Map()))
      m.set(key, after)
    }
  }

  private entryFor(key: string, svc: ServiceObject, dirty: ReadonlySet<string>): ServiceEntry {
    const slices = [...(this.slicesByOwner.get(key)?.values() ?? [])]
    const prior = this.entries.get(key)
    if (prior && !dirty.has(key) && prior.svc === svc && prior.ctx === this.ctx && sameRefs(prior.slices, slices)) return prior
    const diagnostics: Diagnostic[] = []
    const skip = serviceSkipReason(svc, this.ctx.families[0]?.ctx.serviceProxyName)
    if (skip) {
      diagnostics.push({ severity: 'info', code: skip.code, object: { kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name }, message: skip.message })
    } else {
      diagnostics.push(...serviceWarnings(svc))
    }
    const ports: Partial<Record<Family, ServicePortModel[]>> = {}
    for (const { ctx } of this.ctx.families) {
      const computed = computeServicePorts(svc, slices, ctx, diagnostics)
      const before = prior?.ports[ctx.family] ?? []
      // Keep the identity of ports whose model did not change (later stages compile only changed ports).
      ports[ctx.family] = computed.map((p) => before.find((b) => b.key === p.key && deepEqual(b, p)) ?? p)
    }
    const entry: ServiceEntry = { svc, slices, ctx: this.ctx, ports, health: healthCheck(svc, ports), diagnostics: dedupeDiagnostics(diagnostics) }
    this.entries.set(key, entry)
    return entry
  }

  private assemble(): ProxyModel {
    const families = this.ctx.families.map(({ shell }) => ({ ...shell, servicePorts: [] as ServicePortModel[] }))
    const healthChecks: HealthCheck[] = []
    const diagnostics: Diagnostic[] = [...this.ctx.diagnostics]
    for (const key of this.order) {
      const entry = this.entries.get(key) as ServiceEntry
      for (const fam of families) {
        const ports = entry.ports[fam.family]
        if (ports) for (const p of ports) fam.servicePorts.push(p)
      }
      if (entry.health) healthChecks.push(entry.health)
      if (entry.diagnostics.length > 0) diagnostics.push(...entry.diagnostics)
    }
    for (const list of this.sliceDiagnostics.values()) if (list.length > 0) diagnostics.push(...list)
    return {
      schemaVersion: 1,
      node: this.ctx.node,
      config: this.ctx.config,
      families,
      healthChecks,
      diagnostics: sortDiagnostics(diagnostics),
      inputs: {
        services: this.order.length,
        endpointSlices: sizeOf(this.stateValue.slices),
        nodes: this.stateValue.nodes.size,
        skippedKinds: this.stateValue.skippedKinds,
      },
    }
  }

  private refreshSliceDiagnostics(key: string): void {
    const slice = getIn(this.stateValue.slices, key)
    if (!slice) {
      this.sliceDiagnostics.delete(key)
      return
    }
    const owner = sliceOwner(slice)
    const object = { kind: 'EndpointSlice', namespace: slice.metadata.namespace ?? 'default', name: slice.metadata.name }
    const out: Diagnostic[] = []
    if (!owner) {
      out.push({ severity: 'warning', code: 'EPS_NO_SERVICE_LABEL', object, field: 'metadata.labels["kubernetes.io/service-name"]', message: 'is missing: kube-proxy ignores this slice' })
    } else if (getIn(this.stateValue.services, owner) === undefined) {
      out.push({ severity: 'info', code: 'EPS_NO_SERVICE', object, message: `its Service ${owner} is not in the input; its endpoints are unused` })
    }
    if (slice.addressType === 'FQDN') out.push({ severity: 'info', code: 'EPS_FQDN', object, field: 'addressType', message: 'FQDN slices are ignored by kube-proxy' })
    if (out.length > 0) this.sliceDiagnostics.set(key, out)
    else this.sliceDiagnostics.delete(key)
  }
}

/** Builds the model of one node from validated objects (a store fed everything at once). */
export function buildModel(objects: LoadedObjects, options: ModelOptions = {}): ProxyModel {
  return new ModelStore(options, objects).model
}

function freezeSharded<T>(m: Map<string, Map<string, T>>): Sharded<T> {
  for (const inner of m.values()) freeze(inner)
  return freeze(m)
}

function healthCheck(svc: ServiceObject, ports: Partial<Record<Family, ServicePortModel[]>>): HealthCheck | undefined {
  if (!svc.spec.healthCheckNodePort) return undefined
  const all = Object.values(ports).flat()
  const nodePort = all.find((p) => p.healthCheckNodePort !== 0)?.healthCheckNodePort
  if (!nodePort) return undefined
  const localReadyEndpoints: Partial<Record<Family, number>> = {}
  for (const [family, list] of Object.entries(ports) as [Family, ServicePortModel[]][]) {
    const ips = new Set<string>()
    for (const p of list) for (const e of p.endpoints) if (e.ready && e.isLocal) ips.add(e.ip)
    localReadyEndpoints[family] = ips.size
  }
  return { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name, nodePort, localReadyEndpoints }
}

function compareServiceKeys(a: ServiceObject, b: ServiceObject): number {
  return byteCompare(a.metadata.namespace ?? 'default', b.metadata.namespace ?? 'default') || byteCompare(a.metadata.name, b.metadata.name)
}

/** Keys of `kind` whose object differs between two states: only those the changes name. */
function keysChanged<T>(a: Sharded<T>, b: Sharded<T>, changes: readonly StoreChange[], kind: 'Service' | 'EndpointSlice'): string[] {
  if (a === b) return []
  const out = new Set<string>()
  for (const c of changes) {
    if (c.kind !== kind) continue
    const key = c.op === 'upsert' ? nsName(c.object.metadata.namespace, c.object.metadata.name) : nsName((c as { namespace: string }).namespace, c.name)
    if (getIn(a, key) !== getIn(b, key)) out.add(key)
  }
  return [...out]
}

function sameRefs<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Changed ports of the recomputed Services only (the fast path of apply). */
function diffEntries(prev: ProxyModel, before: ReadonlyMap<string, ServiceEntry | undefined>, after: ReadonlyMap<string, ServiceEntry>): ChangedPort[] {
  const out: ChangedPort[] = []
  for (const { family } of prev.families) {
    for (const [key, old] of before) {
      const beforePorts = new Map((old?.ports[family] ?? []).map((p) => [p.key, p]))
      const afterPorts = new Map((after.get(key)?.ports[family] ?? []).map((p) => [p.key, p]))
      for (const [k, p] of afterPorts) {
        const o = beforePorts.get(k)
        if (!o) out.push({ family, key: k, change: 'added' })
        else if (o !== p) out.push({ family, key: k, change: 'modified' })
      }
      for (const k of beforePorts.keys()) if (!afterPorts.has(k)) out.push({ family, key: k, change: 'removed' })
    }
  }
  return out.sort((a, b) => byteCompare(a.family, b.family) || byteCompare(a.key, b.key))
}

function diffPorts(prev: ProxyModel, next: ProxyModel): ChangedPort[] {
  const out: ChangedPort[] = []
  const famSet = new Set<Family>([...prev.families.map((f) => f.family), ...next.families.map((f) => f.family)])
  for (const family of [...famSet].sort()) {
    const before = new Map((prev.families.find((f) => f.family === family)?.servicePorts ?? []).map((p) => [p.key, p]))
    const after = new Map((next.families.find((f) => f.family === family)?.servicePorts ?? []).map((p) => [p.key, p]))
    for (const [key, p] of after) {
      const old = before.get(key)
      if (!old) out.push({ family, key, change: 'added' })
      else if (old !== p) out.push({ family, key, change: 'modified' })
    }
    for (const key of before.keys()) if (!after.has(key)) out.push({ family, key, change: 'removed' })
  }
  return out.sort((a, b) => byteCompare(a.family, b.family) || byteCompare(a.key, b.key))
}

function dedupeDiagnostics(list: Diagnostic[]): Diagnostic[] {
  if (list.length < 2) return list
  const seen = new Set<string>()
  return list.filter((d) => {
    const k = JSON.stringify(d)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return dedupeDiagnostics(list).sort((a, b) =>
    byteCompare(a.object.kind, b.object.kind) ||
    byteCompare(a.object.namespace ?? '', b.object.namespace ?? '') ||
    byteCompare(a.object.name, b.object.name) ||
    byteCompare(a.field ?? '', b.field ?? '') ||
    byteCompare(a.code, b.code) ||
    byteCompare(a.message, b.message),
  )
}
