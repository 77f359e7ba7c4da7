import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { scenarioModel } from '../../../test/apply-scenario.js'
import { parseDeviceAddresses, parseIpsetSave, planAddresses, planIpsets, planIpvsDelta, planIpvsadm, planSysctls } from './apply-plan.js'
import { compileIpvs } from './compile.js'
import { loadIpvsadmRules } from './load-ipvsadm.js'
import { liveKey } from './load-ipvsadm-list.js'
import { renderIpset } from './render-ipset.js'
import { renderIpvsadm } from './render-ipvsadm.js'

const ir = (state: 'A' | 'B') => compileIpvs(scenarioModel(state, 'ipvs'), { family: 'IPv4' })

describe('planIpvsadm', () => {
  it('adds everything to an empty table and nothing to a table that already matches', () => {
    const a = ir('A')
    const fresh = planIpvsadm(a, { timeouts: null, services: [] })
    expect(fresh.before.join('\n') + '\n').toBe(renderIpvsadm(a))
    expect(fresh.after).toEqual([])
    const same = planIpvsadm(a, loadIpvsadmRules(renderIpvsadm(a)))
    expect([...same.before, ...same.after]).toEqual([])
  })

  it('edits, deletes real servers of kept services before, and stale services after the rules move', () => {
    const current = loadIpvsadmRules(renderIpvsadm(ir('A')).replace('-A -t 10.96.0.10:80 -s rr', '-A -t 10.96.0.10:80 -s wlc') +
      '-A -t 10.96.0.10:81 -s sh\n-a -t 10.96.0.10:81 -r 10.244.1.5:8080 -m -w 0\n-a -t 10.96.0.10:81 -r 10.244.9.9:8080 -g -w 1\n' +
      '-A -t [fd00::1]:80 -s rr\n')
    const plan = planIpvsadm(ir('B'), current)
    expect(plan.before).toContain('-E -t 10.96.0.10:81 -s rr')
    expect(plan.before).toContain('-e -t 10.96.0.10:81 -r 10.244.1.5:8080 -m -w 1')
    expect(plan.before).toContain('-d -t 10.96.0.10:81 -r 10.244.9.9:8080')
    expect(plan.before).toContain('-d -u 10.96.0.53:53 -r 10.244.2.5:5353')
    expect(plan.after).toContain('-D -t 10.96.0.10:80')
    expect(plan.after).toContain('-D -t 10.96.0.99:80')
    // The other family's virtual servers are another run's business.
    expect(plan.after.join('\n')).not.toContain('fd00::1')
    expect([...plan.before, ...plan.after].some((l) => l.startsWith('-C'))).toBe(false)
  })

  describe('graceful termination of removed real servers (kube-proxy graceful_termination.go)', () => {
    const current = () => loadIpvsadmRules(renderIpvsadm(ir('A')))
    const NODEPORT = ['192.168.0.2:30080', '10.244.2.5:8080'] as const
    const live = (entries: [proto: 'TCP' | 'UDP' | 'SCTP', vs: string, rs: string, weight: number, connections: number][]) =>
      new Map(entries.map(([p, vs, rs, weight, connections]) => [liveKey(p, vs, rs), { weight, connections }]))

    it('drains a TCP real server with connections at weight 0 and keeps it; deletes idle ones and UDP ones at once', () => {
      const plan = planIpvsadm(ir('B'), current(), [], live([['TCP', ...NODEPORT, 1, 3], ['UDP', '10.96.0.53:53', '10.244.2.5:5353', 1, 9]]))
      expect(plan.before).toContain('-e -t 192.168.0.2:30080 -r 10.244.2.5:8080 -m -w 0')
      expect(plan.before.join('\n')).not.toMatch(/^-d -t 192\.168\.0\.2:30080/m)
      expect(plan.before).toContain('-d -u 10.96.0.53:53 -r 10.244.2.5:5353')
      expect(plan.counts).toMatchObject({ realDraining: 1, realDeleted: 1 })
      // A virtual server nobody wants goes whole, connections or not (kube-proxy cleanLegacyService).
      const gone = planIpvsadm(ir('B'), current(), [], live([['TCP', '10.96.0.99:80', '10.244.2.5:8080', 1, 5]]))
      expect(gone.after).toContain('-D -t 10.96.0.99:80')
      const idle = planIpvsadm(ir('B'), current(), [], live([['TCP', ...NODEPORT, 1, 0]]))
      expect(idle.before).toContain('-d -t 192.168.0.2:30080 -r 10.244.2.5:8080')
      expect(idle.counts.realDraining).toBe(0)
    })

    it('leaves a draining real server alone while it has connections, deletes it once idle, restores it when wanted again', () => {
      const draining = loadIpvsadmRules(renderIpvsadm(ir('A')).replace(/(-a -t 192\.168\.0\.2:30080 -r 10\.244\.2\.5:8080 -m -w )1/, '$10'))
      expect(draining.services.find((v) => v.port === 30080)?.realServers.map((r) => r.weight)).toEqual([1, 0])
      const busy = planIpvsadm(ir('B'), draining, [], live([['TCP', ...NODEPORT, 0, 2]]))
      expect(busy.before.filter((l) => l.includes('192.168.0.2:30080'))).toEqual([])
      expect(busy.counts.realDraining).toBe(1)
      const idle = planIpvsadm(ir('B'), draining, [], live([['TCP', ...NODEPORT, 0, 0]]))
      expect(idle.before).toContain('-d -t 192.168.0.2:30080 -r 10.244.2.5:8080')
      const back = planIpvsadm(ir('A'), draining, [], live([['TCP', ...NODEPORT, 0, 2]]))
      expect(back.before).toContain('-e -t 192.168.0.2:30080 -r 10.244.2.5:8080 -m -w 1')
      expect(back.counts.realDraining).toBe(0)
    })

    it('drains SCTP nowhere: kube-proxy deletes UDP and SCTP real servers at once', () => {
      const sctp = loadIpvsadmRules('-A --sctp-service 10.96.0.7:9 -s rr\n-a --sctp-service 10.96.0.7:9 -r 10.244.2.5:9 -m -w 1\n')
      const vs = { ...ir('B'), virtualServers: [{ ...ir('B').virtualServers[0]!, protocol: 'SCTP' as const, address: '10.96.0.7', port: 9, realServers: [] }] }
      const plan = planIpvsadm(vs, sctp, [], live([['SCTP', '10.96.0.7:9', '10.244.2.5:9', 1, 4]]))
      expect(plan.before).toContain('-d --sctp-service 10.96.0.7:9 -r 10.244.2.5:9')
    })
  })

  it('leaves virtual servers inside ipvs.excludeCIDRs alone', () => {
    const current = loadIpvsadmRules('-A -t 10.200.0.1:80 -s rr\n-A -t 10.201.0.1:80 -s rr\n')
    expect(planIpvsadm(ir('B'), current, ['10.200.0.0/16']).after).toEqual(['-D -t 10.201.0.1:80'])
  })

  it('property: replanning against what the plan produced is empty', () => {
    fc.assert(
      fc.property(arbCluster({ maxServices: 5 }), (c) => {
        const model = buildModel(c.objects, { mode: 'ipvs', nodeName: c.nodeName, families: ['IPv4'] })
        const x = compileIpvs(model, { family: 'IPv4' })
        const again = planIpvsadm(x, loadIpvsadmRules(renderIpvsadm(x).replace(/^--set.*\n/m, '')))
        expect(again.after).toEqual([])
        expect(again.before.filter((l) => !l.startsWith('--set'))).toEqual([])
      }),
      { numRuns: 40, seed: 8 },
    )
  })
})

