/**
 * Model → nft JSON or text in one pass, for one-shot compiles (the CLI's `compile`): each service
 * port's steps are compiled, replayed, checked and spelled, then dropped, so the IR of the whole
 * transaction never lives at once. Same operations in the same order as compile(), so the same
 * bytes as renderJSON / renderText of it (emit.test.ts compares them).
 */
import type { ProxyModel } from '@kproxc/core'
import { opChecker } from './check.js'
import { type CompileOptions, Replay, compilePartsLazily } from './compile.js'
import type { Op } from './ir.js'
import { printOp } from './render-text.js'
import { writeOp } from './write-json.js'

/** renderJSON(compile(model, options)) or renderText(...), without holding the IR. */
export function emitRuleset(model: ProxyModel, options: CompileOptions, format: 'json' | 'text'): string {
  const lazy = compilePartsLazily(model, options)
  const ctx = { family: lazy.family, table: lazy.table }
  const head = `${lazy.family} ${lazy.table}`
  const spell = format === 'json' ? (op: Op) => writeOp(op, ctx) : (op: Op) => printOp(op, head)
  const check = opChecker()
  const chunks: string[] = []
  let n = 0
  const replay = new Replay(lazy.head)
  const drain = () => {
    const ops = replay.ops
    if (ops.length === 0) return
    const lines = new Array<string>(ops.length)
    for (let i = 0; i < ops.length; i++) {
      check(ops[i] as Op, n++)
      lines[i] = spell(ops[i] as Op)
    }
    ops.length = 0
    chunks.push(lines.join(format === 'json' ? ',\n' : '\n'))
  }
  drain()
  for (const sp of lazy.ports) {
    replay.steps(lazy.fragment(sp).steps)
    drain()
  }
  const body = chunks.join(format === 'json' ? ',\n' : '\n')
  return format === 'json' ? `{"nftables":[\n${body}\n]}\n` : `${body}\n`
}
