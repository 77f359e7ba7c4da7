import { z } from 'zod'
import { parseIP, specialAddressKind } from '../ip.js'
import {
  addIf, bool, dns1123Label, dns1123Subdomain, int, labelValue, list, oneOf, qualifiedName, reportDuplicates, str,
  subdomainMetadata, typeError,
  crossCheck,
} from './common.js'
import { PROTOCOLS } from './service.js'

const endpoint = z.object(
  {
    addresses: list(str(), 100),
    conditions: z
      .object({ ready: bool().nullish(), serving: bool().nullish(), terminating: bool().nullish() }, { error: typeError('an object') })
      .nullish(),
    nodeName: str(dns1123Subdomain).nullish(),
    zone: str().nullish(),
    hostname: str(dns1123Label).nullish(),
    hints: z
      .object(
        {
          forZones: list(z.object({ name: str(labelValue) }, { error: typeError('an object') }), 8).nullish(),
          forNodes: list(z.object({ name: str(dns1123Subdomain) }, { error: typeError('an object') }), 8).nullish(),
        },
        { error: typeError('an object') },
      )
      .nullish(),
  },
  { error: typeError('an object') },
)

const slicePort = z.object(
  {
    name: str((v) => (v === '' ? undefined : dns1123Label(v))).nullish(),
    protocol: oneOf(PROTOCOLS).nullish(),
    port: int(0, 65535).nullish(),
    appProtocol: str(qualifiedName).nullish(),
  },
  { error: typeError('an object') },
)

/** A discovery.k8s.io/v1 EndpointSlice as kproxc reads it. */
const endpointSliceShape = z
  .object({
    metadata: subdomainMetadata,
    addressType: oneOf(['IPv4', 'IPv6', 'FQDN'] as const),
    endpoints: list(endpoint, 1000).nullish(),
    ports: list(slicePort, 20000).nullish(),
  })

export const endpointSliceSchema = endpointSliceShape

/** Cross-field rules, run on the raw object even when fields failed (every problem at once). */
export const endpointSliceRules = crossCheck((eps: z.output<typeof endpointSliceShape>, ctx) => {
    const serviceName = eps.metadata.labels?.['kubernetes.io/service-name']
    if (serviceName !== undefined && serviceName !== '') {
      addIf(ctx, dns1123Label(serviceName), ['metadata', 'labels', 'kubernetes.io/service-name'])
    }
    reportDuplicates(ctx, eps.ports ?? [], (p) => p.name ?? '', (i) => ['ports', i, 'name'], 'the name')
    if (eps.addressType === 'FQDN') return
    eps.endpoints?.forEach((ep, i) => {
      if (ep.addresses.length === 0) addIf(ctx, 'must hold at least one address', ['endpoints', i, 'addresses'])
      ep.addresses.forEach((addr, j) => {
        const p = parseIP(addr)
        const path = ['endpoints', i, 'addresses', j]
        if ('error' in p) return addIf(ctx, p.error, path)
        if (p.family !== eps.addressType) return addIf(ctx, `is not an ${eps.addressType} address (addressType)`, path)
        const special = specialAddressKind(addr)
        if (special) addIf(ctx, `is ${special}, which cannot be an endpoint`, path)
      })
      reportDuplicates(ctx, ep.hints?.forZones ?? [], (z) => z.name, (k) => ['endpoints', i, 'hints', 'forZones', k, 'name'], 'the zone')
      reportDuplicates(ctx, ep.hints?.forNodes ?? [], (n) => n.name, (k) => ['endpoints', i, 'hints', 'forNodes', k, 'name'], 'the node')
    })
    eps.ports?.forEach((p, i) => {
      if (p.port === 0) addIf(ctx, 'is not in 1..65535', ['ports', i, 'port'])
    })
})

export type EndpointSliceObject = z.infer<typeof endpointSliceSchema>
