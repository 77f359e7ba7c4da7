/**
 * The fast path of endpointSliceSchema + endpointSliceRules (schema/endpoint-slice.ts): the same
 * conditions, checked in one walk, returning a value equal to zod's (see fast-common.ts). Any doubt
 * bails to zod; fast-endpoint-slice.prop.test.ts holds it to zod's answer on generated valid, nearly
 * valid and invalid slices.
 */
import { dns1123Label, dns1123Subdomain, labelValue, qualifiedName } from '../schema/common.js'
import type { EndpointSliceObject } from '../schema/endpoint-slice.js'
import {
  type Obj, bail, bool, hasDuplicate, int, isEndpointAddress, isLabel, list, metadata, obj, remembered, sameKeys, str, strings,
} from './fast-common.js'

type Endpoint = NonNullable<EndpointSliceObject['endpoints']>[number]
type Conditions = NonNullable<Endpoint['conditions']>
type Hints = NonNullable<Endpoint['hints']>
type SlicePort = NonNullable<EndpointSliceObject['ports']>[number]
type AddressType = EndpointSliceObject['addressType']

const isSubdomain = remembered(dns1123Subdomain)
const isLabelValue = remembered(labelValue)
const isQualifiedName = remembered(qualifiedName)
// Slice names, their Service's names and hostnames are unique: remembering them would only churn the set.
const isSubdomainName = (v: string): boolean => dns1123Subdomain(v) === undefined
const isUniqueLabel = (v: string): boolean => dns1123Label(v) === undefined

/** The validated slice, or a bail (see fast-common.ts). */
export function fastEndpointSlice(raw: Obj): EndpointSliceObject {
  const meta = metadata(raw.metadata, isSubdomainName)
  const addressType = raw.addressType
  if (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') bail()
  const serviceName = meta.labels?.['kubernetes.io/service-name']
  if (serviceName !== undefined && serviceName !== '' && !isUniqueLabel(serviceName)) bail()
  // Never the raw object: that holds apiVersion and kind, which zod strips.
  const out: EndpointSliceObject = { metadata: meta, addressType }
  const endpoints = raw.endpoints
  if (endpoints !== undefined || 'endpoints' in raw) {
    out.endpoints = endpoints === null ? null : endpointList(endpoints, addressType)
  }
  const ports = raw.ports
  if (ports !== undefined || 'ports' in raw) {
    if (ports === null) out.ports = null
    else {
      const checked = list(ports, 20000, slicePort)
      // endpointSliceRules: unnamed ports count as the name "", so only one may be unnamed.
      if (checked.length > 1 && hasDuplicate(checked.map((p) => p.name ?? ''))) bail()
      // endpointSliceRules skips everything after the port names for FQDN slices, port 0 included.
      if (addressType !== 'FQDN' && checked.some((p) => p.port === 0)) bail()
      out.ports = checked
    }
  }
  return out
}

/** `list(v, 1000, endpoint)` with a direct call: the shared list() calls every item function through one megamorphic site. */
function endpointList(v: unknown, addressType: AddressType): Endpoint[] {
  if (!Array.isArray(v) || v.length > 1000) bail()
  let out: Endpoint[] | undefined
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i]
    const y = endpoint(x, addressType)
    if (out) out.push(y)
    else if (y !== x) {
      out = v.slice(0, i) as Endpoint[]
      out.push(y)
    }
  }
  return out ?? (v as Endpoint[])
}

const ENDPOINT_KEYS = ['addresses', 'conditions', 'nodeName', 'zone', 'hostname', 'hints']

function endpoint(v: unknown, addressType: AddressType): Endpoint {
  const e = obj(v)
  const addresses = strings(e.addresses, 100)
  if (addressType !== 'FQDN') {
    if (addresses.length === 0) bail()
    for (let i = 0; i < addresses.length; i++) if (!isEndpointAddress(addresses[i] as string, addressType)) bail()
  }
  let n = 1
  let same = true
  let conditions = e.conditions
  if (conditions !== undefined || 'conditions' in e) {
    n++
    if (conditions !== null) {
      const c = conditionsOf(conditions)
      same = c === conditions
      conditions = c
    }
  }
  const nodeName = e.nodeName
  if (nodeName !== undefined || 'nodeName' in e) {
    n++
    if (nodeName !== null && !isSubdomain(str(nodeName))) bail()
  }
  const zone = e.zone
  if (zone !== undefined || 'zone' in e) {
    n++
    if (zone !== null) str(zone)
  }
  const hostname = e.hostname
  if (hostname !== undefined || 'hostname' in e) {
    n++
    if (hostname !== null && !isUniqueLabel(str(hostname))) bail()
  }
  let hints = e.hints
  if (hints !== undefined || 'hints' in e) {
    n++
    if (hints !== null) {
      const h = hintsOf(hints, addressType)
      same &&= h === hints
      hints = h
    }
  }
  if (same && sameKeys(e, ENDPOINT_KEYS, n)) return e as Endpoint
  // Present keys hold their checked values here (a present undefined bailed above).
  const out: Endpoint = { addresses }
  if (conditions !== undefined) out.conditions = conditions as Endpoint['conditions']
  if (nodeName !== undefined) out.nodeName = nodeName as Endpoint['nodeName']
  if (zone !== undefined) out.zone = zone as Endpoint['zone']
  if (hostname !== undefined) out.hostname = hostname as Endpoint['hostname']
  if (hints !== undefined) out.hints = hints as Endpoint['hints']
  return out
}

