import { type Command, Option } from 'commander'
import { type ConfigObject, type Family, type InputSource, KproxcError, type ModelOptions, type ProxyMode, configRules, configSchema, formatPath } from '@kproxc/core'
import { readSources } from '@kproxc/core/files'
import { BACKENDS } from './backends.js'
import type { IO } from './io.js'

/** Options shared by every command that builds a model. */
export interface ModelFlags {
  node?: string
  clusterCidr?: string
  detectLocalMode?: string
  masqueradeAll?: boolean
  nodeportAddresses?: string[]
  bindAddress?: string
  ipFamily?: string
  config?: string
  mode?: string
  nodeIp?: string[]
  hostAddress?: string[]
  serviceProxyName?: string
}

/** Adds --node, --ip-family, --config, --node-ip, --host-address, --service-proxy-name. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--node <name>', 'node to compile for (default: hostnameOverride, else the only Node in the input)')
    .addOption(new Option('--ip-family <family>', 'IP family').choices(['ipv4', 'ipv6', 'IPv4', 'IPv6']))
    .option('--config <file>', 'KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1)')
    .option('--node-ip <ip...>', 'node IPs, overriding bindAddress and the Node object (first decides the primary family)')
    .option('--host-address <ip...>', "the host's interface addresses (default: the Node's InternalIP/ExternalIP addresses)")
    .option('--service-proxy-name <name>', 'act as an alternative proxy: keep only objects with this service-proxy-name label')
    .option('--cluster-cidr <cidrs>', 'overrides clusterCIDR (comma-separated, one per family)')
    .option('--detect-local-mode <mode>', 'overrides detectLocalMode (ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix)')
    .option('--masquerade-all', "overrides the mode's masqueradeAll with true")
    .option('--nodeport-addresses <cidrs...>', 'overrides nodePortAddresses (CIDRs, or primary)')
    .option('--bind-address <ip>', 'overrides bindAddress (a non-zero address sets the primary node IP)')
}

/** Adds every backend's own options (each declared once, even when several backends share it). */
export function addBackendOptions(cmd: Command): Command {
  const seen = new Set<string>()
  for (const backend of Object.values(BACKENDS)) {
    for (const opt of backend.options) {
      if (seen.has(opt.flags)) continue
      seen.add(opt.flags)
      const o = new Option(opt.flags, `${opt.description} (${backend.mode})`)
      if (opt.choices) o.choices(opt.choices)
      if (opt.default !== undefined) o.default(opt.default)
      cmd.addOption(o)
    }
  }
  return cmd
}

/** Parses --ip-family. */
export function familyFlag(value: string | undefined): Family | undefined {
  if (!value) return undefined
  return value.toLowerCase() === 'ipv6' ? 'IPv6' : 'IPv4'
}

/** Reads the input files (stdin when none are given and stdin is not a terminal) plus --config. */
export async function readInputs(files: readonly string[], flags: ModelFlags, io: IO): Promise<InputSource[]> {
  let paths = [...files]
  if (paths.length === 0) {
    if (io.stdinIsTTY) throw new KproxcError('USAGE', 'no input: give FILE arguments or pipe objects on stdin (use - for stdin)')
    paths = ['-']
  }
  if (flags.config) paths.push(flags.config)
  try {
    return await readSources(paths, io.stdin)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw new KproxcError('USAGE', `cannot read ${err.path ?? 'input'}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  }
}

/** ModelOptions from the flags. */
export function modelOptions(flags: ModelFlags, mode: ProxyMode | undefined, families?: Family[]): ModelOptions {
  const options: ModelOptions = {}
  if (flags.node) options.nodeName = flags.node
  if (mode) options.mode = mode
  if (families) options.families = families
  if (flags.nodeIp) options.nodeIPs = flags.nodeIp
  if (flags.hostAddress) options.hostAddresses = flags.hostAddress
  if (flags.serviceProxyName) options.serviceProxyName = flags.serviceProxyName
  const config = configOverrides(flags)
  if (config) options.config = config
  return options
}

/** Config fields given as flags, validated like a KubeProxyConfiguration (issues name the flags). */
export function configOverrides(flags: ModelFlags): ConfigObject | undefined {
  const raw: Record<string, unknown> = {}
  if (flags.clusterCidr !== undefined) raw.clusterCIDR = flags.clusterCidr
  if (flags.detectLocalMode !== undefined) raw.detectLocalMode = flags.detectLocalMode
  if (flags.masqueradeAll) {
    raw.iptables = { masqueradeAll: true }
    raw.nftables = { masqueradeAll: true }
  }
  if (flags.nodeportAddresses) raw.nodePortAddresses = flags.nodeportAddresses
  if (flags.bindAddress !== undefined) raw.bindAddress = flags.bindAddress
  if (Object.keys(raw).length === 0) return undefined
  const parsed = configSchema.safeParse(raw)
  const crossed = configRules.safeParse(raw)
  const issues = [...(parsed.error?.issues ?? []), ...(crossed.error?.issues ?? [])]
  if (!parsed.success || issues.length > 0) {
    throw new KproxcError('INVALID_INPUT', 'invalid flags', issues.map((i) => ({
      object: { kind: 'flags', name: 'command line' }, path: formatPath(i.path), value: valueAt(raw, i.path), message: i.message,
    })))
  }
  return parsed.data
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined
  return cur
}
