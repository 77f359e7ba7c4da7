/**
 * A typed model of the libnftables JSON schema (libnftables-json(5)), restricted to the subset
 * kube-proxy's ruleset needs, and the closed set of builders that produce it. No npm package
 * offers these types. Key order inside every object is fixed by the builders, so
 * `JSON.stringify` output is stable.
 */

/** Table families used here. */
export type NftFamily = 'ip' | 'ip6'

/** A whole `nft -j -f` input: one atomic transaction. */
export interface NftDocument {
  nftables: NftCommand[]
}

export type NftCommand =
  | { metainfo: { json_schema_version: 1 } }
  | { add: NftObject }
  | { flush: NftFlushable }
  | { delete: NftDeletable }

export type NftObject =
  | { table: NftTable }
  | { chain: NftChain }
  | { set: NftSet }
  | { map: NftMap }
  | { element: NftElement }
  | { rule: NftRule }

export type NftFlushable = { chain: NftChainRef } | { set: NftSetRef } | { map: NftSetRef }
export type NftDeletable =
  | { table: NftTable }
  | { chain: NftChainRef }
  | { set: NftSetRef }
  | { map: NftSetRef }
  | { element: NftElement }

export interface NftTable {
  family: NftFamily
  name: string
  /** Accepted but ignored by nft 1.0.6's JSON parser (kept for newer nft). */
  comment?: string
}

export interface NftChainRef {
  family: NftFamily
  table: string
  name: string
}

export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'

export interface NftChain extends NftChainRef {
  comment?: string
  type?: 'filter' | 'nat'
  hook?: NftHook
  /** Must be a JSON integer: a string or a missing value silently makes a regular chain (nft 1.0.6). */
  prio?: number
  policy?: 'accept' | 'drop'
}

export type NftSetRef = NftChainRef

/** Data types of set keys; several make a concatenation. */
export type NftDataType = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service' | 'verdict'

/** The JSON parser of nft 1.0.6 knows only these flags (`dynamic` is rejected). */
export type NftSetFlag = 'constant' | 'interval' | 'timeout'

export interface NftSet extends NftSetRef {
  type: NftDataType | NftDataType[]
  flags?: NftSetFlag[]
  /** Seconds. */
  timeout?: number
  comment?: string
}

export interface NftMap extends NftSet {
  map: NftDataType
}

export interface NftElement extends NftSetRef {
  elem: NftElementItem[]
}

/** A set element, or a `[key, value]` pair for a map. */
export type NftElementItem = NftElementKey | [NftElementKey, NftVerdict]
/** A key, optionally wrapped to carry an element comment. */
export type NftElementKey = NftLiteral | NftConcat | { elem: { val: NftLiteral | NftConcat; comment?: string } }

export interface NftRule {
  family: NftFamily
  table: string
  chain: string
  comment?: string
  expr: NftStatement[]
}

/** Strings are addresses, protocol names, symbolic constants or `@set` references. */
export type NftLiteral = string | number

export type NftConcat = { concat: NftExpression[] }

export type NftExpression =
  | NftLiteral
  | NftConcat
  | { payload: { protocol: 'ip' | 'ip6' | 'th'; field: 'saddr' | 'daddr' | 'dport' } }
  | { meta: { key: 'l4proto' | 'mark' | 'iifname' } }
  | { ct: { key: 'state' | 'status' } }
  | { fib: { result: 'type'; flags: ('saddr' | 'daddr')[] } }
  | { prefix: { addr: string; len: number } }
  | { set: (NftExpression | [NftExpression, NftExpression | NftVerdict])[] }
  | { numgen: { mode: 'random'; mod: number } }
  | { map: { key: NftExpression; data: NftExpression } }
  | { '&': [NftExpression, NftExpression] }
  | { '|': [NftExpression, NftExpression] }
  | { '^': [NftExpression, NftExpression] }

export type NftVerdict =
  | { jump: { target: string } }
  | { goto: { target: string } }
  | { accept: null }
  | { drop: null }
  | { reject: null }
  | { return: null }

export type NftStatement =
  | NftVerdict
  | { match: { op: '==' | '!=' | 'in'; left: NftExpression; right: NftExpression } }
  | { vmap: { key: NftExpression; data: NftExpression } }
  | { mangle: { key: NftExpression; value: NftExpression } }
  | { masquerade: { flags?: 'fully-random' } }
  | { dnat: { family?: NftFamily; addr: NftExpression; port?: number } }
  | { set: { op: 'add' | 'update'; elem: NftExpression; set: string } }

// ---- builders: the only place JSON objects are spelled ----

