import { freeze } from 'immer'
import { deepEqual } from './equal.js'
import { DiagnosticIndex } from './diagnostics.js'
import type { LoadedObjects } from './load.js'
import type { Diagnostic, FamilyModel, HealthCheck, ProxyModel, ServicePortModel } from './model.js'
import { type Context, type ModelOptions, buildContext } from './normalize/context.js'
import { sliceDiagnostics, sliceServiceName } from './normalize/endpoints.js'
import type { ConfigObject } from './schema/config.js'
import type { EndpointSliceObject } from './schema/endpoint-slice.js'
import type { NodeObject } from './schema/node.js'
import type { ServiceObject } from './schema/service.js'
import type { ServiceCIDRObject } from './schema/service-cidr.js'
import { serviceCIDRsOfFamily } from './normalize/service-cidrs.js'
import type { Family } from './ip.js'
import { type ChangedPort, type Ref, diffPorts, diffServices, splicesFor } from './model-diff.js'
import { NamespacedMap } from './ns-map.js'
import { byteCompare } from './select.js'
import { type ServiceEntry, serviceEntry } from './service-entry.js'
import { applySplices } from './splice.js'

export type { ChangedPort }

/** One change fed to the store (what a watch event becomes). */
export type StoreChange =
  | { op: 'upsert'; kind: 'Service'; object: ServiceObject }
  | { op: 'upsert'; kind: 'EndpointSlice'; object: EndpointSliceObject }
  | { op: 'upsert'; kind: 'Node'; object: NodeObject }
  | { op: 'upsert'; kind: 'ServiceCIDR'; object: ServiceCIDRObject }
  | { op: 'delete'; kind: 'Service' | 'EndpointSlice'; namespace: string; name: string }
  | { op: 'delete'; kind: 'Node'; name: string }
  | { op: 'delete'; kind: 'ServiceCIDR'; name: string }

/** A snapshot of the store's input objects (frozen; taken when asked for). */
export interface StoreState {
  /** namespace → name → Service. */
  services: Sharded<ServiceObject>
  /** namespace → name → EndpointSlice. */
  slices: Sharded<EndpointSliceObject>
  /** By name. */
  nodes: ReadonlyMap<string, NodeObject>
  /** By name. */
  serviceCIDRs: ReadonlyMap<string, ServiceCIDRObject>
  config: ConfigObject | undefined
  skippedKinds: Readonly<Record<string, number>>
}

/** namespace → name → object. */
export type Sharded<T> = ReadonlyMap<string, ReadonlyMap<string, T>>

const NONE: readonly never[] = Object.freeze([])

/**
 * Marks the store behind buildModel, which is dropped at once: it keeps no per-Service entries
 * (5 of the 30 MB a 10k × 10 build holds, all of it copied and promoted by the garbage collector).
 */
const ONE_SHOT: unique symbol = Symbol('one-shot')

const nsOf = (o: { metadata: { namespace?: string | undefined } }) => o.metadata.namespace ?? 'default'

/**
 * Incremental model state: feed it changes, get a new model in which every service port whose
 * inputs did not change keeps its object identity, and the list of ports that changed. An update
 * recomputes only the Services it touches and patches copies of the model's lists (models handed
 * out earlier never change); a node change that alters the context recomputes everything.
 */
export class ModelStore {
  /** The inputs; mutated in place, so `state` hands out copies. */
  private readonly services = new NamespacedMap<ServiceObject>()
  private readonly slices = new NamespacedMap<EndpointSliceObject>()
  private nodes = new Map<string, NodeObject>()
  private serviceCIDRs = new Map<string, ServiceCIDRObject>()
  /** Each family's CIDRs of `serviceCIDRs`; a list keeps its identity while its content does not change. */
  private familyCIDRs = new Map<Family, string[]>()
  private readonly config: ConfigObject | undefined
  private readonly skippedKinds: Readonly<Record<string, number>>
  private ctx: Context
  private entries = new NamespacedMap<ServiceEntry>()
  /** (namespace, Service name) → every slice labelled with it; the informer filter applies when merging. */
  private readonly slicesByOwner = new NamespacedMap<EndpointSliceObject[]>()
  /** Diagnostics of the slices that have some. */
  private sliceDiagnostics = new NamespacedMap<readonly Diagnostic[]>()
  private diagnostics!: DiagnosticIndex
  private modelValue!: ProxyModel
  private snapshot: StoreState | undefined
  /** False for a one-shot build: nothing is kept for later updates. */
  private readonly retain: boolean

