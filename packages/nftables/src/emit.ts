/**
 * Model → nft JSON or text in one pass, for one-shot compiles (the CLI's `compile`): each service
 * port is compiled straight into the transaction (no recorded steps), and each resulting
 * operation is checked and spelled as it comes, so the IR of the whole transaction never lives at
 * once. Same operations in the same order as compile(), so the same bytes as renderJSON /
 * renderText of it (emit.test.ts compares them).
 */
import type { ProxyModel } from '@kproxc/core'
import { opChecker } from './check.js'
import { type CompileOptions, familyInputs } from './compile.js'
import { compileHead } from './compile-head.js'
import { PortCompiler } from './compile-port.js'
import type { Op } from './ir.js'
import { TABLE } from './names.js'
import { printOp } from './render-text.js'
import { Replay } from './replay.js'
import { jsonWriter } from './write-json.js'

/** Characters per block: at least V8's largest young-generation object (128 KiB). */
const BLOCK = 1 << 17

/** renderJSON(compile(model, options)) or renderText(...), without holding the IR. */
export function emitRuleset(model: ProxyModel, options: CompileOptions, format: 'json' | 'text'): string {
  const fi = familyInputs(model, options)
  const head = `${fi.family} ${TABLE}`
  const spell = format === 'json' ? jsonWriter({ family: fi.family, table: TABLE }) : (op: Op) => printOp(op, head)
  const sep = format === 'json' ? ',\n' : '\n'
  const check = opChecker()
  // Lines are joined into blocks big enough for V8 to allocate outside the young generation,
  // which the collector then never copies; a line is a tree of string pieces until joined, and
  // holding ~10^5 of them to the end made the collector copy them again and again (10k
  // services: 17 MB of JSON, scavenges copied 45 MB before and 25 MB since).
  const blocks: string[] = []
  let lines: string[] = []
  let size = 0
  let n = 0
  const replay = new Replay((op) => {
    check(op, n++)
    const line = spell(op)
    lines.push(line)
    size += line.length
    if (size >= BLOCK) {
      blocks.push(lines.join(sep))
      lines = []
      size = 0
    }
  })
  for (const op of compileHead(fi.head)) replay.op(op)
  const ports = new PortCompiler(fi.port)
  for (const sp of fi.servicePorts) ports.compile(sp, replay)
  if (lines.length > 0) blocks.push(lines.join(sep))
  const body = blocks.join(sep)
  return format === 'json' ? `{"nftables":[\n${body}\n]}\n` : `${body}\n`
}
