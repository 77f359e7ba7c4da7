/**
 * Pairs of related clusters for delta properties: NEW takes each Service (with its slices) from
 * OLD or from a second random cluster, so services are kept, changed, added and removed in one
 * step; sometimes the Node changes too. The configuration stays OLD's (a ModelStore keeps it).
 */
import fc from 'fast-check'
import { type LoadedObjects, ModelStore, type ProxyModel } from '@kproxc/core'
import { arbCluster } from './arbitraries.js'
import { objectChanges } from '../packages/cli/src/changes.js'

export interface ClusterPair {
  old: LoadedObjects
  next: LoadedObjects
}

const owner = (s: LoadedObjects['endpointSlices'][number]) => s.metadata.labels?.['kubernetes.io/service-name']

/** OLD and a NEW that shares most of it. */
export function arbClusterPair(maxServices = 6): fc.Arbitrary<ClusterPair> {
  return fc.tuple(arbCluster({ maxServices }), arbCluster({ maxServices }), fc.array(fc.nat(2), { minLength: maxServices, maxLength: maxServices }), fc.boolean())
    .map(([a, b, pick, newNode]) => {
      const old = a.objects
      const other = b.objects
      const names = new Set([...old.services, ...other.services].map((s) => s.metadata.name))
      const next: LoadedObjects = { ...old, services: [], endpointSlices: [], nodes: newNode ? other.nodes : old.nodes }
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