  constructor(private readonly options: ModelOptions, initial?: LoadedObjects, oneShot?: typeof ONE_SHOT) {
    this.retain = oneShot !== ONE_SHOT
    for (const s of initial?.services ?? []) this.services.set(nsOf(s), s.metadata.name, s)
    for (const s of initial?.endpointSlices ?? []) this.slices.set(nsOf(s), s.metadata.name, s)
    for (const n of initial?.nodes ?? []) this.nodes.set(n.metadata.name, n)
    for (const c of initial?.serviceCIDRs ?? []) this.serviceCIDRs.set(c.metadata.name, c)
    this.config = initial?.config
    this.skippedKinds = initial?.skippedKinds ?? {}
    for (const s of this.slices.values()) this.index(undefined, s)
    this.ctx = buildContext([...this.nodes.values()], this.config, options)
    this.rebuild(false)
  }

  /** The current model. */
  get model(): ProxyModel {
    return this.modelValue
  }

  /** The current input objects (a frozen copy, taken when first asked for after a change). */
  get state(): StoreState {
    this.snapshot ??= freeze({
      services: this.services.snapshot(freeze),
      slices: this.slices.snapshot(freeze),
      nodes: freeze(new Map(this.nodes)),
      serviceCIDRs: freeze(new Map(this.serviceCIDRs)),
      config: this.config,
      skippedKinds: this.skippedKinds,
    })
    return this.snapshot
  }

  /** The current objects, as the loader returns them (e.g. to rebuild from scratch). */
  objects(): LoadedObjects {
    return {
      services: [...this.services.values()],
      endpointSlices: [...this.slices.values()],
      nodes: [...this.nodes.values()],
      serviceCIDRs: [...this.serviceCIDRs.values()],
      config: this.config,
      skippedKinds: this.skippedKinds,
    }
  }

  /** Applies changes atomically; on error (e.g. the node becomes ambiguous) nothing changes. */
  apply(changes: readonly StoreChange[]): { model: ProxyModel; changed: ChangedPort[] } {
    const prevModel = this.modelValue
    // Node changes first: picking the node is the one step that can refuse the batch.
    let nodes = this.nodes
    for (const c of changes) {
      if (c.kind !== 'Node') continue
      if (nodes === this.nodes) nodes = new Map(nodes)
      if (c.op === 'upsert') nodes.set(c.object.metadata.name, c.object)
      else nodes.delete(c.name)
    }
    const nodesChanged = nodes !== this.nodes && !sameEntries(nodes, this.nodes)
    let cidrObjects = this.serviceCIDRs
    for (const c of changes) {
      if (c.kind !== 'ServiceCIDR') continue
      if (cidrObjects === this.serviceCIDRs) cidrObjects = new Map(cidrObjects)
      if (c.op === 'upsert') cidrObjects.set(c.object.metadata.name, c.object)
      else cidrObjects.delete(c.name)
    }
    const cidrsChanged = cidrObjects !== this.serviceCIDRs && !sameEntries(cidrObjects, this.serviceCIDRs)
    let ctx = this.ctx
    if (nodesChanged) {
      const rebuilt = buildContext([...nodes.values()], this.config, this.options)
      if (!deepEqual(rebuilt, this.ctx)) ctx = rebuilt
    }
    // Then the objects, remembering what each touched one was before the batch.
    const prevServices = new Map<string, [Ref, ServiceObject | undefined]>()
    const prevSlices = new Map<string, [Ref, EndpointSliceObject | undefined]>()
    for (const c of changes) {
      if (c.kind === 'Node' || c.kind === 'ServiceCIDR') continue
      const ref: Ref = c.op === 'upsert' ? [nsOf(c.object), c.object.metadata.name] : [c.namespace, c.name]
      const key = `${ref[0]}/${ref[1]}`
      if (c.kind === 'Service') {
        const before = c.op === 'upsert' ? this.services.set(ref[0], ref[1], c.object) : this.services.delete(ref[0], ref[1])
        if (!prevServices.has(key)) prevServices.set(key, [ref, before])
      } else {
        const before = c.op === 'upsert' ? this.slices.set(ref[0], ref[1], c.object) : this.slices.delete(ref[0], ref[1])
        if (!prevSlices.has(key)) prevSlices.set(key, [ref, before])
      }
    }
    const changedServices = [...prevServices.values()].filter(([[ns, name], v]) => this.services.get(ns, name) !== v).map(([ref]) => ref)
    const changedSlices = [...prevSlices.values()].filter(([[ns, name], v]) => this.slices.get(ns, name) !== v)
    if (!nodesChanged && !cidrsChanged && changedServices.length === 0 && changedSlices.length === 0) return { model: prevModel, changed: [] }
    this.snapshot = undefined
    if (nodesChanged) this.nodes = nodes
    if (cidrsChanged) this.serviceCIDRs = cidrObjects
    const dirty = new Map<string, Ref>(changedServices.map((ref) => [`${ref[0]}/${ref[1]}`, ref]))
    for (const [[ns, name], before] of changedSlices) {
      const after = this.slices.get(ns, name)
      for (const s of [before, after]) {
        const owner = s && sliceServiceName(s)
        if (owner) dirty.set(`${ns}/${owner}`, [ns, owner])
      }
      this.index(before, after)
    }
    if (ctx !== this.ctx) {
      this.ctx = ctx
      this.rebuild(true)
      return { model: this.modelValue, changed: diffPorts(prevModel, this.modelValue) }
    }
    const refs = [...dirty.values()].sort((a, b) => byteCompare(a[0], b[0]) || byteCompare(a[1], b[1]))
    return this.update(refs, changedServices, changedSlices.map(([ref]) => ref))
  }

