import { readFile } from 'node:fs/promises'
import type { InputSource } from './load.js'

/** Reads files (or "-" for stdin) as input sources: the only module of core that does I/O. */
export async function readSources(paths: readonly string[], stdin: () => Promise<string>): Promise<InputSource[]> {
  const out: InputSource[] = []
  for (const path of paths) {
    out.push(path === '-' ? { name: '<stdin>', text: await stdin() } : { name: path, text: await readFile(path, 'utf8') })
  }
  return out
}
