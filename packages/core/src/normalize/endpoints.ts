import { type Family, joinHostPort, parseIP } from '../ip.js'
import type { Diagnostic, EndpointModel, Protocol } from '../model.js'
import type { EndpointSliceObject } from '../schema/endpoint-slice.js'
import { byteCompare } from '../select.js'

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name'
export const HEADLESS_LABEL = 'service.kubernetes.io/headless'

/** Whether kube-proxy's informer label selector lets the object through (model.md §2.1). */
export function passesInformerFilter(labels: Record<string, string> | null | undefined, serviceProxyName: string | undefined): boolean {
  const l = labels ?? {}
  if (HEADLESS_LABEL in l) return false
  if (serviceProxyName === undefined) return !(SERVICE_PROXY_NAME_LABEL in l)
  return l[SERVICE_PROXY_NAME_LABEL] === serviceProxyName
}

/** `ns/service` the slice belongs to, or undefined when it names none. */
export function sliceOwner(slice: EndpointSliceObject): string | undefined {
  const svc = slice.metadata.labels?.[SERVICE_NAME_LABEL]
  return svc ? `${slice.metadata.namespace ?? 'default'}/${svc}` : undefined
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
  const byKey = new Map<string, EndpointModel>()
  // Callers pass slices sorted by name (sortSlices), the tie-break order of model.md §4.3.
  for (const slice of slices) {
    if (slice.addressType !== family) continue
    for (const sp of slice.ports ?? []) {
      if ((sp.name ?? '') !== portName || (sp.protocol ?? 'TCP') !== protocol || !sp.port) continue
      // One shared (frozen) source list per slice: allocating one per endpoint dominated GC at scale.
      const fromThisSlice = Object.freeze([slice.metadata.name]) as unknown as string[]
      for (const ep of slice.endpoints ?? []) {
        const first = ep.addresses[0]
        if (first === undefined) continue
        const parsed = parseIP(first)
        if ('error' in parsed) continue
        const c = ep.conditions
        const next: EndpointModel = {
          key: joinHostPort(parsed.text, sp.port),
          ip: parsed.text,
          port: sp.port,
          isLocal: ep.nodeName != null && ep.nodeName === nodeName,
          ready: c?.ready ?? true,
          serving: c?.serving ?? true,
          terminating: c?.terminating ?? false,
          nodeName: ep.nodeName ?? null,
          zone: ep.zone ?? null,
          zoneHints: hintNames(ep.hints?.forZones),
          nodeHints: hintNames(ep.hints?.forNodes),
          sourceSlices: fromThisSlice,
        }
        const prior = byKey.get(next.key)
        if (!prior) {
          byKey.set(next.key, next)
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
        byKey.set(next.key, { ...winner, sourceSlices: sources })
      }
    }
  }
  return [...byKey.values()].sort((a, b) => byteCompare(a.key, b.key))
}

const NO_HINTS: string[] = Object.freeze([]) as unknown as string[]

function hintNames(list: readonly { name: string }[] | null | undefined): string[] {
  if (!list || list.length === 0) return NO_HINTS
  return [...new Set(list.map((h) => h.name))].sort(byteCompare)
}

/** Slices in name order, the tie-break order for duplicate endpoints (model.md §4.3). */
export function sortSlices(slices: readonly EndpointSliceObject[]): EndpointSliceObject[] {
  return [...slices].sort((a, b) => byteCompare(a.metadata.name, b.metadata.name))
}
