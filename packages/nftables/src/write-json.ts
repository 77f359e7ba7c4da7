/**
 * The fast path of render-json: the same JSON text the typed builders of schema.ts produce (same
 * key order, same shapes), written straight from the IR. render-json.test.ts checks the two agree
 * on every fixture and on random clusters; change both together.
 */
import type { Expr, ExprKind, Op, OpKind, Stmt, StmtKind, Verdict } from './ir.js'
import type { Ctx } from './render-json.js'

const SAFE = /^[\w.:/@*-]*$/

/** A JSON string; names, addresses and protocol names need no escaping, comments might. */
function str(s: string): string {
  return SAFE.test(s) ? `"${s}"` : JSON.stringify(s)
}

function part(p: string | number): string {
  return typeof p === 'number' ? String(p) : str(p)
}

/** `"family":"ip","table":"kube-proxy"`, computed once per context. */
const wheres = new WeakMap<Ctx, string>()
function where(c: Ctx): string {
  let w = wheres.get(c)
  if (w === undefined) {
    w = `"family":${str(c.family)},"table":${str(c.table)}`
    wheres.set(c, w)
  }
  return w
}

function ref(c: Ctx, name: string): string {
  return `{${where(c)},"name":${str(name)}}`
}

function key(parts: readonly (string | number)[]): string {
  return parts.length === 1 ? part(parts[0] as string | number) : `{"concat":[${parts.map(part).join(',')}]}`
}

function verdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `{"${v.kind}":{"target":${str(v.target)}}}` : `{"${v.kind}":null}`
}

const OPS: { [k in OpKind]: (op: Extract<Op, { kind: k }>, c: Ctx) => string } = {
  addTable: (op, c) => `{"add":{"table":{"family":${str(c.family)},"name":${str(c.table)},"comment":${str(op.comment)}}}}`,
  deleteTable: (_op, c) => `{"delete":{"table":{"family":${str(c.family)},"name":${str(c.table)}}}}`,
  addChain: (op, c) => {
    let body = `${where(c)},"name":${str(op.name)}`
    if (op.comment !== undefined) body += `,"comment":${str(op.comment)}`
    if (op.base) body += `,"type":"${op.base.type}","hook":"${op.base.hook}","prio":${op.base.priority}`
    return `{"add":{"chain":{${body}}}}`
  },
  flushChain: (op, c) => `{"flush":{"chain":${ref(c, op.name)}}}`,
  deleteChain: (op, c) => `{"delete":{"chain":${ref(c, op.name)}}}`,
  addSet: (op, c) => {
    const type = op.keyType.length === 1 ? str(op.keyType[0] as string) : `[${op.keyType.map(str).join(',')}]`
    let body = `${where(c)},"name":${str(op.name)},"type":${type}`
    const flags = op.flags?.filter((f) => f !== 'dynamic')
    if (flags?.length) body += `,"flags":[${flags.map(str).join(',')}]`
    if (op.timeoutSeconds !== undefined) body += `,"timeout":${op.timeoutSeconds}`
    if (op.comment !== undefined) body += `,"comment":${str(op.comment)}`
    if (op.container === 'map') body += ',"map":"verdict"'
    return `{"add":{"${op.container}":{${body}}}}`
  },
  flushSet: (op, c) => `{"flush":{"${op.container}":${ref(c, op.name)}}}`,
  deleteSet: (op, c) => `{"delete":{"${op.container}":${ref(c, op.name)}}}`,
  addElement: (op, c) => {
    const val = key(op.key)
    const k = op.comment === undefined ? val : `{"elem":{"val":${val},"comment":${str(op.comment)}}}`
    const item = op.value ? `[${k},${verdict(op.value)}]` : k
    return `{"add":{"element":{${where(c)},"name":${str(op.name)},"elem":[${item}]}}}`
  },
  deleteElement: (op, c) => `{"delete":{"element":{${where(c)},"name":${str(op.name)},"elem":[${key(op.key)}]}}}`,
  addRule: (op, c) => {
    const comment = op.comment === undefined ? '' : `"comment":${str(op.comment)},`
    return `{"add":{"rule":{${where(c)},"chain":${str(op.chain)},${comment}"expr":[${op.stmts.map(stmt).join(',')}]}}}`
  },
}

/** One command as JSON text. */
export function writeOp(op: Op, c: Ctx): string {
  return (OPS[op.kind] as (x: Op, c: Ctx) => string)(op, c)
}

const EXPRS: { [k in ExprKind]: (e: Extract<Expr, { kind: k }>) => string } = {
  payload: (e) => `{"payload":{"protocol":"${e.protocol}","field":"${e.field}"}}`,
  meta: (e) => `{"meta":{"key":"${e.key}"}}`,
  ct: (e) => `{"ct":{"key":"${e.key}"}}`,
  fib: (e) => `{"fib":{"result":"type","flags":["${e.flag}"]}}`,
  concat: (e) => `{"concat":[${e.items.map(expr).join(',')}]}`,
  literal: (e) => str(e.value),
  number: (e) => String(e.value),
  prefix: (e) => `{"prefix":{"addr":${str(e.addr)},"len":${e.len}}}`,
  setRef: (e) => str(`@${e.name}`),
  anonSet: (e) => `{"set":[${e.items.map(expr).join(',')}]}`,
  binop: (e) => `{"${e.op}":[${expr(e.left)},${expr(e.right)}]}`,
  numgen: (e) => `{"numgen":{"mode":"random","mod":${e.mod}}}`,
}

function expr(e: Expr): string {
  return (EXPRS[e.kind] as (x: Expr) => string)(e)
}

const STMTS: { [k in StmtKind]: (s: Extract<Stmt, { kind: k }>) => string } = {
  match: (s) => `{"match":{"op":"${s.op}","left":${expr(s.left)},"right":${expr(s.right)}}}`,
  vmap: (s) => `{"vmap":{"key":${expr(s.key)},"data":${str(`@${s.map}`)}}}`,
  vmapLiteral: (s) => `{"vmap":{"key":${expr(s.key)},"data":{"set":[${s.entries.map(([i, v]) => `[${i},${verdict(v)}]`).join(',')}]}}}`,
  verdict: (s) => verdict(s.verdict),
  markSet: (s) => `{"mangle":{"key":{"meta":{"key":"mark"}},"value":${expr(s.value)}}}`,
  masquerade: (s) => (s.fullyRandom ? '{"masquerade":{"flags":"fully-random"}}' : '{"masquerade":{}}'),
  dnat: (s) => `{"dnat":{"addr":${str(s.addr)},"port":${s.port}}}`,
  dnatMap: (s) => `{"dnat":{"family":"${s.family}","addr":{"map":{"key":${expr(s.key)},"data":{"set":[${s.entries.map(([i, a, p]) => `[${i},{"concat":[${str(a)},${p}]}]`).join(',')}]}}}}}`,
  setUpdate: (s) => `{"set":{"op":"update","elem":${expr(s.elem)},"set":${str(`@${s.set}`)}}}`,
}

function stmt(s: Stmt): string {
  return (STMTS[s.kind] as (x: Stmt) => string)(s)
}
