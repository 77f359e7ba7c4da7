/** Where a command reads and writes; tests pass buffers, the bin passes the process streams. */
export interface IO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  stdin: () => Promise<string>
  /** stdin as it arrives (long-running commands such as watch); without it, `stdin()` in one piece. */
  stdinChunks?: () => AsyncIterable<string>
  stdinIsTTY: boolean
  /** Progress lines go to stderr only when it is a terminal. */
  stderrIsTTY?: boolean
  env: Readonly<Record<string, string | undefined>>
}

/** Exit codes of every command. */
export const EXIT = {
  ok: 0,
  invalidInput: 1,
  usage: 2,
  checkMismatch: 3,
  applyFailed: 4,
  unsupported: 5,
  internal: 70,
} as const

/** IO bound to the current process. */
export function processIO(): IO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdin: async () => {
      const chunks: Buffer[] = []
      for await (const c of process.stdin) chunks.push(c as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
    stdinChunks: async function* () {
      process.stdin.setEncoding('utf8')
      for await (const c of process.stdin) yield c as string
    },
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  }
}
