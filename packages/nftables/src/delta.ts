/**
 * The partial sync of kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go, reference §10):
 * one transaction that turns the table of one compiled ruleset into that of another. Only the
 * per-service chains whose rules changed are rewritten (add + flush + rules), map and set
 * elements are added, replaced or deleted one by one, and chains and affinity sets no longer used
 * are flushed and deleted. Ports whose fragment kept its identity (an incremental compile with a
 * FragmentCache) are skipped after one pointer comparison. Which element each key ends up as
 * (ensureElem: a later value wins, an equal value keeps the first comment) is kept in an index
 * built once per family and handed from each delta to the next, updated for changed ports only.
 *
 * Unlike kube-proxy, stale chains are deleted in the same transaction, after the elements that
 * pointed at them: kernels since 6.2 accept that (§10.7 rule 3); older ones need kube-proxy's
 * second, delayed transaction. When the fixed part of the table differs only in the rules of
 * `cluster-ips-check` (the ServiceCIDRs changed), that chain is rewritten in place, as kube-proxy
 * rewrites it on every sync; any other difference there (configuration changes) makes the delta
 * the full transaction, which recreates the table.
 */
import { type PortFragment, type RulesetParts, type Step, assembleRuleset, changedPorts, elementKey } from './compile.js'
import type { Op, Ruleset, Verdict } from './ir.js'
import { CHAIN } from './names.js'
import { writeOp } from './write-json.js'

/** The transaction from `old` to `next`; `ops` is empty when the two load to the same table. */
export function deltaTransaction(old: RulesetParts, next: RulesetParts): Ruleset {
  const head = old.family === next.family && old.table === next.table ? headDelta(old.head, next.head) : undefined
  if (!head) return assembleRuleset(next)
  const changed = changedPorts(old, next)
  const ops: Op[] = head
  const done: Ruleset = { family: next.family, table: next.table, ops }
  if (changed.length === 0) return done

  const ctx = { family: next.family, table: next.table }
  const text = (op: Op) => writeOp(op, ctx)
  const before = describe(changed.map((c) => c.old), text)
  const after = describe(changed.map((c) => c.next), text)

  // An affinity set whose spec changed would need a delete while rules still use it: recreate all.
  for (const [name, spec] of after.sets) {
    const was = before.sets.get(name)
    if (was !== undefined && was.text !== spec.text) return assembleRuleset(next)
  }

  for (const [name, spec] of after.sets) if (!before.sets.has(name)) ops.push(spec.op)
  const rewritten: string[] = []
  for (const [name, rules] of after.chains) if (before.chains.get(name) !== rules) rewritten.push(name)
  for (const name of rewritten) ops.push({ kind: 'addChain', name }, { kind: 'flushChain', name })
  const rewrite = new Set(rewritten)
  for (const f of changed) for (const s of f.next?.steps ?? []) if (s.t === 'op' && s.op.kind === 'addRule' && rewrite.has(s.op.chain)) ops.push(s.op)

  // Elements: only keys a changed port claims (now or before) can change.
  const index = takeIndex(old)
  const touched = new Map<string, { set: string; before: Final | undefined }>()
  const note = (s: ElemStep) => {
    const id = elementId(s)
    if (!touched.has(id)) touched.set(id, { set: s.name, before: index.finals.get(id) })
  }
  for (const c of changed) {
    for (const s of c.old?.steps ?? []) if (s.t === 'elem') note(s)
    for (const s of c.next?.steps ?? []) if (s.t === 'elem') note(s)
  }
  for (const c of changed) {
    for (const s of c.old?.steps ?? []) if (s.t === 'elem') unclaim(index, elementId(s), c.key, s)
    for (const s of c.next?.steps ?? []) if (s.t === 'elem') claim(index, elementId(s), c.key, s)
  }
  let positions: Map<string, number> | undefined
  const positionOf = () => (positions ??= new Map(next.ports.map((p, i) => [p.key, i])))
  const adds: Op[] = []
  for (const [id, { before: o }] of touched) {
    const n = resolve(index.claims.get(id), positionOf)
    if (n) index.finals.set(id, n)
    else index.finals.delete(id)
    if (o && n && o.id === n.id) continue
    if (o) ops.push({ kind: 'deleteElement', name: o.step.name, container: o.step.value === undefined ? 'set' : 'map', key: o.step.key })
    if (n) adds.push(addElement(n.step))
  }
  ops.push(...adds)
  indexes.set(next, index)

  const staleChains = [...before.chains.keys()].filter((c) => !after.chains.has(c)).sort()
  for (const name of staleChains) ops.push({ kind: 'flushChain', name })
  for (const name of staleChains) ops.push({ kind: 'deleteChain', name })
  for (const name of [...before.sets.keys()].filter((s) => !after.sets.has(s)).sort()) ops.push({ kind: 'deleteSet', name, container: 'set' })
  return done
}


/** The chains (with their rules as text) and affinity sets some fragments create. */
function describe(frags: readonly (PortFragment | undefined)[], text: (op: Op) => string) {
  const chains = new Map<string, string>()
  const sets = new Map<string, { op: Op; text: string }>()
  for (const f of frags) {
    for (const s of f?.steps ?? []) {
      if (s.t === 'chain') {
        if (!chains.has(s.name)) chains.set(s.name, '')
      } else if (s.t === 'op') {
        if (s.op.kind === 'addRule') chains.set(s.op.chain, `${chains.get(s.op.chain) ?? ''}${text(s.op)}\n`)
        else if (s.op.kind === 'addSet') sets.set(s.op.name, { op: s.op, text: text(s.op) })
      }
    }
  }
  return { chains, sets }
}

