import { describe, expect, it } from 'vitest'
import { loadObjects } from './load.js'
import { ModelStore, buildModel } from './store.js'
import type { ServiceCIDRObject } from './schema/service-cidr.js'

const node = 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n  - {type: InternalIP, address: 192.168.0.2}\n  - {type: InternalIP, address: "fd00::2"}\n'
const cidr = (name: string, cidrs: string[], apiVersion = 'networking.k8s.io/v1', extra = '') =>
  `apiVersion: ${apiVersion}\nkind: ServiceCIDR\nmetadata: {name: ${name}${extra}}\nspec:\n  cidrs: [${cidrs.map((c) => JSON.stringify(c)).join(', ')}]\nstatus: {conditions: [{type: Ready, status: "False", reason: Terminating}]}\n`
const load = (...docs: string[]) => loadObjects([{ name: 'in.yaml', text: docs.join('---\n') }])
const familyCIDRs = (objects: ReturnType<typeof load>) =>
  Object.fromEntries(buildModel(objects, { nodeName: 'n1' }).families.map((f) => [f.family, f.serviceCIDRs]))

describe('ServiceCIDR objects', () => {
  it('are loaded in v1 and v1beta1, cluster-scoped, and counted in the inputs', () => {
    const objects = load(node, cidr('kubernetes', ['10.96.0.0/16', 'fd00:96::/112']), cidr('extra', ['10.100.0.0/16'], 'networking.k8s.io/v1beta1'))
    expect(objects.serviceCIDRs?.map((o) => [o.metadata.name, o.spec.cidrs])).toEqual([['kubernetes', ['10.96.0.0/16', 'fd00:96::/112']], ['extra', ['10.100.0.0/16']]])
    expect(buildModel(objects, { nodeName: 'n1' }).inputs.serviceCIDRs).toBe(2)
    // A namespace in the metadata does not make two ServiceCIDRs of one name distinct.
    expect(() => load(cidr('a', ['10.0.0.0/8'], undefined, ', namespace: x'), cidr('a', ['10.1.0.0/16']))).toThrow(/ServiceCIDR a: appears twice/)
    expect(() => load(cidr('a', ['10.0.0.0/8'], 'networking.k8s.io/v1alpha1'))).toThrow(/expected networking.k8s.io\/v1 or networking.k8s.io\/v1beta1/)
  })

  it('give each family the union of its CIDRs, de-duplicated and sorted whatever the input order; terminating ones count', () => {
    const docs = [
      node,
      cidr('kubernetes', ['10.96.0.0/16', 'fd00:96::/112']),
      cidr('more', ['10.100.0.0/16'], undefined, ', deletionTimestamp: "2026-01-01T00:00:00Z", finalizers: [networking.k8s.io/service-cidr-finalizer]'),
      cidr('same', ['fd00:96::/112', '10.96.0.0/16']),
      cidr('low', ['10.0.0.0/24']),
      cidr('v6', ['fd00:1::/120']),
    ]
    const want = { IPv4: ['10.0.0.0/24', '10.96.0.0/16', '10.100.0.0/16'], IPv6: ['fd00:1::/120', 'fd00:96::/112'] }
    expect(familyCIDRs(load(...docs))).toEqual(want)
    expect(familyCIDRs(load(...[...docs].reverse()))).toEqual(want)
    expect(familyCIDRs(load(node))).toEqual({ IPv4: [], IPv6: [] })
  })

  it('in a store: an upsert or delete changes the family section only, and deleting one of two holders keeps a CIDR', () => {
    const store = new ModelStore({ nodeName: 'n1' }, load(node, 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n'))
    const ports = store.model.families[0]?.servicePorts
    const obj = (name: string, cidrs: string[]): ServiceCIDRObject => ({ metadata: { name }, spec: { cidrs } })
    let r = store.apply([{ op: 'upsert', kind: 'ServiceCIDR', object: obj('a', ['10.96.0.0/16']) }, { op: 'upsert', kind: 'ServiceCIDR', object: obj('b', ['10.96.0.0/16', 'fd00::/112']) }])
    expect(r.changed).toEqual([])
    expect(r.model.families.map((f) => f.serviceCIDRs)).toEqual([['10.96.0.0/16'], ['fd00::/112']])
    expect(r.model.families[0]?.servicePorts).toBe(ports)
    const v4 = r.model.families[0]?.serviceCIDRs
    // kube-proxy's string set drops a CIDR on the delete of any holder until its next resync; the
    // steady state (and a fresh start) is the union of what remains, which is what a model is.
    r = store.apply([{ op: 'delete', kind: 'ServiceCIDR', name: 'a' }])
    expect(r.model.families.map((f) => f.serviceCIDRs)).toEqual([['10.96.0.0/16'], ['fd00::/112']])
    expect(r.model.families[0]?.serviceCIDRs).toBe(v4)
    expect(r.model.inputs.serviceCIDRs).toBe(1)
    r = store.apply([{ op: 'delete', kind: 'ServiceCIDR', name: 'b' }])
    expect(r.model.families.map((f) => f.serviceCIDRs)).toEqual([[], []])
    expect(store.state.serviceCIDRs.size).toBe(0)
  })
})
