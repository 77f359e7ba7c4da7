import { describe, expect, it } from 'vitest'
import { modelFromTexts } from '../index.js'

const lb = (ranges: string[]) => `apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}, {type: InternalIP, address: "fd00::2"}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  ipFamilies: [IPv4, IPv6]
  externalTrafficPolicy: Cluster
  loadBalancerSourceRanges: ${JSON.stringify(ranges)}
  ports: [{port: 80, nodePort: 30080}]
status: {loadBalancer: {ingress: [{ip: 192.168.20.1}, {ip: "fd00:20::1"}]}}
`

describe('loadBalancerSourceRanges', () => {
  it('a zero-length prefix in a family means allow-all: no firewall in that family only', () => {
    const model = modelFromTexts([{ name: 'lb.yaml', text: lb(['10.0.0.0/8', '0.0.0.0/0', 'fd00::/8']) }])
    const [v4, v6] = model.families.map((f) => f.servicePorts[0]?.firewall)
    expect(v4).toEqual({ enabled: false, sourceRanges: [], allowLoadBalancerVIPsAsSource: false })
    expect(v6).toEqual({ enabled: true, sourceRanges: ['fd00::/8'], allowLoadBalancerVIPsAsSource: true })
  })

  it('ranges are trimmed, masked, de-duplicated and sorted numerically', () => {
    const model = modelFromTexts([{ name: 'lb.yaml', text: lb([' 192.168.0.7/24', '10.0.0.0/8', '192.168.0.0/24', '9.0.0.0/8']) }])
    expect(model.families[0]?.servicePorts[0]?.loadBalancerSourceRanges).toEqual(['9.0.0.0/8', '10.0.0.0/8', '192.168.0.0/24'])
    expect(model.families[0]?.servicePorts[0]?.firewall.allowLoadBalancerVIPsAsSource).toBe(true)
  })
})
