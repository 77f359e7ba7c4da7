import { castDraft, freeze, produce } from 'immer'
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
  services: Readonly<Record<string, ServiceObject>>
  slices: Readonly<Record<string, EndpointSliceObject>>
  nodes: Readonly<Record<string, NodeObject>>
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

/**
 * Incremental model state: feed it changes, get a new model in which every service port whose
 * inputs did not change keeps its object identity, and the list of ports that changed.
 */
export class ModelStore {
  private stateValue: StoreState
  private ctx: Context
  private entries = new Map<string, ServiceEntry>()
  private slicesByOwner = new Map<string, EndpointSliceObject[]>()
  private sliceDiagnostics = new WeakMap<EndpointSliceObject, Diagnostic[]>()
  private modelValue: ProxyModel

  constructor(private readonly options: ModelOptions, initial?: LoadedObjects) {
    // The bulk load builds plain records (immer would walk every object); updates go through immer.
    const services: Record<string, ServiceObject> = {}
    const slices: Record<string, EndpointSliceObject> = {}
    const nodes: Record<string, NodeObject> = {}
    for (const s of initial?.services ?? []) services[nsName(s.metadata.namespace, s.metadata.name)] = freeze(s)
    for (const s of initial?.endpointSlices ?? []) slices[nsName(s.metadata.namespace, s.metadata.name)] = freeze(s)
    for (const n of initial?.nodes ?? []) nodes[n.metadata.name] = freeze(n)
    this.stateValue = freeze({
      services: freeze(services),
      slices: freeze(slices),
      nodes: freeze(nodes),
      config: initial?.config,
      skippedKinds: initial?.skippedKinds ?? {},
    })
    this.ctx = buildContext(Object.values(this.stateValue.nodes), this.stateValue.config, options)
    this.rebuildOwners()
    this.modelValue = this.assemble(new Set(Object.keys(this.stateValue.services)))
  }

  /** The current model. */
  get model(): ProxyModel {
    return this.modelValue
  }

  /** The current input state. */
  get state(): StoreState {
    return this.stateValue
  }

  /** Applies changes atomically; on error (e.g. the node becomes ambiguous) nothing changes. */
  apply(changes: readonly StoreChange[]): { model: ProxyModel; changed: ChangedPort[] } {
    const prevModel = this.modelValue
    const prevState = this.stateValue
    const next = produce(prevState, (d) => {
      for (const c of changes) {
        if (c.op === 'upsert') {
          // Frozen objects are taken as they are: immer neither walks nor copies them.
          if (c.kind === 'Service') d.services[nsName(c.object.metadata.namespace, c.object.metadata.name)] = castDraft(freeze(c.object))
          else if (c.kind === 'EndpointSlice') d.slices[nsName(c.object.metadata.namespace, c.object.metadata.name)] = castDraft(freeze(c.object))
          else d.nodes[c.object.metadata.name] = castDraft(freeze(c.object))
        } else if (c.kind === 'Node') delete d.nodes[c.name]
        else if (c.kind === 'Service') delete d.services[nsName(c.namespace, c.name)]
        else delete d.slices[nsName(c.namespace, c.name)]
      }
    })
    const dirty = new Set<string>()
    let ctx = this.ctx
    if (next.nodes !== prevState.nodes || next.config !== prevState.config) {
      const rebuilt = buildContext(Object.values(next.nodes), next.config, this.options)
      if (!deepEqual(rebuilt, this.ctx)) ctx = rebuilt
    }
    for (const key of keysChanged(prevState.services, next.services)) dirty.add(key)
    for (const key of keysChanged(prevState.slices, next.slices)) {
      for (const obj of [prevState.slices[key], next.slices[key]]) {
        const owner = obj && sliceOwner(obj)
        if (owner) dirty.add(owner)
      }
    }
    if (next === prevState && ctx === this.ctx) return { model: prevModel, changed: [] }
    this.stateValue = next
    this.ctx = ctx
    this.rebuildOwners()
    this.modelValue = this.assemble(dirty)
    return { model: this.modelValue, changed: diffPorts(prevModel, this.modelValue) }
  }

