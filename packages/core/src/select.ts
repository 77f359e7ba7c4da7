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
  // Plain loops, not filter/map chains: this runs for every service port of the cluster.
  if (flags.usesClusterEndpoints) {
    const mode = topologyMode(endpoints, nodeName, zone)
    out.topologyMode = mode
    const cluster: string[] = []
    for (const e of endpoints) if (e.ready && available(e, mode, nodeName, zone)) cluster.push(e.key)
    if (cluster.length === 0) {
      // Terminating fallback: topology is not applied here.
      for (const e of endpoints) if (e.serving && e.terminating) cluster.push(e.key)
      out.clusterUsesTerminating = cluster.length > 0
    }
    out.clusterEndpoints = cluster
    out.hasAnyEndpoints = cluster.length > 0
  }
  if (!flags.usesLocalEndpoints) {
    out.reachableEndpoints = out.clusterEndpoints ?? []
    return out
  }
  const localReady: string[] = []
  const localTerminating: string[] = []
  for (const e of endpoints) {
    const servingTerminating = e.serving && e.terminating
    if (e.ready || servingTerminating) out.hasAnyEndpoints = true
    if (!e.isLocal) continue
    if (e.ready) localReady.push(e.key)
    else if (servingTerminating) localTerminating.push(e.key)
  }
  let local: string[] = localReady
  if (localReady.length === 0 && localTerminating.length > 0) {
    local = localTerminating
    out.localUsesTerminating = true
  }
  out.localEndpoints = local
  if (!flags.usesClusterEndpoints) {
    out.reachableEndpoints = local
    return out
  }
  if (out.topologyMode === 'None' && !out.localUsesTerminating) {
    out.reachableEndpoints = out.clusterEndpoints ?? []
  } else {
    out.reachableEndpoints = [...new Set([...(out.clusterEndpoints ?? []), ...local])].sort(byteCompare)
  }
  return out
}

/** Topology mode from the hints of Ready endpoints alone (model.md §5.3). */
export function topologyMode(endpoints: readonly EndpointModel[], nodeName: string, zone: string | null): TopologyMode {
  let ready = 0
  let allNodeHints = true
  let nodeHinted = false
  let allZoneHints = true
  let zoneHinted = false
  for (const e of endpoints) {
    if (!e.ready) continue
    ready++
    if (e.nodeHints.length === 0) allNodeHints = false
    else if (!nodeHinted && e.nodeHints.includes(nodeName)) nodeHinted = true
    if (e.zoneHints.length === 0) allZoneHints = false
    else if (!zoneHinted && zone !== null && e.zoneHints.includes(zone)) zoneHinted = true
  }
  if (ready === 0) return 'None'
  if (allNodeHints && nodeHinted) return 'PreferSameNode'
  // A node without a zone label never matches a zone hint (model.md §5.3 recommendation).
  if (zone !== null && allZoneHints && zoneHinted) return 'PreferSameZone'
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
