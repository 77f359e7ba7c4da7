import type { Family } from './ip.js'

export type { Family }
/** Protocols a Service port may use. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP'
/** kube-proxy's Linux modes. */
export type ProxyMode = 'iptables' | 'ipvs' | 'nftables'
/** How kube-proxy tells local pod traffic apart (KubeProxyConfiguration.detectLocalMode). */
export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix'

/** The normalized, node-specific proxy model: what every backend compiles. */
export interface ProxyModel {
  schemaVersion: 1
  node: NodeModel
  config: EffectiveConfig
  /** One section per IP family that was asked for, in the order IPv4, IPv6. */
  families: FamilyModel[]
  /** Per Service that needs a health-check node port (LoadBalancer, externalTrafficPolicy Local). */
  healthChecks: HealthCheck[]
  diagnostics: Diagnostic[]
  /** Objects read and skipped, for the report line of `kproxc model`. */
  inputs: InputSummary
}

export interface NodeModel {
  /** Lowercased node name (hostnameOverride or --node). */
  name: string
  /** Label topology.kubernetes.io/zone of this node, or null. */
  zone: string | null
  primaryFamily: Family
  /** Node IP per family (model.md §6): bindAddress, then Node addresses, then loopback. */
  ips: Partial<Record<Family, string>>
  /** Addresses of the host's interfaces NodePorts may open on (from --host-address, else the Node addresses). */
  hostAddresses: string[]
  podCIDRs: string[]
}

/** The KubeProxyConfiguration after defaults and mode-specific selection. */
export interface EffectiveConfig {
  mode: ProxyMode
  /** From the section of the selected mode (`iptables.*` also for ipvs). */
  masqueradeAll: boolean
  masqueradeBit: number
  /** `1 << masqueradeBit`. */
  masqueradeMark: number
  clusterCIDRs: string[]
  detectLocalMode: DetectLocalMode
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string }
  /** As configured, after the mode default (`primary` for nftables, all for the others). */
  nodePortAddresses: string[]
  iptables: { localhostNodePorts: boolean }
  ipvs: {
    scheduler: string
    strictARP: boolean
    tcpTimeoutSeconds: number
    tcpFinTimeoutSeconds: number
    udpTimeoutSeconds: number
    excludeCIDRs: string[]
  }
  conntrack: { tcpBeLiberal: boolean }
}

/** The local-traffic detector of one family (null kinds mean "no detector"). */
export type LocalDetector =
  | { kind: 'none' }
  | { kind: 'cidr'; cidr: string }
  | { kind: 'bridgeInterface'; name: string }
  | { kind: 'interfaceNamePrefix'; prefix: string }

/** Which node addresses accept NodePort traffic in one family. */
export interface NodePortAddresses {
  /** No CIDR of this family configured (or a zero CIDR): every local address. */
  matchAll: boolean
  /** Configured CIDRs of this family (canonical); empty when matchAll. */
  cidrs: string[]
  /** NodePorts also answer on 127.0.0.0/8 (iptables, IPv4, localhostNodePorts, loopback included). */
  localhost: boolean
  /** Host addresses of this family selected by the CIDRs (all of them when matchAll); no loopback unless `localhost`. */
  addresses: string[]
}

export interface FamilyModel {
  family: Family
  nodeIP: string
  nodePortAddresses: NodePortAddresses
  localDetector: LocalDetector
  /** This family's CIDRs of every ServiceCIDR object (canonical, sorted); nftables drops unallocated IPs in them. */
  serviceCIDRs: string[]
  servicePorts: ServicePortModel[]
}

/** Where a verdict sends traffic. */
export type Verdict =
  | { action: 'forward'; to: 'cluster' | 'local' }
  | { action: 'drop'; reason: 'no-local-endpoints' }
  | { action: 'reject'; reason: 'no-endpoints' }

/** How external traffic (NodePort, external IPs, LoadBalancer IPs) is handled. */
export interface ExternalDispatch {
  /** Verdict for traffic that is not short-circuited. */
  policy: Verdict
  /** ETP Cluster: every external packet is marked for masquerade. */
  masquerade: boolean
  /** ETP Local with a detector: traffic from local pods goes to the cluster endpoints. */
  shortCircuitLocalPods: boolean
  /** ETP Local: traffic from the node itself is masqueraded and goes to the cluster endpoints. */
  shortCircuitHost: boolean
}

export type TopologyMode = 'None' | 'PreferSameZone' | 'PreferSameNode'

/** One Service port seen by one family: kube-proxy's unit of work. */
export interface ServicePortModel {
  /** `ns/name:port/PROTO`, or `ns/name/PROTO` for an unnamed port. */
  key: string
  namespace: string
  name: string
  portName: string
  protocol: Protocol
  protocolLower: 'tcp' | 'udp' | 'sctp'
  /** kube-proxy's ServicePortName string: `ns/name` or `ns/name:port`. */
  displayName: string
  serviceType: 'ClusterIP' | 'NodePort' | 'LoadBalancer'

  clusterIP: string
  port: number
  /** 0 when none. */
  nodePort: number
  externalIPs: string[]
  /** VIP-mode LoadBalancer ingress IPs of this family. */
  loadBalancerVIPs: string[]
  /** Of this family, canonical; empty means no firewall. */
  loadBalancerSourceRanges: string[]
  /** The Service's health-check node port when it needs one, else 0. */
  healthCheckNodePort: number

  sessionAffinity: { kind: 'None' } | { kind: 'ClientIP'; timeoutSeconds: number }
  internalPolicyLocal: boolean
  externalPolicyLocal: boolean
  externallyAccessible: boolean
  usesClusterEndpoints: boolean
  usesLocalEndpoints: boolean

  /** Merged, de-duplicated, sorted by key; never filtered. */
  endpoints: EndpointModel[]
  topologyMode: TopologyMode
  /** Endpoint keys; null when not computed (the port does not use them). */
  clusterEndpoints: string[] | null
  clusterUsesTerminating: boolean
  localEndpoints: string[] | null
  localUsesTerminating: boolean
  /** Union of cluster and local, sorted by key: the endpoints that get per-endpoint chains. */
  reachableEndpoints: string[]
  hasAnyEndpoints: boolean

  internal: Verdict
  external: ExternalDispatch | null
  firewall: { enabled: boolean; sourceRanges: string[]; allowLoadBalancerVIPsAsSource: boolean }
}

/** One endpoint (IP + resolved target port) of a service port. */
export interface EndpointModel {
  /** `ip:port`, IPv6 bracketed, as Go's JoinHostPort. */
  key: string
  ip: string
  port: number
  isLocal: boolean
  ready: boolean
  serving: boolean
  terminating: boolean
  nodeName: string | null
  zone: string | null
  zoneHints: string[]
  nodeHints: string[]
  sourceSlices: string[]
}

export interface HealthCheck {
  namespace: string
  name: string
  nodePort: number
  /** Unique Ready, local endpoint IPs over all ports of the Service, per family. */
  localReadyEndpoints: Partial<Record<Family, number>>
}

export interface Diagnostic {
  severity: 'warning' | 'info'
  code: string
  object: { kind: string; namespace?: string; name: string }
  field?: string
  message: string
}

export interface InputSummary {
  services: number
  endpointSlices: number
  nodes: number
  serviceCIDRs: number
  skippedKinds: Record<string, number>
}
