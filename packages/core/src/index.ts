export * from './errors.js'
export * from './ip.js'
export * from './model.js'
export type { Backend, BackendOption, EmitRequest, OutputFile } from './backend.js'
export { loadObjects, formatPath, type InputSource, type LoadedObjects } from './load.js'
export { buildContext, effectiveConfig, type Context, type FamilyContext, type ModelOptions } from './normalize/context.js'
export { mergeEndpoints, passesInformerFilter, sliceOwner, SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL, HEADLESS_LABEL } from './normalize/endpoints.js'
export { computeServicePorts, clusterIPFor, serviceSkipReason, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './normalize/service.js'
export { selectEndpoints, topologyMode, byteCompare, type Selection, type SelectionFlags } from './select.js'
export { ModelStore, buildModel, type StoreChange, type ChangedPort, type StoreState } from './store.js'
export { deepEqual } from './equal.js'
export { sha256Base32, sha256Base32_16 } from './hash.js'
export { alignPortEntries, changedFragments, type FragmentChange, type KeyedFragment, type PortEntryCache } from './fragments.js'
export { stableJSON } from './json.js'
export { serviceRules, serviceSchema, PROTOCOLS, SERVICE_TYPES, type ServiceObject } from './schema/service.js'
export { endpointSliceRules, endpointSliceSchema, type EndpointSliceObject } from './schema/endpoint-slice.js'
export { nodeRules, nodeSchema, type NodeObject } from './schema/node.js'
export { serviceCIDRRules, serviceCIDRSchema, SERVICE_CIDR_API_VERSIONS, type ServiceCIDRObject } from './schema/service-cidr.js'
export { serviceCIDRsOfFamily } from './normalize/service-cidrs.js'
export { configRules, configSchema, durationSeconds, PROXY_MODES, DETECT_LOCAL_MODES, type ConfigObject } from './schema/config.js'
export * from './trace.js'
export * from './mode-differences.js'

import { type InputSource, loadObjects } from './load.js'
import type { ProxyModel } from './model.js'
import type { ModelOptions } from './normalize/context.js'
import { buildModel } from './store.js'

/** Texts → validated objects → model, in one call. Throws KproxcError on any invalid input. */
export function modelFromTexts(sources: readonly InputSource[], options: ModelOptions = {}): ProxyModel {
  return buildModel(loadObjects(sources), options)
}

/** The model of one family, or undefined when that family was not computed. */
export function familyModel(model: ProxyModel, family: "IPv4" | "IPv6") {
  return model.families.find((f) => f.family === family)
}
