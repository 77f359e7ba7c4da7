/**
 * The intermediate representation: one nftables transaction as an ordered list of typed
 * operations. `compile` builds it; `render-json` and `render-text` are two spellings of the same
 * list (every union here is dispatched through a `Record<kind, handler>` in both renderers, so a
 * new kind fails to compile until both handle it).
 */
import type { NftFamily } from './schema.js'

export type { NftFamily }

/** A complete ruleset for one family, in the order it must be applied. */
export interface Ruleset {
  family: NftFamily
  table: string
  ops: readonly Op[]
}

/** Key/value data types of a set or map. */
export type DataType = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service'

export type Op =
  | { kind: 'addTable'; comment: string }
  | { kind: 'deleteTable' }
  | { kind: 'addChain'; name: string; base?: BaseChainSpec; comment?: string }
  | { kind: 'flushChain'; name: string }
  | { kind: 'deleteChain'; name: string }
  | { kind: 'addSet'; name: string; container: Container; keyType: readonly DataType[]; flags?: readonly ('dynamic' | 'timeout')[]; timeoutSeconds?: number; comment?: string }
  | { kind: 'flushSet'; name: string; container: Container }
  | { kind: 'deleteSet'; name: string; container: Container }
  | { kind: 'addElement'; name: string; key: readonly ElementPart[]; value?: Verdict; comment?: string }
  | { kind: 'deleteElement'; name: string; container: Container; key: readonly ElementPart[] }
  | { kind: 'addRule'; chain: string; stmts: readonly Stmt[]; comment?: string }

export type OpKind = Op['kind']

/** A set, or a verdict map (the only maps kube-proxy declares). */
export type Container = 'set' | 'map'

export interface BaseChainSpec {
  type: 'filter' | 'nat'
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'
  /** Numeric, as knftables converts named priorities before handing them to nft. */
  priority: number
}

/** One component of an element key: an address or protocol name (string) or a port (number). */
export type ElementPart = string | number

export type Verdict =
  | { kind: 'jump'; target: string }
  | { kind: 'goto'; target: string }
  | { kind: 'drop' }
  | { kind: 'reject' }
  | { kind: 'return' }

export type Expr =
  | { kind: 'payload'; protocol: 'ip' | 'ip6' | 'th'; field: 'saddr' | 'daddr' | 'dport' }
  | { kind: 'meta'; key: 'l4proto' | 'mark' | 'iifname' }
  | { kind: 'ct'; key: 'state' | 'status' }
  | { kind: 'fib'; flag: 'saddr' | 'daddr' }
  | { kind: 'concat'; items: readonly Expr[] }
  /** An address, protocol name, interface pattern or symbolic constant (`new`, `dnat`, `local`). */
  | { kind: 'literal'; value: string }
  /** `hex` reproduces kube-proxy's spelling of marks in the text form. */
  | { kind: 'number'; value: number; hex?: boolean }
  | { kind: 'prefix'; addr: string; len: number }
  | { kind: 'setRef'; name: string }
  /** An anonymous set; `spelling` is how kube-proxy separates items in text (`a , b` or `a,b`). */
  | { kind: 'anonSet'; items: readonly Expr[]; spelling: 'spaced' | 'compact' }
  | { kind: 'binop'; op: '&' | '|' | '^'; left: Expr; right: Expr }
  | { kind: 'numgen'; mod: number }

export type ExprKind = Expr['kind']

export type Stmt =
  | { kind: 'match'; op: '==' | '!=' | 'in'; left: Expr; right: Expr }
  | { kind: 'vmap'; key: Expr; map: string }
  /** `KEY vmap { 0 : goto A , 1 : goto B }` */
  | { kind: 'vmapLiteral'; key: Expr; entries: readonly (readonly [number, Verdict])[] }
  | { kind: 'verdict'; verdict: Verdict }
  | { kind: 'markSet'; value: Expr }
  | { kind: 'masquerade'; fullyRandom: boolean }
  /** `dnat to IP:PORT` */
  | { kind: 'dnat'; addr: string; port: number }
  /** `dnat ip addr . port to KEY map { 0 : IP . PORT , … }` */
  | { kind: 'dnatMap'; family: NftFamily; key: Expr; entries: readonly (readonly [number, string, number])[] }
  | { kind: 'setUpdate'; set: string; elem: Expr }

export type StmtKind = Stmt['kind']

/** Small constructors so compile reads like the rules it writes. */
export const ir = {
  payload: (protocol: 'ip' | 'ip6' | 'th', field: 'saddr' | 'daddr' | 'dport'): Expr => ({ kind: 'payload', protocol, field }),
  meta: (key: 'l4proto' | 'mark' | 'iifname'): Expr => ({ kind: 'meta', key }),
  ct: (key: 'state' | 'status'): Expr => ({ kind: 'ct', key }),
  fib: (flag: 'saddr' | 'daddr'): Expr => ({ kind: 'fib', flag }),
  concat: (...items: Expr[]): Expr => ({ kind: 'concat', items }),
  lit: (value: string): Expr => ({ kind: 'literal', value }),
  num: (value: number, hex = false): Expr => (hex ? { kind: 'number', value, hex } : { kind: 'number', value }),
  prefix: (addr: string, len: number): Expr => ({ kind: 'prefix', addr, len }),
  ref: (name: string): Expr => ({ kind: 'setRef', name }),
  anonSet: (items: Expr[], spelling: 'spaced' | 'compact'): Expr => ({ kind: 'anonSet', items, spelling }),
  binop: (op: '&' | '|' | '^', left: Expr, right: Expr): Expr => ({ kind: 'binop', op, left, right }),
  numgen: (mod: number): Expr => ({ kind: 'numgen', mod }),

  eq: (left: Expr, right: Expr): Stmt => ({ kind: 'match', op: '==', left, right }),
  ne: (left: Expr, right: Expr): Stmt => ({ kind: 'match', op: '!=', left, right }),
  has: (left: Expr, right: Expr): Stmt => ({ kind: 'match', op: 'in', left, right }),
  vmap: (key: Expr, map: string): Stmt => ({ kind: 'vmap', key, map }),
  jump: (target: string): Stmt => ({ kind: 'verdict', verdict: { kind: 'jump', target } }),
  goto: (target: string): Stmt => ({ kind: 'verdict', verdict: { kind: 'goto', target } }),
  drop: (): Stmt => ({ kind: 'verdict', verdict: { kind: 'drop' } }),
  reject: (): Stmt => ({ kind: 'verdict', verdict: { kind: 'reject' } }),
}
