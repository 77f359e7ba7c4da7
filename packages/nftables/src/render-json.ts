/**
 * IR → libnftables JSON (what `nft -j -f` loads), through the typed builders of schema.ts. The
 * text form is one command per line so golden diffs stay readable.
 */
import type { Expr, ExprKind, Op, OpKind, Ruleset, Stmt, StmtKind, Verdict } from './ir.js'
import { jsonWriter } from './write-json.js'
import { type NftCommand, type NftDocument, type NftElementItem, type NftElementKey, type NftExpression, type NftFamily, type NftSetFlag, type NftStatement, type NftVerdict, nft } from './schema.js'

/** The ruleset as a typed libnftables JSON document. */
export function toNftDocument(rs: Ruleset): NftDocument {
  const ctx: Ctx = { family: rs.family, table: rs.table }
  const commands = new Array<NftCommand>(rs.ops.length)
  for (let i = 0; i < rs.ops.length; i++) commands[i] = buildOp(rs.ops[i] as Op, ctx)
  return nft.document(commands)
}

/**
 * The ruleset as `nft -j -f` input: `{"nftables":[` then one command per line. Byte-identical to
 * `JSON.stringify` of each command of `toNftDocument` (tests hold it to that), but written
 * directly: building and stringifying ~10^5 small objects costs several times more.
 */
export function renderJSON(rs: Ruleset): string {
  const write = jsonWriter({ family: rs.family, table: rs.table })
  const lines = new Array<string>(rs.ops.length)
  for (let i = 0; i < rs.ops.length; i++) lines[i] = write(rs.ops[i] as Op)
  return `{"nftables":[\n${lines.join(',\n')}\n]}\n`
}

/** Where every object of a ruleset lives. */
export interface Ctx {
  family: NftFamily
  table: string
}

type Builder<K extends string, T extends { kind: K }, R> = { [k in K]: (x: Extract<T, { kind: k }>, ctx: Ctx) => R }

const OPS: Builder<OpKind, Op, NftCommand> = {
  addTable: (op, c) => nft.add(nft.table(c.family, c.table, op.comment)),
  deleteTable: (_op, c) => nft.delete(nft.table(c.family, c.table)),
  addChain: (op, c) => {
    const chain: Parameters<typeof nft.chain>[0] = { family: c.family, table: c.table, name: op.name }
    if (op.comment !== undefined) chain.comment = op.comment
    if (op.base) {
      chain.type = op.base.type
      chain.hook = op.base.hook
      // P3: must be a JSON integer, or nft 1.0.6 silently makes a regular chain.
      chain.prio = op.base.priority
    }
    return nft.add(nft.chain(chain))
  },
  flushChain: (op, c) => nft.flush(nft.chainRef(c.family, c.table, op.name)),
  deleteChain: (op, c) => nft.delete(nft.chainRef(c.family, c.table, op.name)),
  addSet: (op, c) => {
    const type = op.keyType.length === 1 ? (op.keyType[0] as (typeof op.keyType)[number]) : [...op.keyType]
    const body: Parameters<typeof nft.set>[0] = { family: c.family, table: c.table, name: op.name, type }
    // P2: nft 1.0.6's JSON parser rejects `dynamic`; nft adds it by itself when a rule updates
    // the set from the packet path (and then lists the set with `size 65535`).
    const flags = op.flags?.filter((f) => f !== 'dynamic').map((f): NftSetFlag => f)
    if (flags?.length) body.flags = flags
    if (op.timeoutSeconds !== undefined) body.timeout = op.timeoutSeconds
    if (op.comment !== undefined) body.comment = op.comment
    return nft.add(op.container === 'map' ? nft.map({ ...body, map: 'verdict' }) : nft.set(body))
  },
  flushSet: (op, c) => nft.flush(op.container === 'map' ? { map: nft.setRef(c.family, c.table, op.name).set } : nft.setRef(c.family, c.table, op.name)),
  deleteSet: (op, c) => nft.delete(op.container === 'map' ? { map: nft.setRef(c.family, c.table, op.name).set } : nft.setRef(c.family, c.table, op.name)),
  addElement: (op, c) => {
    const val = elementValue(op.key)
    const key: NftElementKey = op.comment === undefined ? val : nft.elemWithComment(val, op.comment)
    const item: NftElementItem = op.value ? [key, buildVerdict(op.value)] : key
    return nft.add(nft.element(c.family, c.table, op.name, [item]))
  },
  // Deleting needs the key only, never the value or comment.
  deleteElement: (op, c) => nft.delete(nft.element(c.family, c.table, op.name, [elementValue(op.key)])),
  addRule: (op, c) => nft.add(nft.rule(c.family, c.table, op.chain, op.stmts.map(buildStmt), op.comment)),
}