  /** Recomputes the given Services (in model order) and patches the model: the path of a watch event. */
  private update(refs: readonly Ref[], changedServices: readonly Ref[], changedSlices: readonly Ref[]): { model: ProxyModel; changed: ChangedPort[] } {
    const prev = this.modelValue
    const before: (ServiceEntry | undefined)[] = []
    const removed: (readonly Diagnostic[])[] = []
    const added: (readonly Diagnostic[])[] = []
    for (const [ns, name] of refs) {
      const old = this.entries.get(ns, name)
      before.push(old)
      const svc = this.services.get(ns, name)
      const entry = svc && serviceEntry(svc, this.slicesByOwner.get(ns, name) ?? NONE, this.ctx, this.options.serviceProxyName, old)
      if (entry) this.entries.set(ns, name, entry)
      else this.entries.delete(ns, name)
      if (old && old.diagnostics.length > 0) removed.push(old.diagnostics)
      if (entry && entry.diagnostics.length > 0) added.push(entry.diagnostics)
    }
    // Slice diagnostics depend on the slice and on whether its Service exists.
    const sliceRefs = new Map<string, Ref>(changedSlices.map((ref) => [`${ref[0]}/${ref[1]}`, ref]))
    for (const [ns, name] of changedServices) {
      for (const s of this.slicesByOwner.get(ns, name) ?? NONE) sliceRefs.set(`${ns}/${s.metadata.name}`, [ns, s.metadata.name])
    }
    const hasService = (ns: string, name: string) => this.services.has(ns, name)
    for (const [ns, name] of sliceRefs.values()) {
      const old = this.sliceDiagnostics.get(ns, name)
      const slice = this.slices.get(ns, name)
      const now = slice && sliceDiagnostics(slice, hasService)
      if (old) removed.push(old)
      if (now) added.push(now)
      if (now) this.sliceDiagnostics.set(ns, name, now)
      else this.sliceDiagnostics.delete(ns, name)
    }
    const diagnosticsChanged = this.diagnostics.update(removed, added)
    const after = refs.map(([ns, name]) => this.entries.get(ns, name))
    const families = prev.families.map((fam): FamilyModel => {
      // ServiceCIDRs only feed the family section: no service port depends on them.
      const cidrs = this.cidrsOf(fam.family)
      const shell = cidrs === fam.serviceCIDRs ? fam : { ...fam, serviceCIDRs: cidrs }
      const splices = splicesFor(fam.servicePorts, refs, before.map((e) => e?.ports[fam.family] ?? NONE), after.map((e) => e?.ports[fam.family] ?? NONE))
      return splices.length === 0 ? shell : { ...shell, servicePorts: applySplices(fam.servicePorts, splices) }
    })
    const healthOf = (e: ServiceEntry | undefined) => (e?.health ? [e.health] : NONE)
    const healthSplices = splicesFor(prev.healthChecks, refs, before.map(healthOf), after.map(healthOf))
    this.modelValue = this.modelOf(
      families,
      healthSplices.length === 0 ? prev.healthChecks : applySplices(prev.healthChecks, healthSplices),
      diagnosticsChanged ? this.diagnostics.list : prev.diagnostics,
    )
    return { model: this.modelValue, changed: diffServices(prev, before.map((e) => e?.ports), after.map((e) => e?.ports)) }
  }

