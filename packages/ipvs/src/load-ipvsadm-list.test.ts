import { describe, expect, it } from 'vitest'
import { liveKey, loadIpvsadmList } from './load-ipvsadm-list.js'

// As ipvsadm 1.31 prints `-L -n` (print_title, print_service_entry).
const LISTING = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.10:80 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      3          12
  -> 10.244.2.5:8080              Masq    0      0          1
UDP  10.96.0.53:53 rr
  -> 10.244.2.5:5353              Masq    1      0          7
FWM  5 wlc
  -> 10.0.0.9:80                  Route   1      4          0
SCTP  [fd00::1]:9000 mh mh-port
  -> [fd00:10:244::5]:9000        Masq    1      2          0
TCP  10.96.0.99:80 rr
`

describe('loadIpvsadmList', () => {
  it('reads weight and ActiveConn + InActConn per real server, skipping firewall-mark services', () => {
    const live = loadIpvsadmList(LISTING)
    expect(live.get(liveKey('TCP', '10.96.0.10:80', '10.244.1.5:8080'))).toEqual({ weight: 1, connections: 15 })
    expect(live.get(liveKey('TCP', '10.96.0.10:80', '10.244.2.5:8080'))).toEqual({ weight: 0, connections: 1 })
    expect(live.get(liveKey('UDP', '10.96.0.53:53', '10.244.2.5:5353'))).toEqual({ weight: 1, connections: 7 })
    expect(live.get(liveKey('SCTP', '[fd00::1]:9000', '[fd00:10:244::5]:9000'))).toEqual({ weight: 1, connections: 2 })
    expect(live.size).toBe(4)
    expect(loadIpvsadmList('')).toEqual(new Map())
  })

  it('refuses what it cannot read rather than guessing a count', () => {
    expect(() => loadIpvsadmList('  -> 10.244.1.5:8080 Masq 1 0 0\n')).toThrow(/line 1 .*before any virtual server/)
    expect(() => loadIpvsadmList('TCP  10.96.0.10:80 rr\n  -> 10.244.1.5:8080 Masq 1 many 0\n')).toThrow(/line 2 .*not a line of ipvsadm -L -n/)
    expect(() => loadIpvsadmList('ICMP 10.96.0.10:80 rr\n')).toThrow(/line 1 .*not a line of ipvsadm -L -n/)
  })
})
