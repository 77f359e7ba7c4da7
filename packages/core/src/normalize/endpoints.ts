import { type Family, canonicalIP, isCanonicalIPv4, joinHostPort, parseIP } from '../ip.js'
import type { Diagnostic, EndpointModel, Protocol } from '../model.js'
import type { EndpointSliceObject } from '../schema/endpoint-slice.js'
import { byteCompare } from '../select.js'

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name'
export const HEADLESS_LABEL = 'service.kubernetes.io/headless'

/** Whether kube-proxy's informer label selector lets the object through (model.md §2.1). */
export function passesInformerFilter(labels: Record<string, string> | null | undefined, serviceProxyName: string | undefined): boolean {
  if (!labels) return serviceProxyName === undefined
  if (HEADLESS_LABEL in labels) return false
  if (serviceProxyName === undefined) return !(SERVICE_PROXY_NAME_LABEL in labels)
  return labels[SERVICE_PROXY_NAME_LABEL] === serviceProxyName
}

/** `ns/service` the slice belongs to, or undefined when it names none. */
export function sliceOwner(slice: EndpointSliceObject): string | undefined {
  const svc = sliceServiceName(slice)
  return svc ? `${slice.metadata.namespace ?? 'default'}/${svc}` : undefined
}

/** Name of the Service (in the slice's namespace) the slice belongs to, or undefined. */
export function sliceServiceName(slice: EndpointSliceObject): string | undefined {
  return slice.metadata.labels?.[SERVICE_NAME_LABEL] || undefined
}

/**
 * The merged endpoints of one service port in one family (model.md §4): slices in name order,
 * `addresses[0]` only, nil conditions defaulted, a non-terminating copy of a key wins, sorted by key.
 */
export function mergeEndpoints(
  slices: readonly EndpointSliceObject[],
  family: Family,
  portName: string,
  protocol: Protocol,
  nodeName: string,
  diagnostics: Diagnostic[],
): EndpointModel[] {
  // The common case (no key twice) is one array and one object per endpoint, no Map, and keys
  // ordered without comparing them as strings (a comparison flattens both concatenated keys):
  // this loop runs for every endpoint of the cluster, the largest cost of a 10k-Service build.
  const out: EndpointModel[] = []
  const v6 = family === 'IPv6'
  let sorted = true
  for (const slice of slices) {
    if (slice.addressType !== family || !slice.ports || !slice.endpoints || slice.endpoints.length === 0) continue
    for (const sp of slice.ports) {
      if ((sp.name ?? '') !== portName || (sp.protocol ?? 'TCP') !== protocol || !sp.port) continue
      // One shared (frozen) source list per slice: allocating one per endpoint dominated GC at scale.
      const fromThisSlice = Object.freeze([slice.metadata.name]) as unknown as string[]
      const port = sp.port
      const suffix = v6 ? `]:${port}` : `:${port}`
      for (const ep of slice.endpoints) {
        const first = ep.addresses[0]
        if (first === undefined) continue
        let ip = first
        if (v6 || !isCanonicalIPv4(first)) {
          const parsed = parseIP(first)
          if ('error' in parsed) continue
          // Validation keeps addresses in their slice's family; anything else takes the general path.
          if ((parsed.family === 'IPv6') !== v6) return mergeDuplicates(slices, family, portName, protocol, nodeName, diagnostics)
          ip = parsed.text
        }
        const next = endpointModel(ep, ip, port, v6 ? `[${ip}${suffix}` : ip + suffix, nodeName, fromThisSlice)
        const last = out[out.length - 1]
        if (sorted && last && compareEndpoints(last, next) >= 0) sorted = false
        out.push(next)
      }
    }
  }
  if (sorted) return out
  out.sort(compareEndpoints)
  for (let i = 1; i < out.length; i++) {
    // A key seen twice: merge as model.md §4.3 says, in slice order (rare, so the plain way).
    if (compareEndpoints(out[i - 1] as EndpointModel, out[i] as EndpointModel) === 0) return mergeDuplicates(slices, family, portName, protocol, nodeName, diagnostics)
  }
  return out
}

/**
 * The byte order of two endpoints' keys (`ip:port`, or `[ip]:port` for both) from their parts.
 * Where one IP is a prefix of the other, the shorter key continues with ':' or ']', which sorts
 * after the digits, '.' and ':' that can follow in the longer IP (and ']' before 'a'-'f').
 */
function compareEndpoints(a: EndpointModel, b: EndpointModel): number {
  const x = a.ip
  const y = b.ip
  const n = x.length < y.length ? x.length : y.length
  for (let i = 0; i < n; i++) {
    const d = x.charCodeAt(i) - y.charCodeAt(i)
    if (d !== 0) return d
  }
  if (x.length === y.length) return a.port === b.port ? 0 : byteCompare(String(a.port), String(b.port))
  const separator = x.includes(':') ? 93 : 58
  return x.length < y.length ? separator - y.charCodeAt(n) : x.charCodeAt(n) - separator
}

