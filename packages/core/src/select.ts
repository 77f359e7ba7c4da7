import type { EndpointModel, TopologyMode } from './model.js'

/** The flags of a service port that endpoint selection reads. */
export interface SelectionFlags {
  usesClusterEndpoints: boolean
  usesLocalEndpoints: boolean
}

/** The outcome of kube-proxy's CategorizeEndpoints for one service port (model.md §5.2). */
export interface Selection {
  topologyMode: TopologyMode
  clusterEndpoints: string[] | null
  clusterUsesTerminating: boolean
  localEndpoints: string[] | null
  localUsesTerminating: boolean
  reachableEndpoints: string[]
  hasAnyEndpoints: boolean
}

const servingTerminating = (e: EndpointModel) => e.serving && e.terminating

/**
 * Splits sorted endpoints into cluster, local and reachable sets, as pkg/proxy/topology.go does;
 * the union is re-sorted by key so output never depends on map order.
 */
export function selectEndpoints(endpoints: readonly EndpointModel[], flags: SelectionFlags, nodeName: string, zone: string | null): Selection {
  const out: Selection = {
    topologyMode: 'None',
    clusterEndpoints: null,
    clusterUsesTerminating: false,
    localEndpoints: null,
    localUsesTerminating: false,
    reachableEndpoints: [],
    hasAnyEndpoints: false,
  }
  if (endpoints.length === 0) {
    if (flags.usesClusterEndpoints) out.clusterEndpoints = []
    if (flags.usesLocalEndpoints) out.localEndpoints = []
    return out
  }
  let cluster: EndpointModel[] = []
  if (flags.usesClusterEndpoints) {
    const mode = topologyMode(endpoints, nodeName, zone)
    out.topologyMode = mode
    cluster = endpoints.filter((e) => e.ready && available(e, mode, nodeName, zone))
    if (cluster.length === 0) {
      // Terminating fallback: topology is not applied here.
      cluster = endpoints.filter(servingTerminating)
      out.clusterUsesTerminating = cluster.length > 0
    }
    out.clusterEndpoints = cluster.map((e) => e.key)
    out.hasAnyEndpoints = cluster.length > 0
  }
  if (!flags.usesLocalEndpoints) {
    out.reachableEndpoints = out.clusterEndpoints ?? []
    return out
  }
  const localReady = endpoints.filter((e) => e.ready && e.isLocal)
  const localTerminating = endpoints.filter((e) => !e.ready && servingTerminating(e) && e.isLocal)
  if (endpoints.some((e) => e.ready || servingTerminating(e))) out.hasAnyEndpoints = true
  let local: EndpointModel[] = []
  if (localReady.length > 0) local = localReady
  else if (localTerminating.length > 0) {
    local = localTerminating
    out.localUsesTerminating = true
  }
  out.localEndpoints = local.map((e) => e.key)
  if (!flags.usesClusterEndpoints) {
    out.reachableEndpoints = out.localEndpoints
    return out
  }
  if (out.topologyMode === 'None' && !out.localUsesTerminating) {
    out.reachableEndpoints = out.clusterEndpoints ?? []
  } else {
    out.reachableEndpoints = [...new Set([...(out.clusterEndpoints ?? []), ...out.localEndpoints])].sort(byteCompare)
  }
  return out
}

/** Topology mode from the hints of Ready endpoints alone (model.md §5.3). */
export function topologyMode(endpoints: readonly EndpointModel[], nodeName: string, zone: string | null): TopologyMode {
  const ready = endpoints.filter((e) => e.ready)
  if (ready.length === 0) return 'None'
  if (ready.every((e) => e.nodeHints.length > 0) && ready.some((e) => e.nodeHints.includes(nodeName))) return 'PreferSameNode'
  // A node without a zone label never matches a zone hint (model.md §5.3 recommendation).
  if (zone !== null && ready.every((e) => e.zoneHints.length > 0) && ready.some((e) => e.zoneHints.includes(zone))) return 'PreferSameZone'
  return 'None'
}

function available(e: EndpointModel, mode: TopologyMode, nodeName: string, zone: string | null): boolean {
  if (mode === 'PreferSameNode') return e.nodeHints.includes(nodeName)
  if (mode === 'PreferSameZone') return zone !== null && e.zoneHints.includes(zone)
  return true
}

/** Byte-wise string order, as Go's sort.Strings. */
export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