describe('planIpsets', () => {
  const save = (text: string) => parseIpsetSave(text)
  it('creates missing sets, leaves equal ones alone (ipset prints /32 nets bare), swaps changed ones through a temporary set', () => {
    const a = ir('A')
    const fresh = planIpsets(a.ipsets, new Map(), 'IPv4')
    expect(fresh.created).toHaveLength(17)
    expect(fresh.restore).not.toMatch(/swap/)
    // What ipset save prints after a load of the full file.
    const printed = renderIpset(a).split('\n').filter((l) => !l.startsWith('flush')).map((l) => l.replace(/ -exist$/, '')).join('\n')
    expect(planIpsets(a.ipsets, save(printed), 'IPv4').restore).toBe('')
    const b = planIpsets(ir('B').ipsets, save(printed), 'IPv4')
    expect(b.swapped).toContain('KUBE-CLUSTER-IP')
    expect(b.restore).toMatch(/^create KPROXC-TMP-4-1 hash:ip,port family inet hashsize 1024 maxelem 65536 -exist\nflush KPROXC-TMP-4-1\n(add KPROXC-TMP-4-1 .*\n)+swap KPROXC-TMP-4-1 KUBE-CLUSTER-IP\ndestroy KPROXC-TMP-4-1\n/m)
    expect(b.restore).not.toMatch(/^add KUBE-CLUSTER-IP/m)
  })
})

describe('addresses and sysctls', () => {
  it('adds with replace, removes only unwanted addresses of this family', () => {
    const text = '7: kube-ipvs0    inet 10.96.0.99/32 scope global kube-ipvs0\\       valid_lft forever\n7: kube-ipvs0    inet6 fd00::99/128 scope global \\       valid_lft forever\n7: kube-ipvs0    inet 10.96.0.10/32 scope global kube-ipvs0\n'
    const current = parseDeviceAddresses(text, 'IPv4')
    expect(current).toEqual(['10.96.0.99', '10.96.0.10'])
    expect(parseDeviceAddresses(text, 'IPv6')).toEqual(['fd00::99'])
    expect(planAddresses(['10.96.0.10', '10.96.0.53'], current)).toEqual({
      add: ['addr replace 10.96.0.53/32 dev kube-ipvs0'],
      remove: ['addr del 10.96.0.99/32 dev kube-ipvs0'],
    })
  })

  it('sets only the sysctls that differ', () => {
    const s = ir('A').sysctls
    const current = new Map(s.map((x) => [x.key, String(x.value)]))
    expect(planSysctls(s, current)).toEqual([])
    current.set('net/ipv4/vs/conntrack', '0')
    expect(planSysctls(s, current)).toEqual(['net.ipv4.vs.conntrack=1'])
  })
})

