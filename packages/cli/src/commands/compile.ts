import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { type Backend, KproxcError, type OutputFile, type ProxyMode } from '@kproxc/core'
import type { IO } from '../io.js'
import { type ModelFlags, addModelOptions } from '../options.js'
import { BACKENDS } from '../backends.js'
import { loadModel } from './model.js'

interface CompileFlags extends ModelFlags {
  format?: string
  output?: string
  [key: string]: unknown
}

/** `kproxc compile`: the model rendered as one mode's kernel ruleset. */
export function compileCommand(io: IO): Command {
  const cmd = new Command('compile')
    .description("compile Services and EndpointSlices into the ruleset kube-proxy would program on this node")
    .argument('[files...]', 'YAML or JSON inputs; - for stdin')
    .addOption(new Option('--mode <mode>', 'proxy mode').choices(Object.keys(BACKENDS)).makeOptionMandatory())
    .option('--format <format>', 'output format (iptables: text; nftables: json or text; ipvs: bundle)')
    .option('-o, --output <path>', 'write to this file (a directory for multi-file modes) instead of stdout')
  addModelOptions(cmd)
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
  cmd.action(async (files: string[], flags: CompileFlags) => {
    const backend = BACKENDS[flags.mode as ProxyMode] as Backend
    const format = flags.format ?? backend.formats[0] ?? ''
    if (!backend.formats.includes(format)) {
      throw new KproxcError('USAGE', `--format ${format} is not available for --mode ${backend.mode} (choose ${backend.formats.join(', ')})`)
    }
    const model = await loadModel(files, flags, io, backend.mode, 'primary')
    const family = model.families[0]?.family ?? 'IPv4'
    const options = Object.fromEntries(backend.options.map((o) => [o.key, flags[o.key] as string | boolean | undefined]))
    const out = backend.emit(model, { family, format, options })
    await writeOutput(out, backend, flags.output, io)
  })
  return cmd
}

async function writeOutput(files: OutputFile[], backend: Backend, output: string | undefined, io: IO): Promise<void> {
  if (!output || output === '-') {
    if (!backend.multiFile) return io.stdout(files.map((f) => f.content).join(''))
    return io.stdout(files.map((f) => `# ==> ${f.name} <==\n${f.content}`).join(''))
  }
  if (!backend.multiFile) return writeFile(output, files.map((f) => f.content).join(''))
  await mkdir(output, { recursive: true })
  for (const f of files) await writeFile(join(output, f.name), f.content)
}