/** Typed builders for every JSON shape this backend emits (one key order each). */
export const nft = {
  document: (commands: NftCommand[]): NftDocument => ({ nftables: commands }),
  add: (object: NftObject): NftCommand => ({ add: object }),
  flush: (object: NftFlushable): NftCommand => ({ flush: object }),
  delete: (object: NftDeletable): NftCommand => ({ delete: object }),

  table: (family: NftFamily, name: string, comment?: string): { table: NftTable } =>
    ({ table: comment === undefined ? { family, name } : { family, name, comment } }),
  chainRef: (family: NftFamily, table: string, name: string): { chain: NftChainRef } => ({ chain: { family, table, name } }),
  chain: (c: NftChain): { chain: NftChain } => {
    const out: NftChain = { family: c.family, table: c.table, name: c.name }
    if (c.comment !== undefined) out.comment = c.comment
    if (c.type !== undefined) {
      out.type = c.type
      out.hook = c.hook
      out.prio = c.prio
    }
    if (c.policy !== undefined) out.policy = c.policy
    return { chain: out }
  },
  set: (s: NftSet): { set: NftSet } => ({ set: setBody(s) }),
  map: (m: NftMap): { map: NftMap } => {
    const body = setBody(m) as NftMap
    body.map = m.map
    return { map: body }
  },
  setRef: (family: NftFamily, table: string, name: string): { set: NftSetRef } => ({ set: { family, table, name } }),
  element: (family: NftFamily, table: string, name: string, elem: NftElementItem[]): { element: NftElement } =>
    ({ element: { family, table, name, elem } }),
  rule: (family: NftFamily, table: string, chain: string, expr: NftStatement[], comment?: string): { rule: NftRule } =>
    ({ rule: comment === undefined ? { family, table, chain, expr } : { family, table, chain, comment, expr } }),

  payload: (protocol: 'ip' | 'ip6' | 'th', field: 'saddr' | 'daddr' | 'dport'): NftExpression => ({ payload: { protocol, field } }),
  meta: (key: 'l4proto' | 'mark' | 'iifname'): NftExpression => ({ meta: { key } }),
  ct: (key: 'state' | 'status'): NftExpression => ({ ct: { key } }),
  fib: (flag: 'saddr' | 'daddr'): NftExpression => ({ fib: { result: 'type', flags: [flag] } }),
  concat: (items: NftExpression[]): NftConcat => ({ concat: items }),
  prefix: (addr: string, len: number): NftExpression => ({ prefix: { addr, len } }),
  anonSet: (items: (NftExpression | [NftExpression, NftExpression | NftVerdict])[]): NftExpression => ({ set: items }),
  numgen: (mod: number): NftExpression => ({ numgen: { mode: 'random', mod } }),
  lookupMap: (key: NftExpression, data: NftExpression): NftExpression => ({ map: { key, data } }),
  binop: (op: '&' | '|' | '^', left: NftExpression, right: NftExpression): NftExpression =>
    (op === '&' ? { '&': [left, right] } : op === '|' ? { '|': [left, right] } : { '^': [left, right] }),
  elemWithComment: (val: NftLiteral | NftConcat, comment: string): NftElementKey => ({ elem: { val, comment } }),

  match: (op: '==' | '!=' | 'in', left: NftExpression, right: NftExpression): NftStatement => ({ match: { op, left, right } }),
  vmap: (key: NftExpression, data: NftExpression): NftStatement => ({ vmap: { key, data } }),
  jump: (target: string): NftVerdict => ({ jump: { target } }),
  goto: (target: string): NftVerdict => ({ goto: { target } }),
  accept: (): NftVerdict => ({ accept: null }),
  drop: (): NftVerdict => ({ drop: null }),
  reject: (): NftVerdict => ({ reject: null }),
  return: (): NftVerdict => ({ return: null }),
  mangle: (key: NftExpression, value: NftExpression): NftStatement => ({ mangle: { key, value } }),
  masquerade: (fullyRandom: boolean): NftStatement => ({ masquerade: fullyRandom ? { flags: 'fully-random' } : {} }),
  dnat: (addr: NftExpression, port?: number, family?: NftFamily): NftStatement => {
    const body: { family?: NftFamily; addr: NftExpression; port?: number } =
      family === undefined ? { addr } : { family, addr }
    if (port !== undefined) body.port = port
    return { dnat: body }
  },
  setUpdate: (set: string, elem: NftExpression): NftStatement => ({ set: { op: 'update', elem, set: `@${set}` } }),
}

function setBody(s: NftSet): NftSet {
  const out: NftSet = { family: s.family, table: s.table, name: s.name, type: s.type }
  if (s.flags !== undefined) out.flags = s.flags
  if (s.timeout !== undefined) out.timeout = s.timeout
  if (s.comment !== undefined) out.comment = s.comment
  return out
}