describe('planIpvsDelta', () => {
  it('orders a delta bundle as kube-proxy syncs: sysctls, sets, servers, new VIPs, rules, old VIPs', () => {
    const steps = planIpvsDelta([
      { name: 'ipset.rules', content: 'add KUBE-CLUSTER-IP 10.96.0.9,tcp:80\n' },
      { name: 'ipvsadm.rules', content: '-A -t 10.96.0.9:80 -s rr\n' },
      { name: 'kube-ipvs0.changes', content: 'add 10.96.0.9\ndel 10.96.0.8\nadd fd00::9\n' },
      { name: 'iptables.rules', content: '*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n' },
      { name: 'sysctl.conf', content: '# why\nnet.ipv4.vs.conntrack = 1\n' },
    ], 'IPv4')
    expect(steps.map((s) => s.argv.join(' '))).toEqual([
      'sysctl -w net.ipv4.vs.conntrack=1',
      'ipset restore -exist',
      'ipvsadm -R',
      'ip -batch -',
      'iptables-restore --noflush --wait',
      'ip -batch -',
    ])
    expect(steps[3]?.stdin).toBe('addr replace 10.96.0.9/32 dev kube-ipvs0\naddr replace fd00::9/128 dev kube-ipvs0\n')
    expect(steps[5]?.stdin).toBe('addr del 10.96.0.8/32 dev kube-ipvs0\n')
    expect(planIpvsDelta([{ name: 'iptables.rules', content: '*filter\nCOMMIT\n' }], 'IPv6')[0]?.argv[0]).toBe('ip6tables-restore')
    expect(planIpvsDelta([], 'IPv4')).toEqual([])
  })

  it('drains as a full apply does: TCP with connections to weight 0, UDP deleted, a draining one re-added gets its weight back', () => {
    const ipvsadm = '-d -t 10.96.0.10:80 -r 10.244.2.5:8080\n-d -t 10.96.0.10:80 -r 10.244.3.5:8080\n-d -u 10.96.0.53:53 -r 10.244.2.5:5353\n' +
      '-d -t 10.96.0.11:80 -r 10.244.2.5:8080\n-a -t 10.96.0.12:80 -r 10.244.2.5:8080 -m -w 1\n-a -t 10.96.0.12:80 -r 10.244.4.5:8080 -m -w 1\n'
    const live = new Map([
      [liveKey('TCP', '10.96.0.10:80', '10.244.2.5:8080'), { weight: 1, connections: 2 }],
      [liveKey('TCP', '10.96.0.10:80', '10.244.3.5:8080'), { weight: 1, connections: 0 }],
      [liveKey('UDP', '10.96.0.53:53', '10.244.2.5:5353'), { weight: 1, connections: 6 }],
      [liveKey('TCP', '10.96.0.11:80', '10.244.2.5:8080'), { weight: 0, connections: 1 }],
      [liveKey('TCP', '10.96.0.12:80', '10.244.2.5:8080'), { weight: 0, connections: 1 }],
    ])
    const [step] = planIpvsDelta([{ name: 'ipvsadm.rules', content: ipvsadm }], 'IPv4', live)
    expect(step?.stdin).toBe('-e -t 10.96.0.10:80 -r 10.244.2.5:8080 -m -w 0\n-d -t 10.96.0.10:80 -r 10.244.3.5:8080\n' +
      '-d -u 10.96.0.53:53 -r 10.244.2.5:5353\n-e -t 10.96.0.12:80 -r 10.244.2.5:8080 -m -w 1\n-a -t 10.96.0.12:80 -r 10.244.4.5:8080 -m -w 1\n')
    expect(step?.draining).toBe(2)
    // Without counters (nothing listed) every line stays as the delta wrote it.
    expect(planIpvsDelta([{ name: 'ipvsadm.rules', content: ipvsadm }], 'IPv4')[0]?.stdin).toBe(ipvsadm)
  })

  it('refuses what it does not know instead of skipping it', () => {
    expect(() => planIpvsDelta([{ name: 'surprise.txt', content: 'x' }], 'IPv4')).toThrow(/unknown IPVS delta file surprise.txt/)
    expect(() => planIpvsDelta([{ name: 'kube-ipvs0.changes', content: 'replace 10.0.0.1\n' }], 'IPv4')).toThrow(/unknown kube-ipvs0 change/)
  })
})
