import { type InputIssue, KproxcError } from '../errors.js'
import { type Family, cidrContains, cidrContainsCIDR, isLoopback, parseCIDR, parseIP, sortAddresses, zeroCIDR } from '../ip.js'
import type {
  Diagnostic, DetectLocalMode, EffectiveConfig, FamilyModel, LocalDetector, NodeModel, NodePortAddresses, ProxyMode,
} from '../model.js'
import { type ConfigObject, durationSeconds } from '../schema/config.js'
import { NODE_IP_TYPES, type NodeObject } from '../schema/node.js'

/** Options that select the node, the families and the mode, and override config fields. */
export interface ModelOptions {
  /** Node name; default config.hostnameOverride, else the only Node in the input. */
  nodeName?: string
  /** Families to compute; default the families the node has IPs in (else its primary family), IPv4 first. */
  families?: readonly Family[]
  /** Proxy mode; default config.mode, else iptables. */
  mode?: ProxyMode
  /** Node IPs overriding bindAddress and the Node object (the first one decides the primary family). */
  nodeIPs?: readonly string[]
  /** The host's interface addresses; default the Node's InternalIP/ExternalIP addresses. */
  hostAddresses?: readonly string[]
  /** Keep only objects whose service-proxy-name label equals this (kube-proxy: unset). */
  serviceProxyName?: string
  /** Fields that override the KubeProxyConfiguration in the input (like kube-proxy flags). */
  config?: ConfigObject
}

/** What a family's service ports are computed against. */
export interface FamilyContext {
  family: Family
  nodeName: string
  zone: string | null
  nodeIP: string
  config: EffectiveConfig
  localDetector: LocalDetector
  serviceProxyName: string | undefined
}

/** The node- and config-wide part of a model. */
export interface Context {
  node: NodeModel
  config: EffectiveConfig
  families: { ctx: FamilyContext; shell: Omit<FamilyModel, 'servicePorts' | 'serviceCIDRs'> }[]
  diagnostics: Diagnostic[]
}

const DEFAULT_AFFINITY_MARK_BIT = 14

