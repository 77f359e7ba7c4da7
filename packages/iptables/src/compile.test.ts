import { KproxcError, type ProxyModel, modelFromTexts } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { compileRuleset, createFragmentCache } from './compile.js'
import { DEFAULT_OPTIONS, type IptablesOptions } from './options.js'
import { renderRuleset } from './render.js'

const NODE = `
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}]}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 10.244.0.0/16
`

function model(yaml: string, family: 'IPv4' | 'IPv6' = 'IPv4'): ProxyModel {
  return modelFromTexts([{ name: 'test.yaml', text: yaml }], { mode: 'iptables', families: [family] })
}

function emit(yaml: string, options: Partial<IptablesOptions> = {}, family: 'IPv4' | 'IPv6' = 'IPv4'): string {
  return renderRuleset(compileRuleset(model(yaml, family), family, { ...DEFAULT_OPTIONS, builtinJumps: false, ...options }))
}

const slice = (svc: string, port: string, eps: [string, string][], portNumber = 8080, name = 'a') => `
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}-${name}, namespace: demo, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: [{${port ? `name: ${port}, ` : ''}port: ${portNumber}, protocol: TCP}]
endpoints:
${eps.map(([ip, node]) => `- {addresses: [${ip}], nodeName: ${node}}`).join('\n')}
`

// iptables.md §13 A: the reference's worked example, in raw kube-proxy order with real defaults.
const EXAMPLE_A = `${NODE}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.50
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
  loadBalancerSourceRanges: [198.51.100.0/24]
  sessionAffinity: ClientIP
status: {loadBalancer: {ingress: [{ip: 203.0.113.10}]}}
${slice('web', 'http', [['10.244.1.5', 'n1'], ['10.244.2.7', 'n2'], ['10.244.3.9', 'n3']])}`

