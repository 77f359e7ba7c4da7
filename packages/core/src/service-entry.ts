import { deepEqual } from './equal.js'
import type { Diagnostic, Family, HealthCheck, ServicePortModel } from './model.js'
import type { Context } from './normalize/context.js'
import { passesInformerFilter } from './normalize/endpoints.js'
import { computeServicePorts, serviceHealthCheck, serviceSkipReason, serviceWarnings } from './normalize/service.js'
import type { EndpointSliceObject } from './schema/endpoint-slice.js'
import type { ServiceObject } from './schema/service.js'

/** What one Service contributes to the model. */
export interface ServiceEntry {
  ports: Partial<Record<Family, readonly ServicePortModel[]>>
  health: HealthCheck | undefined
  diagnostics: readonly Diagnostic[]
}

const NONE: readonly never[] = Object.freeze([])

/**
 * One Service's ports (every family of the context), health check and diagnostics, from the
 * slices labelled with it; ports and health check equal to the prior ones keep their identity.
 */
export function serviceEntry(
  svc: ServiceObject,
  owned: readonly EndpointSliceObject[],
  context: Context,
  serviceProxyName: string | undefined,
  prior: ServiceEntry | undefined,
): ServiceEntry {
  let slices = owned
  for (const s of owned) {
    if (passesInformerFilter(s.metadata.labels, serviceProxyName)) continue
    slices = owned.filter((x) => passesInformerFilter(x.metadata.labels, serviceProxyName))
    break
  }
  const diagnostics: Diagnostic[] = []
  const skip = serviceSkipReason(svc, context.families[0]?.ctx.serviceProxyName)
  if (skip) {
    diagnostics.push({ severity: 'info', code: skip.code, object: { kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name }, message: skip.message })
  } else {
    for (const d of serviceWarnings(svc)) diagnostics.push(d)
  }
  const ports: Partial<Record<Family, readonly ServicePortModel[]>> = {}
  for (const { ctx } of context.families) {
    const computed = computeServicePorts(svc, slices, ctx, diagnostics)
    const before = prior?.ports[ctx.family]
    // Keep the identity of ports whose model did not change (later stages compile only changed ports).
    ports[ctx.family] = before ? computed.map((p) => before.find((b) => samePort(b, p)) ?? p) : computed
  }
  let health = serviceHealthCheck(svc, ports)
  if (health && prior?.health && deepEqual(prior.health, health)) health = prior.health
  return { ports, health, diagnostics: diagnostics.length > 0 ? diagnostics : NONE }
}

/** Deep equality of two ports, looking first where a watch event usually changes them. */
function samePort(a: ServicePortModel, b: ServicePortModel): boolean {
  if (a.key !== b.key || a.endpoints.length !== b.endpoints.length) return false
  for (let i = 0; i < a.endpoints.length; i++) if (!deepEqual(a.endpoints[i], b.endpoints[i])) return false
  return deepEqual(a, b)
}
