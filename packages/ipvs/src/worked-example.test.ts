import { describe, expect, it } from 'vitest'
import { WORKED_HOSTS, filesOf, fixtureText, lines, modelOf } from './__fixtures__/model.js'

// Expected texts are the worked examples of reference ipvs.md (§2.5, §4.3, §5.5), with one correction:
// kube-proxy prints the mark with Go's %#08x, which is 0x00004000 (the reference wrote 0x004000).
const model = modelOf(fixtureText('worked-example.yaml'), { families: ['IPv4'], hostAddresses: WORKED_HOSTS })
const files = filesOf(model, 'IPv4', { builtinJumps: false })

const IPVSADM = `
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 192.168.1.2:6443 -m -w 1
-A -t 10.96.0.10:53 -s rr
-a -t 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1
-a -t 10.96.0.10:53 -r 10.244.2.7:53 -m -w 1
-A -u 10.96.0.10:53 -s rr
-a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1
-a -u 10.96.0.10:53 -r 10.244.2.7:53 -m -w 1
-A -t 10.96.100.10:80 -s rr -p 10800
-a -t 10.96.100.10:80 -r 10.244.1.8:8080 -m -w 1
-A -t 192.0.2.60:80 -s rr -p 10800
-a -t 192.0.2.60:80 -r 10.244.1.8:8080 -m -w 1
-A -t 192.168.1.10:30080 -s rr -p 10800
-a -t 192.168.1.10:30080 -r 10.244.1.8:8080 -m -w 1
-A -t 10.244.1.1:30080 -s rr -p 10800
-a -t 10.244.1.1:30080 -r 10.244.1.8:8080 -m -w 1
-A -t 10.96.200.20:443 -s rr
-a -t 10.96.200.20:443 -r 10.244.1.9:8443 -m -w 1
-a -t 10.96.200.20:443 -r 10.244.2.10:8443 -m -w 1
-A -t 192.0.2.50:443 -s rr
-a -t 192.0.2.50:443 -r 10.244.1.9:8443 -m -w 1
-A -t 203.0.113.10:443 -s rr
-a -t 203.0.113.10:443 -r 10.244.1.9:8443 -m -w 1
-A -t 192.168.1.10:31443 -s rr
-a -t 192.168.1.10:31443 -r 10.244.1.9:8443 -m -w 1
-A -t 10.244.1.1:31443 -s rr
-a -t 10.244.1.1:31443 -r 10.244.1.9:8443 -m -w 1
-A --sctp-service 10.96.50.5:3868 -s rr
-a --sctp-service 10.96.50.5:3868 -r 10.244.1.11:3868 -m -w 1
-A --sctp-service 192.168.1.10:30868 -s rr
-a --sctp-service 192.168.1.10:30868 -r 10.244.1.11:3868 -m -w 1
-A --sctp-service 10.244.1.1:30868 -s rr
-a --sctp-service 10.244.1.1:30868 -r 10.244.1.11:3868 -m -w 1
`

const IPSET_MEMBERS = `
add KUBE-LOOP-BACK 10.244.1.5,udp:53,10.244.1.5
add KUBE-LOOP-BACK 10.244.1.5,tcp:53,10.244.1.5
add KUBE-LOOP-BACK 10.244.1.8,tcp:8080,10.244.1.8
add KUBE-LOOP-BACK 10.244.1.9,tcp:8443,10.244.1.9
add KUBE-LOOP-BACK 10.244.1.11,sctp:3868,10.244.1.11
add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
add KUBE-CLUSTER-IP 10.96.0.10,tcp:53
add KUBE-CLUSTER-IP 10.96.100.10,tcp:80
add KUBE-CLUSTER-IP 10.96.200.20,tcp:443
add KUBE-CLUSTER-IP 10.96.50.5,sctp:3868
add KUBE-EXTERNAL-IP 192.0.2.60,tcp:80
add KUBE-EXTERNAL-IP-LOCAL 192.0.2.50,tcp:443
add KUBE-LOAD-BALANCER 203.0.113.10,tcp:443
add KUBE-LOAD-BALANCER-FW 203.0.113.10,tcp:443
add KUBE-LOAD-BALANCER-LOCAL 203.0.113.10,tcp:443
add KUBE-LOAD-BALANCER-SOURCE-CIDR 203.0.113.10,tcp:443,198.51.100.0/24
add KUBE-NODE-PORT-TCP 30080
add KUBE-NODE-PORT-TCP 31443
add KUBE-NODE-PORT-LOCAL-TCP 31443
add KUBE-NODE-PORT-SCTP-HASH 192.168.1.10,sctp:30868
add KUBE-NODE-PORT-SCTP-HASH 10.244.1.1,sctp:30868
add KUBE-HEALTH-CHECK-NODE-PORT 32000
add KUBE-IPVS-IPS 10.96.0.1
add KUBE-IPVS-IPS 10.96.0.10
add KUBE-IPVS-IPS 10.96.100.10
add KUBE-IPVS-IPS 10.96.200.20
add KUBE-IPVS-IPS 10.96.50.5
add KUBE-IPVS-IPS 192.0.2.50
add KUBE-IPVS-IPS 192.0.2.60
add KUBE-IPVS-IPS 203.0.113.10
`