describe('compile + render: the reference worked examples (iptables.md §13)', () => {
  it('A: LoadBalancer, eTP Cluster, source ranges, ClientIP affinity', () => {
    expect(emit(EXAMPLE_A)).toBe(`*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-PROXY-FIREWALL -m comment --comment "demo/web:http traffic not accepted by KUBE-FW-XRY76EGRC3BSCIIJ" -m tcp -p tcp -d 203.0.113.10 --dport 80 -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-EXT-XRY76EGRC3BSCIIJ - [0:0]
:KUBE-FW-XRY76EGRC3BSCIIJ - [0:0]
:KUBE-SVC-XRY76EGRC3BSCIIJ - [0:0]
:KUBE-SEP-NW5VICAF3Z2QABHQ - [0:0]
:KUBE-SEP-JPICTQTYOLMYNIJ7 - [0:0]
:KUBE-SEP-TM2VPOKZEKKWUXN5 - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "demo/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50 --dport 80 -j KUBE-SVC-XRY76EGRC3BSCIIJ
-A KUBE-SERVICES -m comment --comment "demo/web:http loadbalancer IP" -m tcp -p tcp -d 203.0.113.10 --dport 80 -j KUBE-FW-XRY76EGRC3BSCIIJ
-A KUBE-NODEPORTS -m comment --comment demo/web:http -m tcp -p tcp -d 127.0.0.0/8 --dport 30080 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-XRY76EGRC3BSCIIJ
-A KUBE-NODEPORTS -m comment --comment demo/web:http -m tcp -p tcp --dport 30080 -j KUBE-EXT-XRY76EGRC3BSCIIJ
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-EXT-XRY76EGRC3BSCIIJ -m comment --comment "masquerade traffic for demo/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-XRY76EGRC3BSCIIJ -j KUBE-SVC-XRY76EGRC3BSCIIJ
-A KUBE-FW-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http loadbalancer IP" -s 198.51.100.0/24 -j KUBE-EXT-XRY76EGRC3BSCIIJ
-A KUBE-FW-XRY76EGRC3BSCIIJ -m comment --comment "other traffic to demo/web:http will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.1.5:8080" -m recent --name KUBE-SEP-NW5VICAF3Z2QABHQ --rcheck --seconds 10800 --reap -j KUBE-SEP-NW5VICAF3Z2QABHQ
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.2.7:8080" -m recent --name KUBE-SEP-JPICTQTYOLMYNIJ7 --rcheck --seconds 10800 --reap -j KUBE-SEP-JPICTQTYOLMYNIJ7
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.3.9:8080" -m recent --name KUBE-SEP-TM2VPOKZEKKWUXN5 --rcheck --seconds 10800 --reap -j KUBE-SEP-TM2VPOKZEKKWUXN5
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-NW5VICAF3Z2QABHQ
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.2.7:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-JPICTQTYOLMYNIJ7
-A KUBE-SVC-XRY76EGRC3BSCIIJ -m comment --comment "demo/web:http -> 10.244.3.9:8080" -j KUBE-SEP-TM2VPOKZEKKWUXN5
-A KUBE-SEP-NW5VICAF3Z2QABHQ -m comment --comment demo/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-NW5VICAF3Z2QABHQ -m comment --comment demo/web:http -m recent --name KUBE-SEP-NW5VICAF3Z2QABHQ --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-JPICTQTYOLMYNIJ7 -m comment --comment demo/web:http -s 10.244.2.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-JPICTQTYOLMYNIJ7 -m comment --comment demo/web:http -m recent --name KUBE-SEP-JPICTQTYOLMYNIJ7 --set -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:8080
-A KUBE-SEP-TM2VPOKZEKKWUXN5 -m comment --comment demo/web:http -s 10.244.3.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-TM2VPOKZEKKWUXN5 -m comment --comment demo/web:http -m recent --name KUBE-SEP-TM2VPOKZEKKWUXN5 --set -m tcp -p tcp -j DNAT --to-destination 10.244.3.9:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
`)
  })

  const exampleB = (endpointNode: string) => `${NODE}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.60
  ports: [{port: 443, targetPort: 8443, nodePort: 30443}]
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
status: {loadBalancer: {ingress: [{ip: 203.0.113.20}]}}
${slice('api', '', [['10.244.1.6', endpointNode], ['10.244.2.8', 'n2']], 8443)}`

  it('B: LoadBalancer, eTP Local, unnamed port, health check node port', () => {
    const text = emit(exampleB('n1'))
    const nat = text.slice(text.indexOf('*nat'))
    expect(nat).toContain(`:KUBE-EXT-SXTQ4CE67PWVDQLA - [0:0]
:KUBE-SVC-SXTQ4CE67PWVDQLA - [0:0]
:KUBE-SVL-SXTQ4CE67PWVDQLA - [0:0]
:KUBE-SEP-MFI3A27XINF22XS6 - [0:0]
:KUBE-SEP-FAA4ZJGJBBOF3GKT - [0:0]
`)
    expect(nat).toContain(`-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "demo/api cluster IP" -m tcp -p tcp -d 10.96.0.60 --dport 443 -j KUBE-SVC-SXTQ4CE67PWVDQLA
-A KUBE-SERVICES -m comment --comment "demo/api loadbalancer IP" -m tcp -p tcp -d 203.0.113.20 --dport 443 -j KUBE-EXT-SXTQ4CE67PWVDQLA
-A KUBE-NODEPORTS -m comment --comment demo/api -m tcp -p tcp -d 127.0.0.0/8 --dport 30443 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-SXTQ4CE67PWVDQLA
-A KUBE-NODEPORTS -m comment --comment demo/api -m tcp -p tcp --dport 30443 -j KUBE-EXT-SXTQ4CE67PWVDQLA
-A KUBE-SVC-SXTQ4CE67PWVDQLA -m comment --comment "demo/api cluster IP" -m tcp -p tcp -d 10.96.0.60 --dport 443 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-EXT-SXTQ4CE67PWVDQLA -m comment --comment "pod traffic for demo/api external destinations" -s 10.244.0.0/16 -j KUBE-SVC-SXTQ4CE67PWVDQLA
-A KUBE-EXT-SXTQ4CE67PWVDQLA -m comment --comment "masquerade LOCAL traffic for demo/api external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-SXTQ4CE67PWVDQLA -m comment --comment "route LOCAL traffic for demo/api external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-SXTQ4CE67PWVDQLA
-A KUBE-EXT-SXTQ4CE67PWVDQLA -j KUBE-SVL-SXTQ4CE67PWVDQLA
-A KUBE-SVC-SXTQ4CE67PWVDQLA -m comment --comment "demo/api -> 10.244.1.6:8443" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-MFI3A27XINF22XS6
-A KUBE-SVC-SXTQ4CE67PWVDQLA -m comment --comment "demo/api -> 10.244.2.8:8443" -j KUBE-SEP-FAA4ZJGJBBOF3GKT
-A KUBE-SVL-SXTQ4CE67PWVDQLA -m comment --comment "demo/api -> 10.244.1.6:8443" -j KUBE-SEP-MFI3A27XINF22XS6
-A KUBE-SEP-MFI3A27XINF22XS6 -m comment --comment demo/api -s 10.244.1.6 -j KUBE-MARK-MASQ
-A KUBE-SEP-MFI3A27XINF22XS6 -m comment --comment demo/api -m tcp -p tcp -j DNAT --to-destination 10.244.1.6:8443
-A KUBE-SEP-FAA4ZJGJBBOF3GKT -m comment --comment demo/api -s 10.244.2.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-FAA4ZJGJBBOF3GKT -m comment --comment demo/api -m tcp -p tcp -j DNAT --to-destination 10.244.2.8:8443
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
`)
    expect(text).toContain('-A KUBE-NODEPORTS -m comment --comment "demo/api health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT\n')
    expect(text).not.toContain('KUBE-EXTERNAL-SERVICES -m')
  })

  it('B without a local endpoint: no SVL, no final EXT jump, DROP in KUBE-EXTERNAL-SERVICES', () => {
    const text = emit(exampleB('n3'))
    expect(text).not.toContain('KUBE-SVL-')
    expect(text).not.toContain('-A KUBE-EXT-SXTQ4CE67PWVDQLA -j ')
    expect(text).toContain(`-A KUBE-EXTERNAL-SERVICES -m comment --comment "demo/api has no local endpoints" -m tcp -p tcp -d 203.0.113.20 --dport 443 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "demo/api has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30443 -j DROP
`)
    // The health check port is accepted whether or not there are local endpoints.
    expect(text).toContain('"demo/api health check node port"')
  })
})