type ElemStep = Extract<Step, { t: 'elem' }>

interface Final {
  /** Value and comment: what the kernel element holds. */
  id: string
  step: ElemStep
}

/** Who asks for one element: a service port (by key) or the fixed part (null). */
interface Claim {
  port: string | null
  step: ElemStep
}

/**
 * Every element request of one compiled family, by set and key, with the element each key ends
 * up as. Built once (linear), then handed from each compile to the next and updated for the
 * changed ports only: a delta takes the old parts' index, so deltas stay proportional.
 */
interface ElementIndex {
  claims: Map<string, Claim[]>
  finals: Map<string, Final>
}

const indexes = new WeakMap<RulesetParts, ElementIndex>()

function elementId(s: { name: string; key: readonly (string | number)[] }): string {
  return `${s.name}\u0000${elementKey(s.key)}`
}

function claim(index: ElementIndex, id: string, port: string | null, step: ElemStep): void {
  let list = index.claims.get(id)
  if (!list) index.claims.set(id, (list = []))
  list.push({ port, step })
}

function unclaim(index: ElementIndex, id: string, port: string, step: ElemStep): void {
  const list = index.claims.get(id)
  if (!list) return
  const i = list.findIndex((c) => c.port === port && c.step === step)
  if (i >= 0) list.splice(i, 1)
  if (list.length === 0) index.claims.delete(id)
}

/** The index of `parts` (built if needed); it moves to the next parts, so `parts` loses it. */
function takeIndex(parts: RulesetParts): ElementIndex {
  const known = indexes.get(parts)
  if (known) {
    indexes.delete(parts)
    return known
  }
  const index: ElementIndex = { claims: new Map(), finals: new Map() }
  const sets = new Set<string>()
  for (const op of parts.head) {
    if (op.kind === 'addSet') sets.add(op.name)
    else if (op.kind === 'deleteSet') sets.delete(op.name)
    else if (op.kind === 'addElement') {
      const step: ElemStep = { t: 'elem', name: op.name, key: op.key }
      if (op.value !== undefined) step.value = op.value
      if (op.comment !== undefined) step.comment = op.comment
      claim(index, elementId(step), null, step)
    }
  }
  for (const { key, fragment } of parts.ports) {
    for (const s of fragment.steps) if (s.t === 'elem' && sets.has(s.name)) claim(index, elementId(s), key, s)
  }
  // Built in transaction order, so no positions are needed to resolve.
  for (const [id, list] of index.claims) {
    const f = replay(list)
    if (f) index.finals.set(id, f)
  }
  return index
}

/**
 * The element ensureElem leaves for these requests. Order matters only when they disagree (a
 * later value replaces an earlier one; an equal value keeps the first one's comment); then they
 * are put in transaction order.
 */
function resolve(list: readonly Claim[] | undefined, positionOf: () => Map<string, number>): Final | undefined {
  if (!list || list.length === 0) return undefined
  const first = list[0] as Claim
  const firstId = identity(first.step)
  if (list.every((c) => identity(c.step) === firstId)) return { id: firstId, step: first.step }
  const pos = positionOf()
  const at = (c: Claim) => (c.port === null ? -1 : (pos.get(c.port) ?? Number.MAX_SAFE_INTEGER))
  const ordered = list.map((c, i) => ({ c, i })).sort((a, b) => at(a.c) - at(b.c) || a.i - b.i).map((x) => x.c)
  return replay(ordered)
}

function replay(list: readonly Claim[]): Final | undefined {
  let out: Final | undefined
  for (const { step } of list) {
    if (out && verdictText(out.step.value) === verdictText(step.value)) continue
    out = { id: identity(step), step }
  }
  return out
}

function verdictText(v: Verdict | undefined): string {
  if (v === undefined) return ''
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.target}` : v.kind
}

function identity(s: ElemStep): string {
  return `${verdictText(s.value)}|${s.comment ?? ''}`
}

function addElement(s: ElemStep): Op {
  const op: Op = { kind: 'addElement', name: s.name, key: s.key }
  if (s.value !== undefined) op.value = s.value
  if (s.comment !== undefined) op.comment = s.comment
  return op
}

const isClusterIPsCheckRule = (op: Op) => op.kind === 'addRule' && op.chain === CHAIN.clusterIPsCheck

/**
 * The ops from one fixed part to the other: none when equal; the rewrite of `cluster-ips-check`
 * when only its rules differ (its set of cluster IPs is an element set, kept in the head's other
 * ops); undefined for any other difference.
 */
function headDelta(old: readonly Op[], next: readonly Op[]): Op[] | undefined {
  if (sameOps(old, next)) return []
  if (!sameOps(old.filter((op) => !isClusterIPsCheckRule(op)), next.filter((op) => !isClusterIPsCheckRule(op)))) return undefined
  return [{ kind: 'addChain', name: CHAIN.clusterIPsCheck }, { kind: 'flushChain', name: CHAIN.clusterIPsCheck }, ...next.filter(isClusterIPsCheckRule)]
}

function sameOps(a: readonly Op[], b: readonly Op[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  return JSON.stringify(a) === JSON.stringify(b)
}
