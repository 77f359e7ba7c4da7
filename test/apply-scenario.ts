/**
 * The cluster states the apply kernel tests move a node between, and the foreign rules that must
 * survive every apply. State A: `web` (TCP 80 → 8080, NodePort 30080, two endpoints), `dns` (UDP 53 →
 * 5353, two endpoints) and `gone` (TCP 80). State B: `gone` deleted, endpoint 10.244.2.5 removed
 * from `web` and `dns`, `web`'s port renumbered 80 → 81, and `web` switched to externalTrafficPolicy
 * Local. Node n1 (192.168.0.2), pods 10.244.1.5 (on n1) and 10.244.2.5 (on n2), clusterCIDR 10.244.0.0/16.
 */
import { type ProxyMode, type ProxyModel, buildModel, loadObjects } from '@kproxc/core'
import type { Lab } from './lab.js'

export const NODE_IP = '192.168.0.2'
export const POD1 = '10.244.1.5'
export const POD2 = '10.244.2.5'
export const CLIENT = '10.0.0.9'

function endpoint(ip: string, node: string): string {
  return `  - addresses: ["${ip}"]\n    conditions: {ready: true, serving: true, terminating: false}\n    nodeName: ${node}\n`
}

function service(name: string, ip: string, port: number, target: number, proto: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  type: ${extra ? 'NodePort' : 'ClusterIP'}
  clusterIP: "${ip}"
  clusterIPs: ["${ip}"]
  ipFamilies: [IPv4]
  ports:
    - name: p
      port: ${port}
      targetPort: ${target}
      protocol: ${proto}
${extra}---
`
}

function slice(svc: string, target: number, proto: string, ips: readonly (readonly [string, string])[]): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${svc}-x
  namespace: default
  labels: {kubernetes.io/service-name: ${svc}}
addressType: IPv4
ports:
  - {name: p, port: ${target}, protocol: ${proto}}
endpoints:
${ips.map(([ip, node]) => endpoint(ip, node)).join('')}---
`
}

const HEADER = `apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/hostname: n1}
status:
  addresses:
    - {type: InternalIP, address: "${NODE_IP}"}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 10.244.0.0/16
---
`

/** The YAML of one state. */
export function scenarioYaml(state: 'A' | 'B'): string {
  const both = [[POD1, 'n1'], [POD2, 'n2']] as const
  const one = [[POD1, 'n1']] as const
  if (state === 'A') {
    return HEADER +
      service('web', '10.96.0.10', 80, 8080, 'TCP', '      nodePort: 30080\n  externalTrafficPolicy: Cluster\n') + slice('web', 8080, 'TCP', both) +
      service('dns', '10.96.0.53', 53, 5353, 'UDP') + slice('dns', 5353, 'UDP', both) +
      service('gone', '10.96.0.99', 80, 8080, 'TCP') + slice('gone', 8080, 'TCP', [[POD2, 'n2']])
  }
  return HEADER +
    service('web', '10.96.0.10', 81, 8080, 'TCP', '      nodePort: 30080\n  externalTrafficPolicy: Local\n') + slice('web', 8080, 'TCP', one) +
    service('dns', '10.96.0.53', 53, 5353, 'UDP') + slice('dns', 5353, 'UDP', one)
}

/** The model of one state for one mode, IPv4. */
export function scenarioModel(state: 'A' | 'B', mode: ProxyMode): ProxyModel {
  return buildModel(loadObjects([{ name: `state-${state}.yaml`, text: scenarioYaml(state) }]), { mode, nodeName: 'n1', families: ['IPv4'] })
}

/** Rules and tables of other programs (a CNI, Docker, a firewall) that every apply must leave alone. */
/** The scenario's client and two pods in the lab, each pod serving TCP 8080 and UDP 5353. */
export async function addScenarioPods(lab: Lab): Promise<void> {
  await lab.addHost('client', { ipv4: CLIENT })
  await lab.addHost('pod1', { ipv4: POD1 })
  await lab.addHost('pod2', { ipv4: POD2 })
  await lab.serve('pod1', 'pod1', { tcp: [8080], udp: [5353] })
  await lab.serve('pod2', 'pod2', { tcp: [8080], udp: [5353] })
}

export async function addForeignRules(lab: Lab, nft: boolean): Promise<void> {
  const ipt = (...a: string[]) => lab.execOk('node', ['iptables', '-w', ...a])
  await ipt('-t', 'nat', '-N', 'FOREIGN-NAT')
  await ipt('-t', 'nat', '-A', 'FOREIGN-NAT', '-p', 'tcp', '--dport', '9999', '-j', 'RETURN')
  await ipt('-t', 'nat', '-A', 'PREROUTING', '-j', 'FOREIGN-NAT')
  await ipt('-t', 'nat', '-A', 'POSTROUTING', '-s', '10.99.0.0/16', '-j', 'MASQUERADE')
  await ipt('-N', 'FOREIGN-FILTER')
  await ipt('-A', 'FOREIGN-FILTER', '-s', '10.99.0.0/16', '-j', 'DROP')
  await ipt('-A', 'INPUT', '-j', 'FOREIGN-FILTER')
  await ipt('-A', 'FORWARD', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT')
  if (nft) {
    await lab.execOk('node', ['nft', '-f', '-'], 'table inet foreign {\n  chain input {\n    type filter hook input priority 10; policy accept;\n    tcp dport 9999 counter accept\n  }\n}\n')
  }
}

/** The rules of a save, without its timestamps and counters (what "the same kernel state" compares). */
export function normalizeSave(text: string): string {
  return text.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]')).join('\n')
}

/** The foreign rules as the kernel prints them, to check they are all still there. */
export const FOREIGN_LINES = [
  '-A FOREIGN-NAT -p tcp -m tcp --dport 9999 -j RETURN',
  '-A PREROUTING -j FOREIGN-NAT',
  '-A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE',
  '-A FOREIGN-FILTER -s 10.99.0.0/16 -j DROP',
  '-A INPUT -j FOREIGN-FILTER',
  '-A FORWARD -p udp -m udp --dport 9 -j ACCEPT',
]
