import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTwoFilesPatch } from 'diff'
import { Command, Option } from 'commander'
import { type Backend, KproxcError, type OutputFile, type ProxyMode } from '@kproxc/core'
import type { IO } from '../io.js'
import { type ModelFlags, addBackendOptions, addModelOptions } from '../options.js'
import { BACKENDS } from '../backends.js'
import { loadModel } from './model.js'
import { withProgress } from '../progress.js'

interface CompileFlags extends ModelFlags {
  format?: string
  output?: string
  check?: string
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
    .option('--check <golden>', 'compare with this file (directory for multi-file modes): exit 0 when equal, else print a unified diff and exit 3')
  addModelOptions(cmd)
  addBackendOptions(cmd)
  cmd.action(async (files: string[], flags: CompileFlags) => {
    const backend = BACKENDS[flags.mode as ProxyMode] as Backend
    const format = flags.format ?? backend.formats[0] ?? ''
    if (!backend.formats.includes(format)) {
      throw new KproxcError('USAGE', `--format ${format} is not available for --mode ${backend.mode} (choose ${backend.formats.join(', ')})`)
    }
    const out = await withProgress(io, async (shown) => {
      const model = await loadModel(files, flags, io, backend.mode, 'primary', shown)
      const family = model.families[0]?.family ?? 'IPv4'
      const options = Object.fromEntries(backend.options.map((o) => [o.key, flags[o.key] as string | boolean | undefined]))
      shown.phase(`compiling ${model.families[0]?.servicePorts.length ?? 0} service ports for ${backend.mode}`)
      return backend.emit(model, { family, format, options })
    })
    if (flags.check) {
      if (flags.output) throw new KproxcError('USAGE', '--check and -o do not go together')
      const diff = await checkGolden(out, backend, flags.check)
      if (diff) {
        io.stdout(diff)
        throw new CheckMismatch(flags.check)
      }
      return
    }
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

/** Thrown when --check finds a difference; the CLI maps it to exit code 3. */
export class CheckMismatch extends Error {
  constructor(readonly golden: string) {
    super(`output differs from ${golden}`)
  }
}

/** A unified diff from the golden file(s) to the compiled output, or '' when they are equal. */
async function checkGolden(files: OutputFile[], backend: Backend, golden: string): Promise<string> {
  const pairs = backend.multiFile
    ? files.map((f) => ({ path: join(golden, f.name), content: f.content }))
    : [{ path: golden, content: files.map((f) => f.content).join('') }]
  let out = ''
  for (const { path, content } of pairs) {
    let expected: string
    try {
      expected = await readFile(path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      throw new KproxcError('USAGE', `--check: cannot read ${path}: no such file`)
    }
    if (expected !== content) out += createTwoFilesPatch(path, 'compiled', expected, content, undefined, undefined, { context: 3 })
  }
  return out
}
