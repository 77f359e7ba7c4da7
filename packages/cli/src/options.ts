import { type Command, Option } from 'commander'
import { type Family, KproxcError, type ModelOptions, type ProxyMode, type InputSource } from '@kproxc/core'
import { readSources } from '@kproxc/core/files'
import type { IO } from './io.js'

/** Options shared by every command that builds a model. */
export interface ModelFlags {
  node?: string
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
  return options
}
