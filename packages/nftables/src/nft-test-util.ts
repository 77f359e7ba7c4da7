/** Helpers for this package's kernel tests (not exported from the package). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecResult, Lab } from '../../../test/lab.js'

/**
 * Runs `nft ARGS... FILE` with `content` in a temporary file. `nft -f -` cannot read the lab's
 * stdin: Node's child pipes are socketpairs, and nft opens /dev/stdin, which fails with ENXIO on
 * a socket. `args` must end with the `-f` flag; `-` placeholders are dropped.
 */
export async function nftFile(lab: Lab, where: string, args: readonly string[], content: string): Promise<ExecResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kproxc-nft-'))
  const file = join(dir, 'ruleset')
  try {
    writeFileSync(file, content)
    return await lab.exec(where, ['nft', ...args.filter((a) => a !== '-'), file])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
