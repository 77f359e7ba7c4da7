/**
 * The fast path of render-json: the same JSON text the typed builders of schema.ts produce (same
 * key order, same shapes), written straight from the IR. render-json.test.ts checks the two agree
 * on every fixture and on random clusters; change both together.
 */
import type { Expr, ExprKind, Op, OpKind, Stmt, StmtKind, Verdict } from './ir.js'
import type { Ctx } from './render-json.js'

/** What JSON.stringify escapes: quote, backslash, control characters, lone surrogates. */
const UNSAFE = /["\\\u0000-\u001f\ud800-\udfff]/

/** A JSON string; names, addresses and protocol names never need escaping, comments might. */
function str(s: string): string {
  return UNSAFE.test(s) ? JSON.stringify(s) : `"${s}"`
}

function part(p: string | number): string {
  return typeof p === 'number' ? String(p) : str(p)
}

/** What every operation of one table repeats, spelled once. */
interface Where {
  family: string
  table: string
  /** `"family":"ip","table":"kube-proxy"` */
  where: string
  /** `{"add":{"element":{…,"name":"SET","elem":[` by set: most operations add elements to a few sets. */
  addElement: Map<string, string>
}

function whereOf(c: Ctx): Where {
  const family = str(c.family)
  const table = str(c.table)
  return { family, table, where: `"family":${family},"table":${table}`, addElement: new Map() }
}

function ref(w: Where, name: string): string {
  return `{${w.where},"name":${str(name)}}`
}

function key(parts: readonly (string | number)[]): string {
  return parts.length === 1 ? part(parts[0] as string | number) : `{"concat":[${parts.map(part).join(',')}]}`
}

function verdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `{"${v.kind}":{"target":${str(v.target)}}}` : `{"${v.kind}":null}`
}

const OPS: { [k in OpKind]: (op: Extract<Op, { kind: k }>, c: Where) => string } = {
  addTable: (op, c) => `{"add":{"table":{"family":${c.family},"name":${c.table},"comment":${str(op.comment)}}}}`,
  deleteTable: (_op, c) => `{"delete":{"table":{"family":${c.family},"name":${c.table}}}}`,
  addChain: (op, c) => {
    let body = `${c.where},"name":${str(op.name)}`
    if (op.comment !== undefined) body += `,"comment":${str(op.comment)}`
    if (op.base) body += `,"type":"${op.base.type}","hook":"${op.base.hook}","prio":${op.base.priority}`
    return `{"add":{"chain":{${body}}}}`
  },
  flushChain: (op, c) => `{"flush":{"chain":${ref(c, op.name)}}}`,
  deleteChain: (op, c) => `{"delete":{"chain":${ref(c, op.name)}}}`,
  addSet: (op, c) => {
    const type = op.keyType.length === 1 ? str(op.keyType[0] as string) : `[${op.keyType.map(str).join(',')}]`
    let body = `${c.where},"name":${str(op.name)},"type":${type}`
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
    let head = c.addElement.get(op.name)
    if (head === undefined) c.addElement.set(op.name, (head = `{"add":{"element":{${c.where},"name":${str(op.name)},"elem":[`))
    const val = key(op.key)
    const k = op.comment === undefined ? val : `{"elem":{"val":${val},"comment":${str(op.comment)}}}`
    return op.value ? `${head}[${k},${verdict(op.value)}]]}}}` : `${head}${k}]}}}`
  },
  deleteElement: (op, c) => `{"delete":{"element":{${c.where},"name":${str(op.name)},"elem":[${key(op.key)}]}}}`,
  addRule: (op, c) => {
    const comment = op.comment === undefined ? '' : `"comment":${str(op.comment)},`
    return `{"add":{"rule":{${c.where},"chain":${str(op.chain)},${comment}"expr":[${op.stmts.map(stmt).join(',')}]}}}`
  },
}

/** One command as JSON text. */
export function writeOp(op: Op, c: Ctx): string {
  return (OPS[op.kind] as (x: Op, w: Where) => string)(op, whereOf(c))
}

/** writeOp for many operations of one table. */
export function jsonWriter(c: Ctx): (op: Op) => string {
  const w = whereOf(c)
  return (op) => (OPS[op.kind] as (x: Op, w: Where) => string)(op, w)
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