  /** Recomputes every Service and the whole model (the bulk load, or a changed context). */
  private rebuild(reuse: boolean): void {
    const prior = reuse ? this.entries : undefined
    this.entries = new NamespacedMap()
    const families = this.ctx.families
    const lists = families.map((): ServicePortModel[] => [])
    const healthChecks: HealthCheck[] = []
    const diagnostics: (readonly Diagnostic[])[] = [this.ctx.diagnostics]
    this.services.forEachSorted((svc, ns, name) => {
      const entry = serviceEntry(svc, this.slicesByOwner.get(ns, name) ?? NONE, this.ctx, this.options.serviceProxyName, prior?.get(ns, name))
      if (this.retain) this.entries.set(ns, name, entry)
      for (let i = 0; i < families.length; i++) {
        const list = lists[i] as ServicePortModel[]
        for (const p of entry.ports[(families[i] as Context['families'][number]).ctx.family] ?? NONE) list.push(p)
      }
      if (entry.health) healthChecks.push(entry.health)
      if (entry.diagnostics.length > 0) diagnostics.push(entry.diagnostics)
    })
    this.sliceDiagnostics = new NamespacedMap()
    const hasService = (ns: string, name: string) => this.services.has(ns, name)
    this.slices.forEach((slice, ns, name) => {
      const list = sliceDiagnostics(slice, hasService)
      if (!list) return
      this.sliceDiagnostics.set(ns, name, list)
      diagnostics.push(list)
    })
    this.diagnostics = new DiagnosticIndex(diagnostics)
    this.modelValue = this.modelOf(
      families.map(({ shell }, i): FamilyModel => ({ ...shell, serviceCIDRs: this.cidrsOf(shell.family), servicePorts: lists[i] as ServicePortModel[] })),
      healthChecks,
      this.diagnostics.list,
    )
  }

  private modelOf(families: FamilyModel[], healthChecks: HealthCheck[], diagnostics: Diagnostic[]): ProxyModel {
    return {
      schemaVersion: 1,
      node: this.ctx.node,
      config: this.ctx.config,
      families,
      healthChecks,
      diagnostics,
      inputs: {
        services: this.services.size,
        endpointSlices: this.slices.size,
        nodes: this.nodes.size,
        serviceCIDRs: this.serviceCIDRs.size,
        skippedKinds: this.skippedKinds,
      },
    }
  }

  /** The family's ServiceCIDRs, the same array as last time when they did not change. */
  private cidrsOf(family: Family): string[] {
    const now = serviceCIDRsOfFamily(this.serviceCIDRs.values(), family)
    const last = this.familyCIDRs.get(family)
    if (last && deepEqual(last, now)) return last
    this.familyCIDRs.set(family, now)
    return now
  }

  /** Moves a slice in the owner index (either side may be absent). */
  private index(before: EndpointSliceObject | undefined, after: EndpointSliceObject | undefined): void {
    const oldOwner = before && sliceServiceName(before)
    if (before && oldOwner) {
      const ns = nsOf(before)
      const list = this.slicesByOwner.get(ns, oldOwner)
      const i = list ? list.indexOf(before) : -1
      if (list && i >= 0) {
        list.splice(i, 1)
        if (list.length === 0) this.slicesByOwner.delete(ns, oldOwner)
      }
    }
    const owner = after && sliceServiceName(after)
    if (after && owner) {
      const list = this.slicesByOwner.get(nsOf(after), owner)
      if (list) list.push(after)
      else this.slicesByOwner.set(nsOf(after), owner, [after])
    }
  }
}

/** Builds the model of one node from validated objects (a store fed everything at once). */
export function buildModel(objects: LoadedObjects, options: ModelOptions = {}): ProxyModel {
  return new ModelStore(options, objects, ONE_SHOT).model
}

function sameEntries<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v || (v === undefined && !b.has(k))) return false
  return true
}