const IPTABLES = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN
-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE
-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER
-A KUBE-LOAD-BALANCER -m comment --comment "Kubernetes service load balancer ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN
-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN
-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ
-A KUBE-NODE-PORT -p sctp -m comment --comment "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT
-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -m addrtype --dst-type LOCAL -j ACCEPT
-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT
-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -m addrtype --dst-type LOCAL -j ACCEPT
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SOURCE-RANGES-FIREWALL - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
-A KUBE-PROXY-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port for load balancer with sourceRange" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL
-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port + source cidr for packet filter purpose" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN
-A KUBE-SOURCE-RANGES-FIREWALL -j DROP
-A KUBE-IPVS-OUT-FILTER -s 203.0.113.10 -m ipvs --vaddr 203.0.113.10 --vproto tcp --vport 443 -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT
-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN
-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT
COMMIT
`

describe('the reference worked example (ipvs.md §2.5, §4.3, §5.5)', () => {
  it('has the same virtual and real servers (compared as sets: ipvsadm -S order is not numeric)', () => {
    expect(new Set(lines(files['ipvsadm.rules']))).toEqual(new Set(lines(IPVSADM)))
    expect(lines(files['ipvsadm.rules'])).toHaveLength(lines(IPVSADM).length)
  })

  it('creates all seventeen sets and fills them as the reference does', () => {
    const text = files['ipset.rules'] ?? ''
    expect(lines(text).filter((l) => l.startsWith('create '))).toHaveLength(17)
    expect(new Set(lines(text).filter((l) => l.startsWith('add ')))).toEqual(new Set(lines(IPSET_MEMBERS)))
  })

  it('writes the reference iptables document exactly', () => {
    expect(files['iptables.rules']).toBe(IPTABLES)
  })

  it('appends the built-in jumps of reference §5.1 by default, after the iptables writer\'s header', () => {
    const text = filesOf(model)['iptables.rules'] ?? ''
    const jumps = lines(text).filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING|INPUT|FORWARD) /.test(l))
    expect(jumps).toEqual([
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
      '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
      '-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
    ])
    // Without the jumps the document is exactly kube-proxy's restore text.
    expect(text.replace(/^# Jumps from built-in chains.*\n(-A [A-Z]+ .*\n)*/gm, '')).toBe(IPTABLES)
  })

  it('binds ClusterIPs, external IPs and LB VIPs to kube-ipvs0', () => {
    expect(lines(files['kube-ipvs0.addresses'])).toEqual([
      '10.96.0.1', '10.96.0.10', '10.96.50.5', '10.96.100.10', '10.96.200.20', '192.0.2.50', '192.0.2.60', '203.0.113.10',
    ])
  })

  it('sets the default sysctls', () => {
    expect(lines(files['sysctl.conf']).filter((l) => !l.startsWith('#'))).toEqual([
      'net.ipv4.vs.conntrack = 1',
      'net.ipv4.vs.expire_nodest_conn = 1',
      'net.ipv4.vs.expire_quiescent_template = 1',
      'net.ipv4.ip_forward = 1',
    ])
  })
})
