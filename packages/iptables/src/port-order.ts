/**
 * The order kube-proxy's service ports are written in. Upstream walks a Go map (random order);
 * sorting by the ServicePortName string, then protocol, is the stable choice its tests normalize to.
 */
import { type ServicePortModel, byteCompare } from '@kproxc/core'

/** The output permutation of the model's ports, or null when the model is already in that order. */
export function outputOrder(all: readonly ServicePortModel[]): number[] | null {
  for (let i = 1; i < all.length; i++) {
    if (comparePorts(all[i - 1] as ServicePortModel, all[i] as ServicePortModel) > 0) {
      return all.map((_, j) => j).sort((a, b) => comparePorts(all[a] as ServicePortModel, all[b] as ServicePortModel) || a - b)
    }
  }
  return null
}

/** Output order of two ports; 0 only for ports with the same name and protocol (a model that is not a real cluster's). */
export function comparePorts(a: ServicePortModel, b: ServicePortModel): number {
  return byteCompare(a.displayName, b.displayName) || byteCompare(a.protocolLower, b.protocolLower)
}
