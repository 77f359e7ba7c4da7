/**
 * Test states for full syncs over an existing table: the apply scenario's states A and B
 * (test/apply-scenario.ts) plus, optionally, `sticky`, a ClientIP-affinity Service (10.96.0.20:80
 * → 8080 on both pods) whose affinity sets the packet path fills.
 */
import { type ProxyModel, buildModel, loadObjects } from '@kproxc/core'
import { POD1, POD2, scenarioYaml } from '../../../../test/apply-scenario.js'

export const STICKY_IP = '10.96.0.20'

/** The `sticky` Service and its EndpointSlice, with this affinity timeout. */
export function stickyYaml(timeoutSeconds: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: default}
spec:
  type: ClusterIP
  clusterIP: "${STICKY_IP}"
  clusterIPs: ["${STICKY_IP}"]
  ipFamilies: [IPv4]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: ${timeoutSeconds}}}
  ports:
    - {name: p, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sticky-x
  namespace: default
  labels: {kubernetes.io/service-name: sticky}
addressType: IPv4
ports:
  - {name: p, port: 8080, protocol: TCP}
endpoints:
  - addresses: ["${POD1}"]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: n1
  - addresses: ["${POD2}"]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: n2
---
`
}

/** State A or B of the apply scenario, with `sticky` at this timeout (null: without it). */
export function stickyModel(state: 'A' | 'B', timeoutSeconds: number | null): ProxyModel {
  const text = scenarioYaml(state) + (timeoutSeconds === null ? '' : stickyYaml(timeoutSeconds))
  return buildModel(loadObjects([{ name: `sticky-${state}.yaml`, text }]), { mode: 'nftables', nodeName: 'n1', families: ['IPv4'] })
}
