/**
 * IR → nft text, spelled the way knftables writes kube-proxy's transactions (objects.go
 * writeOperation, util.go Concat): one command per line, what `nft -f` loads.
 */
import type { Expr, ExprKind, Op, OpKind, Ruleset, Stmt, StmtKind, Verdict } from './ir.js'
import { formatMark } from './names.js'

/** The ruleset as an nft script. */
export function renderText(rs: Ruleset): string {
  const head = `${rs.family} ${rs.table}`
  const lines = new Array<string>(rs.ops.length)
  for (let i = 0; i < rs.ops.length; i++) lines[i] = printOp(rs.ops[i] as Op, head)
  return `${lines.join('\n')}\n`
}

type Printer<K extends string, T extends { kind: K }, A extends unknown[] = []> = { [k in K]: (x: Extract<T, { kind: k }>, ...args: A) => string }

/** Go's %q for the plain ASCII our comments hold. */
function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

const OPS: Printer<OpKind, Op, [string]> = {
  addTable: (op, h) => `add table ${h} { comment ${quote(op.comment)} ; }`,
  deleteTable: (_op, h) => `delete table ${h}`,
  addChain: (op, h) => {
    let body = ''
    if (op.base) body += ` type ${op.base.type} hook ${op.base.hook} priority ${op.base.priority} ;`
    if (op.comment !== undefined) body += ` comment ${quote(op.comment)} ;`
    return body === '' ? `add chain ${h} ${op.name}` : `add chain ${h} ${op.name} {${body} }`
  },
  flushChain: (op, h) => `flush chain ${h} ${op.name}`,
  deleteChain: (op, h) => `delete chain ${h} ${op.name}`,
  addSet: (op, h) => {
    let body = ` type ${op.keyType.join(' . ')}${op.container === 'map' ? ' : verdict' : ''} ;`
    if (op.flags?.length) body += ` flags ${op.flags.join(',')} ;`
    if (op.timeoutSeconds !== undefined) body += ` timeout ${op.timeoutSeconds}s ;`
    if (op.comment !== undefined) body += ` comment ${quote(op.comment)} ;`
    return `add ${op.container} ${h} ${op.name} {${body} }`
  },
  flushSet: (op, h) => `flush ${op.container} ${h} ${op.name}`,
  deleteSet: (op, h) => `delete ${op.container} ${h} ${op.name}`,
  addElement: (op, h) => {
    let s = `add element ${h} ${op.name} { ${op.key.join(' . ')}`
    if (op.comment !== undefined) s += ` comment ${quote(op.comment)}`
    if (op.value) s += ` : ${printVerdict(op.value)}`
    return `${s} }`
  },
  deleteElement: (op, h) => `delete element ${h} ${op.name} { ${op.key.join(' . ')} }`,
  addRule: (op, h) => {
    const rule = `add rule ${h} ${op.chain} ${op.stmts.map(printStmt).join(' ')}`
    return op.comment === undefined ? rule : `${rule} comment ${quote(op.comment)}`
  },
}

/** One operation as an nft command line. */
export function printOp(op: Op, head: string): string {
  return (OPS[op.kind] as (x: Op, h: string) => string)(op, head)
}

/** A verdict as nft text (`goto X`, `drop`, …). */
export function printVerdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.target}` : v.kind
}

const BINOP = { '&': 'and', '|': 'or', '^': 'xor' } as const

const EXPRS: Printer<ExprKind, Expr> = {
  payload: (e) => `${e.protocol} ${e.field}`,
  // knftables callers write `mark` for meta mark and `iifname` bare, but `meta l4proto` in full.
  meta: (e) => (e.key === 'l4proto' ? 'meta l4proto' : e.key),
  ct: (e) => `ct ${e.key}`,
  fib: (e) => `fib ${e.flag} type`,
  concat: (e) => e.items.map(printExpr).join(' . '),
  literal: (e) => e.value,
  number: (e) => (e.hex ? formatMark(e.value) : String(e.value)),
  prefix: (e) => `${e.addr}/${e.len}`,
  setRef: (e) => `@${e.name}`,
  // Concat("{", a, ",", b, "}") puts spaces around commas; strings.Join(cidrs, ",") does not.
  anonSet: (e) => `{ ${e.items.map(printExpr).join(e.spelling === 'spaced' ? ' , ' : ',')} }`,
  binop: (e) => `${printExpr(e.left)} ${BINOP[e.op]} ${printExpr(e.right)}`,
  numgen: (e) => `numgen random mod ${e.mod}`,
}

function printExpr(e: Expr): string {
  return (EXPRS[e.kind] as (x: Expr) => string)(e)
}

const STMTS: Printer<StmtKind, Stmt> = {
  match: (s) => (s.op === '!=' ? `${printExpr(s.left)} != ${printExpr(s.right)}` : `${printExpr(s.left)} ${printExpr(s.right)}`),
  vmap: (s) => `${printExpr(s.key)} vmap @${s.map}`,
  vmapLiteral: (s) => `${printExpr(s.key)} vmap { ${s.entries.map(([i, v]) => `${i} : ${printVerdict(v)}`).join(' , ')} }`,
  verdict: (s) => printVerdict(s.verdict),
  markSet: (s) => `mark set ${printExpr(s.value)}`,
  masquerade: (s) => (s.fullyRandom ? 'masquerade fully-random' : 'masquerade'),
  dnat: (s) => `dnat to ${s.addr.includes(':') ? `[${s.addr}]` : s.addr}:${s.port}`,
  dnatMap: (s) => `dnat ${s.family} addr . port to ${printExpr(s.key)} map { ${s.entries.map(([i, a, p]) => `${i} : ${a} . ${p}`).join(' , ')} }`,
  setUpdate: (s) => `update @${s.set} { ${printExpr(s.elem)} }`,
}

function printStmt(s: Stmt): string {
  return (STMTS[s.kind] as (x: Stmt) => string)(s)
}
