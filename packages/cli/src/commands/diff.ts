import { writeFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { type Backend, type Family, KproxcError, type LoadedObjects, ModelStore, type ProxyMode, buildModel, deepEqual, loadObjects } from '@kproxc/core'
import type { IO } from '../io.js'
import { type ModelFlags, addBackendOptions, addModelOptions, familyFlag, modelOptions, readInputs } from '../options.js'
import { BACKENDS } from '../backends.js'
import { objectChanges } from '../changes.js'
import { joinFiles, syncSession } from '../sync.js'
import { withProgress } from '../progress.js'

interface DiffFlags extends ModelFlags {
  to: string[]
  format?: string
  output?: string
  [key: string]: unknown
}

/** `kproxc diff OLD... --to NEW...`: the minimal update from OLD's kernel state to NEW's. */
export function diffCommand(io: IO): Command {
  const cmd = new Command('diff')
    .description("print the update that turns the kernel state compiled from OLD into NEW's, as kube-proxy's partial sync writes it (iptables: --noflush restore; nftables: one transaction; ipvs: ipvsadm -R, ipset restore, --noflush restore and kube-ipvs0 lines)")
    .argument('<old...>', 'YAML or JSON inputs of the old state; - for stdin')
    .requiredOption('--to <new...>', 'YAML or JSON inputs of the new state')
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(Object.keys(BACKENDS)).makeOptionMandatory())
    .option('--format <format>', 'output format (nftables: json or text)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
  addModelOptions(cmd)
  addBackendOptions(cmd)
  cmd.action(async (oldFiles: string[], flags: DiffFlags) => {
    const mode = flags.mode as ProxyMode
    const backend = BACKENDS[mode] as Backend
    const format = flags.format ?? backend.formats[0] ?? ''
    if (!backend.formats.includes(format)) {
      throw new KproxcError('USAGE', `--format ${format} is not available for --mode ${backend.mode} (choose ${backend.formats.join(', ')})`)
    }
    const text = await withProgress(io, async (p) => {
      p.phase('reading and validating OLD')
      const old = loadObjects(await readInputs(oldFiles, flags, io))
      p.phase('reading and validating NEW')
      const next = loadObjects(await readInputs(flags.to, flags, io))
      const family = familyFlag(flags.ipFamily) ?? primaryFamily(old, flags, mode)
      const options = modelOptions(flags, mode, [family])
      p.phase('building and compiling OLD')
      const store = new ModelStore(options, old)
      const session = syncSession(mode, family, format, Object.fromEntries(backend.options.map((o) => [o.key, flags[o.key] as string | boolean | undefined])))
      session.prime(store.model)
      p.phase('computing the delta to NEW')
      // The store keeps OLD's configuration; a changed one means a model of its own (no shared ports).
      const model = deepEqual(old.config, next.config) ? store.apply(objectChanges(old, next)).model : buildModel(next, options)
      return joinFiles(session.delta(model), backend.multiFile)
    })
    if (flags.output && flags.output !== '-') await writeFile(flags.output, text)
    else io.stdout(text)
  })
  return cmd
}

/** The node's primary family: what single-family outputs default to. */
export function primaryFamily(objects: LoadedObjects, flags: ModelFlags, mode: ProxyMode): Family {
  const probe = buildModel({ ...objects, services: [], endpointSlices: [] }, modelOptions(flags, mode, ['IPv4']))
  return probe.node.primaryFamily
}