function buildOp(op: Op, ctx: Ctx): NftCommand {
  return (OPS[op.kind] as (x: Op, c: Ctx) => NftCommand)(op, ctx)
}

/** P5: a multi-part key must be a `concat`; a bare array would mean an anonymous set. */
function elementValue(parts: readonly (string | number)[]): string | number | { concat: NftExpression[] } {
  return parts.length === 1 ? (parts[0] as string | number) : nft.concat([...parts])
}

function buildVerdict(v: Verdict): NftVerdict {
  switch (v.kind) {
    case 'jump':
      return nft.jump(v.target)
    case 'goto':
      return nft.goto(v.target)
    case 'drop':
      return nft.drop()
    case 'reject':
      return nft.reject()
    case 'return':
      return nft.return()
  }
}

const EXPRS: { [k in ExprKind]: (e: Extract<Expr, { kind: k }>) => NftExpression } = {
  payload: (e) => nft.payload(e.protocol, e.field),
  meta: (e) => nft.meta(e.key),
  ct: (e) => nft.ct(e.key),
  fib: (e) => nft.fib(e.flag),
  concat: (e) => nft.concat(e.items.map(buildExpr)),
  literal: (e) => e.value,
  number: (e) => e.value,
  prefix: (e) => nft.prefix(e.addr, e.len),
  setRef: (e) => `@${e.name}`,
  anonSet: (e) => nft.anonSet(e.items.map(buildExpr)),
  binop: (e) => nft.binop(e.op, buildExpr(e.left), buildExpr(e.right)),
  numgen: (e) => nft.numgen(e.mod),
}

function buildExpr(e: Expr): NftExpression {
  return (EXPRS[e.kind] as (x: Expr) => NftExpression)(e)
}

const STMTS: { [k in StmtKind]: (s: Extract<Stmt, { kind: k }>) => NftStatement } = {
  // P7: `ct state`/`ct status` use "in" (a bit test), as nft's text parser compiles them.
  match: (s) => nft.match(s.op, buildExpr(s.left), buildExpr(s.right)),
  vmap: (s) => nft.vmap(buildExpr(s.key), `@${s.map}`),
  vmapLiteral: (s) => nft.vmap(buildExpr(s.key), nft.anonSet(s.entries.map(([i, v]) => [i, buildVerdict(v)]))),
  verdict: (s) => buildVerdict(s.verdict),
  markSet: (s) => nft.mangle(nft.meta('mark'), buildExpr(s.value)),
  masquerade: (s) => nft.masquerade(s.fullyRandom),
  dnat: (s) => nft.dnat(s.addr, s.port),
  // P12: the family is optional in ip/ip6 tables but kept, as the text form names it.
  dnatMap: (s) => nft.dnat(nft.lookupMap(buildExpr(s.key), nft.anonSet(s.entries.map(([i, a, p]) => [i, nft.concat([a, p])]))), undefined, s.family),
  setUpdate: (s) => nft.setUpdate(s.set, buildExpr(s.elem)),
}

function buildStmt(s: Stmt): NftStatement {
  return (STMTS[s.kind] as (x: Stmt) => NftStatement)(s)
}