type SliceEndpoint = NonNullable<EndpointSliceObject['endpoints']>[number]

function endpointModel(ep: SliceEndpoint, ip: string, port: number, key: string, nodeName: string, sourceSlices: string[]): EndpointModel {
  const c = ep.conditions
  return {
    key,
    ip,
    port,
    isLocal: ep.nodeName != null && ep.nodeName === nodeName,
    ready: c?.ready ?? true,
    serving: c?.serving ?? true,
    terminating: c?.terminating ?? false,
    nodeName: ep.nodeName ?? null,
    zone: ep.zone ?? null,
    zoneHints: ep.hints ? hintNames(ep.hints.forZones) : NO_HINTS,
    nodeHints: ep.hints ? hintNames(ep.hints.forNodes) : NO_HINTS,
    sourceSlices,
  }
}

/** mergeEndpoints when some key appears more than once: first copy wins unless it terminates. */
function mergeDuplicates(
  slices: readonly EndpointSliceObject[],
  family: Family,
  portName: string,
  protocol: Protocol,
  nodeName: string,
  diagnostics: Diagnostic[],
): EndpointModel[] {
  const merged = new Map<string, EndpointModel>()
  for (const slice of slices) {
    if (slice.addressType !== family) continue
    for (const sp of slice.ports ?? []) {
      if ((sp.name ?? '') !== portName || (sp.protocol ?? 'TCP') !== protocol || !sp.port) continue
      const fromThisSlice = Object.freeze([slice.metadata.name]) as unknown as string[]
      for (const ep of slice.endpoints ?? []) {
        const first = ep.addresses[0]
        const ip = first === undefined ? undefined : canonicalIP(first)
        if (ip === undefined) continue
        const next = endpointModel(ep, ip, sp.port, joinHostPort(ip, sp.port), nodeName, fromThisSlice)
        const prior = merged.get(next.key)
        if (!prior) {
          merged.set(next.key, next)
          continue
        }
        const sources = [...new Set([...prior.sourceSlices, slice.metadata.name])].sort(byteCompare)
        if (prior.ready !== next.ready || prior.serving !== next.serving || prior.terminating !== next.terminating || prior.nodeName !== next.nodeName) {
          diagnostics.push({
            severity: 'warning', code: 'EP_DUPLICATE',
            object: { kind: 'EndpointSlice', namespace: slice.metadata.namespace ?? 'default', name: slice.metadata.name },
            message: `endpoint ${next.key} also appears in ${prior.sourceSlices.join(', ')} with other conditions or node; the non-terminating copy is used`,
          })
        }
        const winner = prior.terminating && !next.terminating ? next : prior
        merged.set(next.key, { ...winner, sourceSlices: sources })
      }
    }
  }
  return [...merged.values()].sort((a, b) => byteCompare(a.key, b.key))
}

const NO_HINTS: string[] = Object.freeze([]) as unknown as string[]

function hintNames(list: readonly { name: string }[] | null | undefined): string[] {
  if (!list || list.length === 0) return NO_HINTS
  return [...new Set(list.map((h) => h.name))].sort(byteCompare)
}

/** Slices in name order, the tie-break order for duplicate endpoints (model.md §4.3). */
export function sortSlices(slices: readonly EndpointSliceObject[]): readonly EndpointSliceObject[] {
  // Most Services have one slice: no copy then.
  if (slices.length < 2) return slices
  return [...slices].sort((a, b) => byteCompare(a.metadata.name, b.metadata.name))
}

/** Why kube-proxy ignores (part of) a slice, given whether a Service (namespace, name) is in the input. */
export function sliceDiagnostics(slice: EndpointSliceObject, hasService: (namespace: string, name: string) => boolean): Diagnostic[] | undefined {
  const namespace = slice.metadata.namespace ?? 'default'
  const service = sliceServiceName(slice)
  const missing = !service || !hasService(namespace, service)
  if (!missing && slice.addressType !== 'FQDN') return undefined
  const object = { kind: 'EndpointSlice', namespace, name: slice.metadata.name }
  const out: Diagnostic[] = []
  if (!service) {
    out.push({ severity: 'warning', code: 'EPS_NO_SERVICE_LABEL', object, field: 'metadata.labels["kubernetes.io/service-name"]', message: 'is missing: kube-proxy ignores this slice' })
  } else if (missing) {
    out.push({ severity: 'info', code: 'EPS_NO_SERVICE', object, message: `its Service ${namespace}/${service} is not in the input; its endpoints are unused` })
  }
  if (slice.addressType === 'FQDN') out.push({ severity: 'info', code: 'EPS_FQDN', object, field: 'addressType', message: 'FQDN slices are ignored by kube-proxy' })
  return out
}
