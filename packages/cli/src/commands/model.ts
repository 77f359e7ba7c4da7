import { Command, Option } from 'commander'
import { type ProxyMode, loadObjects, buildModel, stableJSON, KproxcError, parseIP } from '@kproxc/core'
import type { IO } from '../io.js'
import { type Progress, withProgress } from '../progress.js'
import { type ModelFlags, addModelOptions, familyFlag, modelOptions, readInputs } from '../options.js'

/** `kproxc model`: prints the normalized proxy model as JSON. */
export function modelCommand(io: IO): Command {
  const cmd = new Command('model')
    .description('print the normalized proxy model (what kube-proxy would do with each Service port) as JSON')
    .argument('[files...]', 'YAML or JSON inputs (kubectl get svc,endpointslices,nodes -A -o yaml); - for stdin')
    .addOption(new Option('--mode <mode>', 'proxy mode whose defaults apply (default: config mode, else iptables)').choices(['iptables', 'nftables', 'ipvs']))
  addModelOptions(cmd)
  cmd.action(async (files: string[], flags: ModelFlags) => {
    const text = await withProgress(io, async (p) => {
      const model = await loadModel(files, flags, io, flags.mode as ProxyMode | undefined, undefined, p)
      p.phase('writing the model')
      return stableJSON(model)
    })
    io.stdout(text)
  })
  return cmd
}

/** Reads inputs and builds the model; --ip-family limits the families computed. */
export async function loadModel(files: string[], flags: ModelFlags, io: IO, mode: ProxyMode | undefined, defaultFamilies?: 'primary', progress?: Progress) {
  checkIPFlags(flags)
  progress?.phase('reading inputs')
  const sources = await readInputs(files, flags, io)
  progress?.phase('validating objects')
  const objects = loadObjects(sources)
  progress?.phase('building the model')
  const family = familyFlag(flags.ipFamily)
  if (family || !defaultFamilies) return buildModel(objects, modelOptions(flags, mode, family ? [family] : undefined))
  // Single-family outputs default to the node's primary family.
  const probe = buildModel({ ...objects, services: [], endpointSlices: [] }, modelOptions(flags, mode, ['IPv4']))
  return buildModel(objects, modelOptions(flags, mode, [probe.node.primaryFamily]))
}

function checkIPFlags(flags: ModelFlags): void {
  for (const [flag, list] of [['--node-ip', flags.nodeIp], ['--host-address', flags.hostAddress]] as const) {
    for (const ip of list ?? []) {
      const p = parseIP(ip)
      if ('error' in p) throw new KproxcError('USAGE', `${flag}: ${JSON.stringify(ip)} ${p.error}`)
    }
  }
}
