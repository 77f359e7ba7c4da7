/**
 * Object-level differences between two inputs as store changes: what `kproxc diff` feeds a
 * ModelStore built from the old input, so that unchanged service ports keep their identity and
 * the backends recompile only what changed.
 */
import { type LoadedObjects, type StoreChange, deepEqual } from '@kproxc/core'

const nsName = (ns: string | undefined, name: string) => `${ns ?? 'default'}/${name}`

/** Upserts for new or changed Services, EndpointSlices, Nodes and ServiceCIDRs; deletes for the ones gone. */
export function objectChanges(old: LoadedObjects, next: LoadedObjects): StoreChange[] {
  const out: StoreChange[] = []
  const services = new Map(old.services.map((s) => [nsName(s.metadata.namespace, s.metadata.name), s]))
  const slices = new Map(old.endpointSlices.map((s) => [nsName(s.metadata.namespace, s.metadata.name), s]))
  const nodes = new Map(old.nodes.map((n) => [n.metadata.name, n]))
  for (const n of next.nodes) {
    if (!deepEqual(nodes.get(n.metadata.name), n)) out.push({ op: 'upsert', kind: 'Node', object: n })
    nodes.delete(n.metadata.name)
  }
  for (const s of next.services) {
    const key = nsName(s.metadata.namespace, s.metadata.name)
    if (!deepEqual(services.get(key), s)) out.push({ op: 'upsert', kind: 'Service', object: s })
    services.delete(key)
  }
  for (const s of next.endpointSlices) {
    const key = nsName(s.metadata.namespace, s.metadata.name)
    if (!deepEqual(slices.get(key), s)) out.push({ op: 'upsert', kind: 'EndpointSlice', object: s })
    slices.delete(key)
  }
  for (const s of services.values()) out.push({ op: 'delete', kind: 'Service', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name })
  for (const s of slices.values()) out.push({ op: 'delete', kind: 'EndpointSlice', namespace: s.metadata.namespace ?? 'default', name: s.metadata.name })
  for (const n of nodes.values()) out.push({ op: 'delete', kind: 'Node', name: n.metadata.name })
  const cidrs = new Map((old.serviceCIDRs ?? []).map((o) => [o.metadata.name, o]))
  for (const o of next.serviceCIDRs ?? []) {
    if (!deepEqual(cidrs.get(o.metadata.name), o)) out.push({ op: 'upsert', kind: 'ServiceCIDR', object: o })
    cidrs.delete(o.metadata.name)
  }
  for (const name of cidrs.keys()) out.push({ op: 'delete', kind: 'ServiceCIDR', name })
  return out
}