  private rebuildOwners(): void {
    this.slicesByOwner.clear()
    for (const slice of Object.values(this.stateValue.slices)) {
      const owner = sliceOwner(slice)
      if (!owner || !passesInformerFilter(slice.metadata.labels, this.options.serviceProxyName)) continue
      let list = this.slicesByOwner.get(owner)
      if (!list) this.slicesByOwner.set(owner, (list = []))
      list.push(slice)
    }
  }

  private entryFor(key: string, svc: ServiceObject, dirty: ReadonlySet<string>): ServiceEntry {
    const slices = this.slicesByOwner.get(key) ?? []
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

  private assemble(dirty: ReadonlySet<string>): ProxyModel {
    const services = this.stateValue.services
    const keys = Object.keys(services).sort((a, b) => compareServiceKeys(services[a] as ServiceObject, services[b] as ServiceObject))
    for (const key of [...this.entries.keys()]) if (!(key in services)) this.entries.delete(key)
    const families = this.ctx.families.map(({ shell }) => ({ ...shell, servicePorts: [] as ServicePortModel[] }))
    const healthChecks: HealthCheck[] = []
    const diagnostics: Diagnostic[] = [...this.ctx.diagnostics]
    for (const key of keys) {
      const entry = this.entryFor(key, services[key] as ServiceObject, dirty)
      for (const fam of families) fam.servicePorts.push(...(entry.ports[fam.family] ?? []))
      if (entry.health) healthChecks.push(entry.health)
      diagnostics.push(...entry.diagnostics)
    }
    for (const slice of Object.values(this.stateValue.slices)) diagnostics.push(...this.diagnosticsOfSlice(slice, services))
    return {
      schemaVersion: 1,
      node: this.ctx.node,
      config: this.ctx.config,
      families,
      healthChecks,
      diagnostics: sortDiagnostics(diagnostics),
      inputs: {
        services: keys.length,
        endpointSlices: Object.keys(this.stateValue.slices).length,
        nodes: Object.keys(this.stateValue.nodes).length,
        skippedKinds: this.stateValue.skippedKinds,
      },
    }
  }

  private diagnosticsOfSlice(slice: EndpointSliceObject, services: StoreState['services']): Diagnostic[] {
    const cached = this.sliceDiagnostics.get(slice)
    const owner = sliceOwner(slice)
    const orphan = owner !== undefined && !(owner in services)
    if (cached && !orphan) return cached
    const object = { kind: 'EndpointSlice', namespace: slice.metadata.namespace ?? 'default', name: slice.metadata.name }
    const out: Diagnostic[] = []
    if (!owner) {
      out.push({ severity: 'warning', code: 'EPS_NO_SERVICE_LABEL', object, field: 'metadata.labels["kubernetes.io/service-name"]', message: 'is missing: kube-proxy ignores this slice' })
    } else if (orphan) {
      out.push({ severity: 'info', code: 'EPS_NO_SERVICE', object, message: `its Service ${owner} is not in the input; its endpoints are unused` })
    }
    if (slice.addressType === 'FQDN') out.push({ severity: 'info', code: 'EPS_FQDN', object, field: 'addressType', message: 'FQDN slices are ignored by kube-proxy' })
    if (!orphan) this.sliceDiagnostics.set(slice, out)
    return out
  }
}

/** Builds the model of one node from validated objects (a store fed everything at once). */
export function buildModel(objects: LoadedObjects, options: ModelOptions = {}): ProxyModel {
  return new ModelStore(options, objects).model
}

function healthCheck(svc: ServiceObject, ports: Partial<Record<Family, ServicePortModel[]>>): HealthCheck | undefined {
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

function keysChanged<T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>): string[] {
  if (a === b) return []
  const out: string[] = []
  for (const k of Object.keys(a)) if (a[k] !== b[k]) out.push(k)
  for (const k of Object.keys(b)) if (!(k in a)) out.push(k)
  return out
}

function sameRefs<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
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
