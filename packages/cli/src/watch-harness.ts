/**
 * Test harness for `kproxc watch`: runs the command over stdin chunks that arrive `gapMs` apart
 * (so each chunk can make its own sync), with the given runner in place of the tools, and returns
 * what it printed. Shared by the watch tests; not part of the bin.
 */
import type { Runner } from '@kproxc/iptables/apply'
import { watchCommand } from './commands/watch.js'
import type { IO } from './io.js'

export interface WatchRun {
  argv: readonly string[]
  chunks: readonly string[]
  runner?: Runner
  /** Pause after each chunk (default 100 ms). */
  gapMs?: number
  /** Called after each pause. */
  between?: () => Promise<void>
  env?: Readonly<Record<string, string | undefined>>
}

export async function runWatch(run: WatchRun): Promise<{ stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const { chunks, gapMs = 100, between } = run
  const io: IO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: async () => chunks.join(''),
    stdinChunks: async function* () {
      for (const c of chunks) {
        yield c
        await new Promise((r) => setTimeout(r, gapMs))
        await between?.()
      }
    },
    stdinIsTTY: false,
    env: run.env ?? {},
  }
  const runner = run.runner
  const cmd = runner ? watchCommand(io, () => runner) : watchCommand(io)
  cmd.exitOverride()
  await cmd.parseAsync([...run.argv], { from: 'user' })
  return { stdout, stderr }
}
