import { Command, CommanderError } from 'commander'
import { KproxcError, formatIssue } from '@kproxc/core'
import { CheckMismatch, compileCommand } from './commands/compile.js'
import { modelCommand } from './commands/model.js'
import { applyCommand } from './commands/apply.js'
import { statsCommand } from './commands/stats.js'
import { traceCommand } from './commands/trace.js'
import { compareCommand } from './commands/compare.js'
import { diffCommand } from './commands/diff.js'
import { watchCommand } from './commands/watch.js'
import { EXIT, type IO, processIO } from './io.js'

const VERSION = '0.1.0'

/** Builds the program with every command bound to `io`. */
export function program(io: IO): Command {
  const root = new Command('kproxc')
    .description("compile Kubernetes Services and EndpointSlices into kube-proxy's exact kernel rulesets")
    .version(VERSION)
    .showHelpAfterError(false)
  root.addCommand(modelCommand(io))
  root.addCommand(compileCommand(io))
  root.addCommand(applyCommand(io))
  root.addCommand(statsCommand(io))
  root.addCommand(traceCommand(io))
  root.addCommand(compareCommand(io))
  root.addCommand(diffCommand(io))
  root.addCommand(watchCommand(io))
  return root
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], io: IO): Promise<number> {
  const root = program(io)
  const configure = (cmd: Command) => {
    cmd.exitOverride()
    cmd.configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    cmd.commands.forEach(configure)
  }
  configure(root)
  try {
    await root.parseAsync([...argv], { from: 'user' })
    return EXIT.ok
  } catch (e) {
    return report(e, io)
  }
}

function report(e: unknown, io: IO): number {
  if (e instanceof CheckMismatch) {
    io.stderr(`kproxc: ${e.message}\n`)
    return EXIT.checkMismatch
  }
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok
    return EXIT.usage
  }
  if (e instanceof KproxcError) {
    if (e.issues.length > 0) {
      io.stderr(`kproxc: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'} in the input:\n`)
      for (const issue of e.issues) io.stderr(`  ${formatIssue(issue)}\n`)
    } else {
      io.stderr(`kproxc: ${e.message}\n`)
    }
    switch (e.code) {
      case 'INVALID_INPUT':
        return EXIT.invalidInput
      case 'USAGE':
        return EXIT.usage
      case 'APPLY_FAILED':
        return EXIT.applyFailed
      case 'UNSUPPORTED':
        return EXIT.unsupported
      default:
        return EXIT.internal
    }
  }
  io.stderr(`kproxc: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  return EXIT.internal
}

/** Entry point of the bin. */
export async function main(): Promise<number> {
  return run(process.argv.slice(2), processIO())
}

export { EXIT, type IO } from './io.js'
