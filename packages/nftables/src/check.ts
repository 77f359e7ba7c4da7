/**
 * Structural checks on a compiled ruleset, the way knftables validates each object as it is
 * added to a transaction: nft rejects a whole transaction when a rule, element or verdict names
 * a chain or set that does not exist yet (§10.7 of the reference), or when a name or comment is
 * too long, and its JSON errors carry no location. Catching that here turns a silent
 * `nft: No such file or directory` into an INTERNAL error naming the operation.
 */
import { KproxcError } from '@kproxc/core'
import { COMMENT_LENGTH_MAX } from './names.js'
import type { Expr, Op, Ruleset, Stmt, Verdict } from './ir.js'

/** nft's NFT_NAME_MAXLEN (256 bytes including the terminating NUL). */
const NAME_LENGTH_MAX = 255

/** Throws INTERNAL when an operation refers to an object that does not exist at that point. */
export function checkRuleset(rs: Ruleset): void {
  const check = opChecker()
  rs.ops.forEach((op, i) => check(op, i))
}

/** The same checks one operation at a time, for writers that never hold the whole ruleset. */
export function opChecker(): (op: Op, i: number) => void {
  const chains = new Set<string>()
  const sets = new Set<string>()
  let table = false
  let kind = ''
  const fail = (i: number, msg: string): never => {
    throw new KproxcError('INTERNAL', `nftables ruleset operation ${i} (${kind}): ${msg}`)
  }
  const needChain = (i: number, name: string) => chains.has(name) || fail(i, `chain ${name} does not exist yet`)
  const needSet = (i: number, name: string) => sets.has(name) || fail(i, `set ${name} does not exist yet`)
  const verdict = (i: number, v: Verdict) => {
    if (v.kind === 'jump' || v.kind === 'goto') needChain(i, v.target)
  }
  const expr = (i: number, e: Expr): void => {
    if (e.kind === 'setRef') needSet(i, e.name)
    else if (e.kind === 'concat' || e.kind === 'anonSet') for (const x of e.items) expr(i, x)
    else if (e.kind === 'binop') {
      expr(i, e.left)
      expr(i, e.right)
    }
  }
  const stmt = (i: number, s: Stmt): void => {
    switch (s.kind) {
      case 'match':
        expr(i, s.left)
        expr(i, s.right)
        return
      case 'vmap':
        expr(i, s.key)
        needSet(i, s.map)
        return
      case 'vmapLiteral':
        for (const [, v] of s.entries) verdict(i, v)
        return
      case 'verdict':
        verdict(i, s.verdict)
        return
      case 'setUpdate':
        needSet(i, s.set)
        return
      case 'dnatMap':
        if (s.entries.length === 0) fail(i, 'empty DNAT map')
        return
      default:
        return
    }
  }
  const comment = (i: number, c: string | undefined) => {
    if (c !== undefined && Buffer.byteLength(c, 'utf8') > COMMENT_LENGTH_MAX) fail(i, `comment longer than ${COMMENT_LENGTH_MAX} bytes`)
  }
  return (op: Op, i) => {
    kind = op.kind
    if (op.kind !== 'addTable' && op.kind !== 'deleteTable' && !table) fail(i, 'table does not exist yet')
    switch (op.kind) {
      case 'addTable':
        table = true
        return
      case 'deleteTable':
        table = false
        chains.clear()
        sets.clear()
        return
      case 'addChain':
        if (op.name.length > NAME_LENGTH_MAX) fail(i, `chain name too long: ${op.name}`)
        comment(i, op.comment)
        chains.add(op.name)
        return
      case 'flushChain':
        needChain(i, op.name)
        return
      case 'deleteChain':
        needChain(i, op.name)
        chains.delete(op.name)
        return
      case 'addSet':
        if (op.name.length > NAME_LENGTH_MAX) fail(i, `set name too long: ${op.name}`)
        comment(i, op.comment)
        sets.add(op.name)
        return
      case 'flushSet':
        needSet(i, op.name)
        return
      case 'deleteSet':
        needSet(i, op.name)
        sets.delete(op.name)
        return
      case 'addElement':
        needSet(i, op.name)
        comment(i, op.comment)
        if (op.value) verdict(i, op.value)
        return
      case 'deleteElement':
        needSet(i, op.name)
        return
      case 'addRule':
        needChain(i, op.chain)
        comment(i, op.comment)
        for (const s of op.stmts) stmt(i, s)
        return
    }
  }
}