const CONDITION_KEYS = ['ready', 'serving', 'terminating']

function conditionsOf(v: unknown): Conditions {
  const c = obj(v)
  let n = 0
  const ready = c.ready
  if (ready !== undefined || 'ready' in c) {
    n++
    if (ready !== null) bool(ready)
  }
  const serving = c.serving
  if (serving !== undefined || 'serving' in c) {
    n++
    if (serving !== null) bool(serving)
  }
  const terminating = c.terminating
  if (terminating !== undefined || 'terminating' in c) {
    n++
    if (terminating !== null) bool(terminating)
  }
  if (sameKeys(c, CONDITION_KEYS, n)) return c as Conditions
  const out: Conditions = {}
  if (ready !== undefined) out.ready = ready as Conditions['ready']
  if (serving !== undefined) out.serving = serving as Conditions['serving']
  if (terminating !== undefined) out.terminating = terminating as Conditions['terminating']
  return out
}

const HINT_KEYS = ['forZones', 'forNodes']

function hintsOf(v: unknown, addressType: AddressType): Hints {
  const h = obj(v)
  let n = 0
  let forZones = h.forZones
  if (forZones !== undefined || 'forZones' in h) {
    n++
    if (forZones !== null) {
      const zones = list(forZones, 8, zoneHint)
      // endpointSliceRules checks hints only for IP slices (it returns early for FQDN).
      if (addressType !== 'FQDN' && hasDuplicate(zones.map((z) => z.name))) bail()
      forZones = zones
    }
  }
  let forNodes = h.forNodes
  if (forNodes !== undefined || 'forNodes' in h) {
    n++
    if (forNodes !== null) {
      const nodes = list(forNodes, 8, nodeHint)
      if (addressType !== 'FQDN' && hasDuplicate(nodes.map((z) => z.name))) bail()
      forNodes = nodes
    }
  }
  if (forZones === h.forZones && forNodes === h.forNodes && sameKeys(h, HINT_KEYS, n)) return h as Hints
  const out: Hints = {}
  if (forZones !== undefined) out.forZones = forZones as Hints['forZones']
  if (forNodes !== undefined) out.forNodes = forNodes as Hints['forNodes']
  return out
}

const zoneHint = (v: unknown): { name: string } => named(v, isLabelValue)
const nodeHint = (v: unknown): { name: string } => named(v, isSubdomain)

const NAME_KEYS = ['name']

function named(v: unknown, ok: (name: string) => boolean): { name: string } {
  const o = obj(v)
  const name = str(o.name)
  if (!ok(name)) bail()
  return sameKeys(o, NAME_KEYS, 1) ? (o as { name: string }) : { name }
}

const PORT_KEYS = ['name', 'protocol', 'port', 'appProtocol']

function slicePort(v: unknown): SlicePort {
  const p = obj(v)
  let n = 0
  const name = p.name
  if (name !== undefined || 'name' in p) {
    n++
    if (name !== null && str(name) !== '' && !isLabel(name as string)) bail()
  }
  const protocol = p.protocol
  if (protocol !== undefined || 'protocol' in p) {
    n++
    if (protocol !== null && protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') bail()
  }
  const port = p.port
  if (port !== undefined || 'port' in p) {
    n++
    if (port !== null) int(port, 0, 65535)
  }
  const appProtocol = p.appProtocol
  if (appProtocol !== undefined || 'appProtocol' in p) {
    n++
    if (appProtocol !== null && !isQualifiedName(str(appProtocol))) bail()
  }
  if (sameKeys(p, PORT_KEYS, n)) return p as SlicePort
  const out: SlicePort = {}
  if (name !== undefined) out.name = name as SlicePort['name']
  if (protocol !== undefined) out.protocol = protocol as SlicePort['protocol']
  if (port !== undefined) out.port = port as SlicePort['port']
  if (appProtocol !== undefined) out.appProtocol = appProtocol as SlicePort['appProtocol']
  return out
}
