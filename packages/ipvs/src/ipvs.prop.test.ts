import fc from 'fast-check'
import {
  type FamilyModel, type LoadedObjects, type ProxyModel, type ServicePortModel, type Verdict,
  buildModel, isLoopback, joinHostPort,
} from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from '../../../test/arbitraries.js'
import { emitIpvs } from './index.js'
import { loadIpvsadmRules } from './load-ipvsadm.js'
import { lines } from './__fixtures__/model.js'

/**
 * What the model's verdicts say a virtual server forwards to, spelled for IPVS: "reject" has no
 * endpoints at all, "forward" names the list, and "drop" (policy Local without local endpoints)
 * is where IPVS differs from iptables: kube-proxy falls back to the cluster endpoints (PR #97081).
 */
function endpointsOf(sp: ServicePortModel, verdict: Verdict): string[] {
  const keys = verdict.action === 'reject' ? []
    : verdict.action === 'drop' ? (sp.clusterEndpoints ?? [])
    : verdict.to === 'local' ? (sp.localEndpoints ?? []) : (sp.clusterEndpoints ?? [])
  const byKey = new Map(sp.endpoints.map((e) => [e.key, e]))
  return keys.map((k) => { const e = byKey.get(k); return e ? joinHostPort(e.ip, e.port) : `missing ${k}` }).sort()
}

function vsId(protocol: string, ip: string, port: number): string {
  return `${protocol} ${joinHostPort(ip, port)}`
}

/** VS → sorted real servers, from the model alone (first service port wins a shared VS). */
function expectedServers(model: ProxyModel, fam: FamilyModel): Map<string, string[]> {
  const v6 = fam.family === 'IPv6'
  const hostOfFamily = model.node.hostAddresses.filter((a) => a.includes(':') === v6 && !isLoopback(a) && !/^fe[89ab]/i.test(a))
  const nodeIPs = fam.nodePortAddresses.matchAll ? hostOfFamily : fam.nodePortAddresses.addresses.filter((a) => !isLoopback(a))
  const out = new Map<string, string[]>()
  const put = (id: string, rs: string[]) => { if (!out.has(id)) out.set(id, rs) }
  for (const sp of fam.servicePorts) {
    put(vsId(sp.protocol, sp.clusterIP, sp.port), endpointsOf(sp, sp.internal))
    const ext = sp.external ? endpointsOf(sp, sp.external.policy) : []
    for (const ip of [...sp.externalIPs, ...sp.loadBalancerVIPs]) put(vsId(sp.protocol, ip, sp.port), ext)
    if (sp.nodePort !== 0) for (const ip of nodeIPs) put(vsId(sp.protocol, ip, sp.nodePort), ext)
  }
  return out
}

function reversed(o: LoadedObjects): LoadedObjects {
  return { ...o, services: [...o.services].reverse(), endpointSlices: [...o.endpointSlices].reverse(), nodes: [...o.nodes].reverse() }
}

describe('ipvs backend on random clusters', () => {
  it('programs exactly the (virtual server → real servers) the model verdicts say, in well-formed ipvsadm text', () => {
    let nonEmpty = 0
    let fallbacks = 0
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const model = buildModel(c.objects, { mode: 'ipvs', nodeName: c.nodeName, families: ['IPv4', 'IPv6'] })
        for (const fam of model.families) {
          const files = Object.fromEntries(emitIpvs(model, { family: fam.family }).map((f) => [f.name, f.content]))
          // Parsing checks every line, that real servers follow a declared service, and no duplicates.
          const parsed = loadIpvsadmRules(files['ipvsadm.rules'] ?? '')
          const actual = new Map(parsed.services.map((s) => [
            vsId(s.protocol, s.address, s.port),
            s.realServers.map((r) => joinHostPort(r.address, r.port)).sort(),
          ]))
          const expected = expectedServers(model, fam)
          expect(actual).toEqual(expected)
          for (const s of parsed.services) {
            expect(s.scheduler).toBe('rr')
            expect(s.family).toBe(fam.family)
            for (const r of s.realServers) expect(r).toMatchObject({ method: 'masq', weight: 1 })
          }
          for (const sp of fam.servicePorts) {
            const s = parsed.services.find((x) => vsId(x.protocol, x.address, x.port) === vsId(sp.protocol, sp.clusterIP, sp.port))
            if (s && s.realServers.length > 0) nonEmpty++
            if (sp.internal.action === 'drop' || sp.external?.policy.action === 'drop') fallbacks++
          }
        }
      }),
      { numRuns: 300, seed: 20260101 },
    )
    // The generator must reach the interesting cases, or the property proves little.
    expect(nonEmpty).toBeGreaterThan(50)
    expect(fallbacks).toBeGreaterThan(10)
  })

  it('keeps the five files consistent: sets created before use, KUBE-IPVS-IPS = kube-ipvs0 addresses, ClusterIPs bound', () => {
    fc.assert(
      fc.property(arbCluster({ maxServices: 4 }), (c) => {
        const model = buildModel(c.objects, { mode: 'ipvs', nodeName: c.nodeName, families: ['IPv4', 'IPv6'] })
        for (const fam of model.families) {
          const files = Object.fromEntries(emitIpvs(model, { family: fam.family }).map((f) => [f.name, f.content]))
          const ipset = lines(files['ipset.rules'])
          const created = new Set(ipset.filter((l) => l.startsWith('create ')).map((l) => l.split(' ')[1]))
          expect(created.size).toBe(17)
          for (const l of ipset.filter((x) => !x.startsWith('create '))) expect(created.has(l.split(' ')[1])).toBe(true)
          for (const m of (files['iptables.rules'] ?? '').matchAll(/--match-set (\S+)/g)) expect(created.has(m[1])).toBe(true)
          const ipvsIps = fam.family === 'IPv4' ? 'KUBE-IPVS-IPS' : 'KUBE-6-IPVS-IPS'
          const members = ipset.filter((l) => l.startsWith(`add ${ipvsIps} `)).map((l) => l.split(' ')[2])
          const bound = lines(files['kube-ipvs0.addresses'])
          expect(new Set(members)).toEqual(new Set(bound))
          for (const sp of fam.servicePorts) expect(bound).toContain(sp.clusterIP)
          for (const name of Object.keys(files)) expect(files[name] === '' || files[name]?.endsWith('\n')).toBe(true)
        }
      }),
      { numRuns: 150, seed: 7 },
    )
  })

  it('is deterministic: input order and repetition do not change a byte', () => {
    fc.assert(
      fc.property(arbCluster({ maxServices: 4 }), (c) => {
        for (const family of ['IPv4', 'IPv6'] as const) {
          const once = emitIpvs(buildModel(c.objects, { mode: 'ipvs', nodeName: c.nodeName, families: [family] }), { family })
          const again = emitIpvs(buildModel(reversed(c.objects), { mode: 'ipvs', nodeName: c.nodeName, families: [family] }), { family })
          expect(again).toEqual(once)
        }
      }),
      { numRuns: 100, seed: 99 },
    )
  })
})
