/**
 * Deterministic large clusters for benchmarks: S Services × E endpoints, kubectl-shaped, built
 * without randomness so runs compare across machines and commits.
 */
import type { EndpointSliceObject, LoadedObjects, NodeObject, ServiceObject } from '@kproxc/core'

export interface SyntheticOptions {
  services: number
  endpointsPerService: number
  /** Every Nth Service is a NodePort (0: none). Default 10. */
  nodePortEvery?: number
  /** Every Nth Service has ClientIP affinity (0: none). Default 0. */
  affinityEvery?: number
}

/** Dotted IPv4 from a 24-bit index inside base first octet. */
function ip4(first: number, index: number): string {
  return `${first}.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`
}

/** A node n1 (192.168.0.2); S Services (10.96.0.0/12) with one TCP port; E endpoints each (10.128.0.0/9) on n1..n4. */
export function syntheticCluster(opts: SyntheticOptions): LoadedObjects {
  const nodePortEvery = opts.nodePortEvery ?? 10
  const affinityEvery = opts.affinityEvery ?? 0
  const services: ServiceObject[] = []
  const endpointSlices: EndpointSliceObject[] = []
  let nodePort = 30000
  let ep = 1
  for (let i = 0; i < opts.services; i++) {
    const name = `svc-${i}`
    const namespace = `ns-${i % 50}`
    const clusterIP = ip4(10, (96 << 16) + 1 + i)
    const isNodePort = nodePortEvery > 0 && i % nodePortEvery === 0
    const affinity = affinityEvery > 0 && i % affinityEvery === 0
    services.push({
      metadata: { name, namespace },
      spec: {
        type: isNodePort ? 'NodePort' : 'ClusterIP',
        clusterIP,
        clusterIPs: [clusterIP],
        ipFamilies: ['IPv4'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, ...(isNodePort ? { nodePort: nodePort++ } : {}) }],
        ...(isNodePort ? { externalTrafficPolicy: 'Cluster' as const } : {}),
        ...(affinity ? { sessionAffinity: 'ClientIP' as const, sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } } : {}),
      },
    })
    const endpoints = []
    for (let k = 0; k < opts.endpointsPerService; k++) {
      endpoints.push({
        addresses: [ip4(10, (128 << 16) + ep++)],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: `n${(k % 4) + 1}`,
      })
    }
    endpointSlices.push({
      metadata: { name: `${name}-abc`, namespace, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints,
    })
  }
  const node: NodeObject = {
    metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }] },
  }
  return { services, endpointSlices, nodes: [node], config: { clusterCIDR: '10.128.0.0/9' }, skippedKinds: {} }
}

/** The objects as `kubectl get -o json` prints them (a List), for CLI end-to-end runs. */
export function toKubectlJSON(objects: LoadedObjects): string {
  const items: unknown[] = [
    ...objects.nodes.map((o) => ({ apiVersion: 'v1', kind: 'Node', ...o })),
    ...objects.services.map((o) => ({ apiVersion: 'v1', kind: 'Service', ...o })),
    ...objects.endpointSlices.map((o) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...o })),
  ]
  if (objects.config) items.push({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', ...objects.config })
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items })
}