describe('compiles through a FragmentCache', () => {
  const objects = () => modelFromTexts([{ name: 'a.yaml', text: EXAMPLE_A }], { mode: 'iptables', families: ['IPv4'] })

  it('still reject bad values when only family-level values or only one port changed, and leave the cache usable', () => {
    const good = objects()
    const cache = createFragmentCache()
    const text = renderRuleset(compileRuleset(good, 'IPv4', DEFAULT_OPTIONS, cache))
    const badMark: ProxyModel = { ...good, config: { ...good.config, masqueradeBit: 40 } }
    expect(() => compileRuleset(badMark, 'IPv4', DEFAULT_OPTIONS, cache)).toThrow(KproxcError)
    const fam = good.families[0]!
    const badPort: ProxyModel = { ...good, families: [{ ...fam, servicePorts: fam.servicePorts.map((p) => ({ ...p, clusterIP: '10.96.0.050' })) }] }
    expect(() => compileRuleset(badPort, 'IPv4', DEFAULT_OPTIONS, cache)).toThrow(/clusterIP/)
    // The same model again after the failures: nothing of them was kept.
    expect(renderRuleset(compileRuleset(good, 'IPv4', DEFAULT_OPTIONS, cache))).toBe(text)
    expect(() => compileRuleset(badMark, 'IPv4', DEFAULT_OPTIONS, cache)).toThrow(KproxcError)
  })

  it('see a port list edited in place', () => {
    const model = objects()
    const cache = createFragmentCache()
    compileRuleset(model, 'IPv4', DEFAULT_OPTIONS, cache)
    const ports = model.families[0]!.servicePorts
    ports[0] = { ...ports[0]!, clusterIP: '10.96.0.51' }
    expect(renderRuleset(compileRuleset(model, 'IPv4', DEFAULT_OPTIONS, cache))).toContain('-d 10.96.0.51 --dport 80')
  })
})
