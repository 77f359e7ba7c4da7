/**
 * Pairs of related clusters for delta properties: NEW takes each Service (with its slices) from
 * OLD or from a second random cluster, so services are kept, changed, added and removed in one
 * step; sometimes the Node changes too, and the ServiceCIDR objects move between a few sets. The
 * configuration stays OLD's (a ModelStore keeps it).
 */
import fc from 'fast-check'
import { type LoadedObjects, ModelStore, type ProxyModel, type ServiceCIDRObject, type StoreChange, deepEqual } from '@kproxc/core'
import { arbCluster } from './arbitraries.js'
import { objectChanges } from '../packages/cli/src/changes.js'

export interface ClusterPair {
  old: LoadedObjects
  next: LoadedObjects
}

const owner = (s: LoadedObjects['endpointSlices'][number]) => s.metadata.labels?.['kubernetes.io/service-name']

const serviceCIDR = (name: string, ...cidrs: string[]): ServiceCIDRObject => ({ metadata: { name }, spec: { cidrs } })

/** ServiceCIDR sets: none, the default dual-stack one, plus an extra range, the default one widened. */
export const SERVICE_CIDR_SETS: readonly (readonly ServiceCIDRObject[])[] = [
  [],
  [serviceCIDR('kubernetes', '10.96.0.0/16', 'fd00:96::/112')],
  [serviceCIDR('kubernetes', '10.96.0.0/16', 'fd00:96::/112'), serviceCIDR('extra', '10.100.0.0/16')],
  [serviceCIDR('kubernetes', '10.96.0.0/12')],
]

/** OLD and a NEW that shares most of it. */
export function arbClusterPair(maxServices = 6): fc.Arbitrary<ClusterPair> {
  const cidrSet = fc.nat(SERVICE_CIDR_SETS.length - 1).map((i) => [...(SERVICE_CIDR_SETS[i] ?? [])])
  return fc.tuple(arbCluster({ maxServices }), arbCluster({ maxServices }), fc.array(fc.nat(2), { minLength: maxServices, maxLength: maxServices }), fc.boolean(), cidrSet, cidrSet)
    .map(([a, b, pick, newNode, oldCIDRs, nextCIDRs]) => {
      const old: LoadedObjects = { ...a.objects, serviceCIDRs: oldCIDRs }
      const other = b.objects
      const names = new Set([...old.services, ...other.services].map((s) => s.metadata.name))
      const next: LoadedObjects = { ...old, services: [], endpointSlices: [], nodes: newNode ? other.nodes : old.nodes, serviceCIDRs: nextCIDRs }
      for (const name of [...names].sort()) {
        const i = Number(name.replace(/\D/g, '')) % pick.length
        // 0: keep OLD's, 1: take the other cluster's, 2: drop it.
        const from = pick[i] === 0 ? old : pick[i] === 1 ? other : undefined
        if (!from) continue
        next.services.push(...from.services.filter((s) => s.metadata.name === name))
        next.endpointSlices.push(...from.endpointSlices.filter((s) => owner(s) === name))
      }
      return { old, next }
    })
}

/** Models of OLD and NEW from one store, so unchanged service ports share identity. */
export function storeModels(pair: ClusterPair, options: ConstructorParameters<typeof ModelStore>[0]): { old: ProxyModel; next: ProxyModel } {
  const store = new ModelStore(options, pair.old)
  const old = store.model
  const next = store.apply(objectChanges(pair.old, pair.next)).model
  return { old, next }
}
