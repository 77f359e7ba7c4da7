/**
 * Progress of long runs on stderr, only when stderr is a terminal: one line, rewritten per phase,
 * erased at the end. Pipes and files never see it, so captured output stays clean.
 */
import type { IO } from './io.js'

export interface Progress {
  /** A new phase begins (`reading inputs`, `building the model`, ...). */
  phase(name: string): void
  /** Erases the line. */
  done(): void
}

const SILENT: Progress = { phase: () => {}, done: () => {} }

/** Runs `work` with a progress line that is erased when it ends, however it ends. */
export async function withProgress<T>(io: IO, work: (p: Progress) => Promise<T>): Promise<T> {
  const p = progress(io)
  try {
    return await work(p)
  } finally {
    p.done()
  }
}

/** A progress line on `io.stderr` when it is a terminal; otherwise nothing. */
export function progress(io: IO): Progress {
  if (!io.stderrIsTTY) return SILENT
  const start = Date.now()
  let shown = false
  return {
    phase(name) {
      shown = true
      io.stderr(`\r\u001b[Kkproxc: ${name}… (${((Date.now() - start) / 1000).toFixed(1)} s)`)
    },
    done() {
      if (shown) io.stderr('\r\u001b[K')
      shown = false
    },
  }
}