/** Merges the config object and overrides, applying kube-proxy's defaults for the selected mode. */
export function effectiveConfig(file: ConfigObject | undefined, options: ModelOptions): EffectiveConfig {
  const c = mergeConfig(file, options.config)
  const mode: ProxyMode = options.mode ?? (c.mode || 'iptables')
  // masqueradeAll/Bit come from the selected mode's section; ipvs reads the iptables one.
  const section = mode === 'nftables' ? c.nftables : c.iptables
  const masqueradeBit = section?.masqueradeBit ?? DEFAULT_AFFINITY_MARK_BIT
  return {
    mode,
    masqueradeAll: section?.masqueradeAll ?? false,
    masqueradeBit,
    masqueradeMark: 2 ** masqueradeBit,
    clusterCIDRs: (c.clusterCIDR ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map(canonicalCIDR),
    detectLocalMode: (c.detectLocalMode || 'ClusterCIDR') as DetectLocalMode,
    detectLocal: { bridgeInterface: c.detectLocal?.bridgeInterface ?? '', interfaceNamePrefix: c.detectLocal?.interfaceNamePrefix ?? '' },
    nodePortAddresses: c.nodePortAddresses && c.nodePortAddresses.length > 0
      ? c.nodePortAddresses.map((a) => (a === 'primary' ? a : canonicalCIDR(a)))
      : mode === 'nftables' ? ['primary'] : [],
    iptables: { localhostNodePorts: c.iptables?.localhostNodePorts ?? true },
    ipvs: {
      scheduler: c.ipvs?.scheduler || 'rr',
      strictARP: c.ipvs?.strictARP ?? false,
      tcpTimeoutSeconds: durationSeconds(c.ipvs?.tcpTimeout ?? '0') ?? 0,
      tcpFinTimeoutSeconds: durationSeconds(c.ipvs?.tcpFinTimeout ?? '0') ?? 0,
      udpTimeoutSeconds: durationSeconds(c.ipvs?.udpTimeout ?? '0') ?? 0,
      excludeCIDRs: sortAddresses((c.ipvs?.excludeCIDRs ?? []).map(canonicalCIDR)),
    },
    conntrack: { tcpBeLiberal: c.conntrack?.tcpBeLiberal ?? false },
  }
}

function mergeConfig(base: ConfigObject | undefined, over: ConfigObject | undefined): ConfigObject {
  const b = base ?? {}
  if (!over) return b
  return {
    ...b,
    ...over,
    iptables: { ...b.iptables, ...over.iptables },
    nftables: { ...b.nftables, ...over.nftables },
    ipvs: { ...b.ipvs, ...over.ipvs },
    detectLocal: { ...b.detectLocal, ...over.detectLocal },
    conntrack: { ...b.conntrack, ...over.conntrack },
  }
}

function canonicalCIDR(text: string): string {
  const p = parseCIDR(text.trim())
  return 'error' in p ? text : p.text
}

/** Picks this node, computes its IPs and each family's NodePort addresses and local detector. */
export function buildContext(nodes: readonly NodeObject[], file: ConfigObject | undefined, options: ModelOptions): Context {
  const config = effectiveConfig(file, options)
  const merged = mergeConfig(file, options.config)
  const diagnostics: Diagnostic[] = []
  const name = pickNodeName(nodes, merged, options)
  const nodeObj = nodes.find((n) => n.metadata.name === name)
  if (!nodeObj) {
    diagnostics.push({
      severity: 'warning', code: 'NODE_NOT_FOUND', object: { kind: 'Node', name },
      message: 'no Node object with this name in the input: no zone, node IPs fall back to bindAddress or loopback',
    })
  }
  const zone = nodeObj?.metadata.labels?.['topology.kubernetes.io/zone'] ?? null
  const nodeAddresses = nodeAddressList(nodeObj)
  const { ips, primaryFamily } = nodeIPs(merged.bindAddress, options.nodeIPs ?? nodeAddresses)
  const hostAddresses = sortAddresses((options.hostAddresses ?? nodeAddresses).map((a) => canonical(a)))
  const podCIDRs = (nodeObj?.spec?.podCIDRs ?? (nodeObj?.spec?.podCIDR ? [nodeObj.spec.podCIDR] : [])).map(canonicalCIDR)
  const node: NodeModel = { name, zone, primaryFamily, ips, hostAddresses, podCIDRs }
  const nodeFamilies = (Object.keys(ips) as Family[]).length > 0 ? (Object.keys(ips) as Family[]) : [primaryFamily]
  const families = (options.families ?? nodeFamilies).slice().sort()
  return {
    node,
    config,
    diagnostics,
    families: [...new Set(families)].map((family) => {
      const fallback = family === 'IPv4' ? '127.0.0.1' : '::1'
      const nodeIP = ips[family] ?? fallback
      const localDetector = detector(family, config, podCIDRs)
      const nodePortAddresses = nodePortAddressesFor(family, config, ips[family], hostAddresses)
      return {
        ctx: { family, nodeName: name, zone, nodeIP, config, localDetector, serviceProxyName: options.serviceProxyName },
        shell: { family, nodeIP, nodePortAddresses, localDetector },
      }
    }),
  }
}

function pickNodeName(nodes: readonly NodeObject[], config: ConfigObject, options: ModelOptions): string {
  const explicit = options.nodeName ?? config.hostnameOverride
  if (explicit !== undefined && explicit.trim() !== '') return explicit.trim().toLowerCase()
  if (nodes.length === 1 && nodes[0]) return nodes[0].metadata.name
  const candidates = nodes.map((n) => n.metadata.name).sort()
  const issue: InputIssue = {
    object: { kind: 'Node', name: '<this node>' },
    path: '',
    message: nodes.length === 0
      ? 'cannot tell which node to compile for: the input has no Node object; pass --node NAME or set hostnameOverride'
      : `cannot tell which node to compile for: pass --node NAME with one of ${candidates.join(', ')}`,
  }
  throw new KproxcError('INVALID_INPUT', 'no node selected', [issue])
}

function nodeAddressList(node: NodeObject | undefined): string[] {
  const addrs = node?.status?.addresses ?? []
  const out: string[] = []
  // InternalIP addresses first, then ExternalIP (utilnode.GetNodeHostIPs).
  for (const type of NODE_IP_TYPES) {
    for (const a of addrs) if (a.type === type) out.push(canonical(a.address))
  }
  return [...new Set(out)]
}

function nodeIPs(bindAddress: string | undefined, addresses: readonly string[]): { ips: Partial<Record<Family, string>>; primaryFamily: Family } {
  const ips: Partial<Record<Family, string>> = {}
  let primaryFamily: Family | undefined
  const bind = bindAddress ? parseIP(bindAddress) : undefined
  if (bind && !('error' in bind) && bind.text !== '0.0.0.0' && bind.text !== '::') {
    ips[bind.family] = bind.text
    primaryFamily = bind.family
  }
  for (const a of addresses) {
    const p = parseIP(a)
    if ('error' in p) continue
    primaryFamily ??= p.family
    ips[p.family] ??= p.text
  }
  return { ips, primaryFamily: primaryFamily ?? 'IPv4' }
}

function canonical(ip: string): string {
  const p = parseIP(ip)
  return 'error' in p ? ip : p.text
}

function detector(family: Family, config: EffectiveConfig, podCIDRs: readonly string[]): LocalDetector {
  const ofFamily = (list: readonly string[]) => list.find((c) => !('error' in parseCIDR(c)) && (parseCIDR(c) as { family: Family }).family === family)
  switch (config.detectLocalMode) {
    case 'ClusterCIDR': {
      const cidr = ofFamily(config.clusterCIDRs)
      return cidr ? { kind: 'cidr', cidr } : { kind: 'none' }
    }
    case 'NodeCIDR': {
      const cidr = ofFamily(podCIDRs)
      return cidr ? { kind: 'cidr', cidr } : { kind: 'none' }
    }
    case 'BridgeInterface':
      return { kind: 'bridgeInterface', name: config.detectLocal.bridgeInterface }
    case 'InterfaceNamePrefix':
      return { kind: 'interfaceNamePrefix', prefix: config.detectLocal.interfaceNamePrefix }
  }
}

function nodePortAddressesFor(family: Family, config: EffectiveConfig, nodeIP: string | undefined, hostAddresses: readonly string[]): NodePortAddresses {
  const ofFamily = hostAddresses.filter((a) => (parseIP(a) as { family?: Family }).family === family)
  const allowLocalhostMode = family === 'IPv4' && config.mode === 'iptables' && config.iptables.localhostNodePorts
  if (config.nodePortAddresses.length === 1 && config.nodePortAddresses[0] === 'primary') {
    // `primary`: the node's IP of this family as a host route; a loopback fallback opens nothing.
    if (!nodeIP || isLoopback(nodeIP)) return { matchAll: false, cidrs: [], localhost: false, addresses: [] }
    const cidr = family === 'IPv4' ? `${nodeIP}/32` : `${nodeIP}/128`
    return { matchAll: false, cidrs: [cidr], localhost: false, addresses: [nodeIP] }
  }
  const cidrs = sortAddresses(config.nodePortAddresses.filter((c) => c !== 'primary' && (parseCIDR(c) as { family?: Family }).family === family))
  const matchAll = cidrs.length === 0 || cidrs.includes(zeroCIDR(family))
  const loopbackNet = '127.0.0.0/8'
  const localhost = allowLocalhostMode &&
    (matchAll || cidrs.some((c) => cidrContains(c, '127.0.0.1') || cidrContainsCIDR(loopbackNet, c)))
  const addresses = ofFamily.filter((a) => (matchAll || cidrs.some((c) => cidrContains(c, a))) && (!isLoopback(a) || localhost))
  return { matchAll, cidrs: matchAll ? [] : cidrs, localhost, addresses }
}
