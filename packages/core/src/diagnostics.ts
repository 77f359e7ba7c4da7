import type { Diagnostic } from './model.js'
import { byteCompare } from './select.js'
import { type Splice, applySplices, lowerBound } from './splice.js'

/** The model's diagnostic order: object, field, code, message (severity only breaks exact ties). */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return byteCompare(a.object.kind, b.object.kind) ||
    byteCompare(a.object.namespace ?? '', b.object.namespace ?? '') ||
    byteCompare(a.object.name, b.object.name) ||
    byteCompare(a.field ?? '', b.field ?? '') ||
    byteCompare(a.code, b.code) ||
    byteCompare(a.message, b.message) ||
    byteCompare(a.severity, b.severity)
}

/**
 * Identity of a diagnostic's content: two diagnostics with the same key are one line of the model.
 * An absent namespace or field is spelled apart from every string the API allows.
 */
function diagnosticKey(d: Diagnostic): string {
  return `${d.severity}\0${d.code}\0${d.object.kind}\0${d.object.namespace ?? '\u0001'}\0${d.object.name}\0${d.field ?? '\u0001'}\0${d.message}`
}

/**
 * The model's diagnostics from many sources (the node, each Service, each slice), de-duplicated
 * and sorted, kept up to date as sources change: an update costs the changed diagnostics plus one
 * copy of the list, not a sort of everything. Published lists are never mutated.
 */
export class DiagnosticIndex {
  private readonly counts = new Map<string, { diagnostic: Diagnostic; count: number }>()
  private current: Diagnostic[]

  constructor(sources: Iterable<readonly Diagnostic[]>) {
    for (const list of sources) for (const d of list) this.count(d, 1)
    this.current = [...this.counts.values()].map((c) => c.diagnostic).sort(compareDiagnostics)
  }

  /** The sorted, de-duplicated list (a new array after each update that changed it). */
  get list(): Diagnostic[] {
    return this.current
  }

  /** Replaces the diagnostics one source had by the ones it has now; true when the list changed. */
  update(removed: readonly (readonly Diagnostic[])[], added: readonly (readonly Diagnostic[])[]): boolean {
    if (removed.length === 0 && added.length === 0) return false
    const delta = new Map<string, { diagnostic: Diagnostic; count: number }>()
    const note = (d: Diagnostic, n: number) => {
      const k = diagnosticKey(d)
      const e = delta.get(k)
      if (e) e.count += n
      else delta.set(k, { diagnostic: d, count: n })
    }
    for (const list of removed) for (const d of list) note(d, -1)
    for (const list of added) for (const d of list) note(d, 1)
    const splices: Splice<Diagnostic>[] = []
    for (const [k, { diagnostic, count }] of delta) {
      if (count === 0) continue
      const had = this.counts.get(k)
      const after = (had?.count ?? 0) + count
      if (after <= 0) {
        if (!had) continue
        this.counts.delete(k)
        let from = lowerBound(this.current, (x) => compareDiagnostics(x, had.diagnostic))
        while (this.current[from] !== had.diagnostic && from < this.current.length) from++
        splices.push({ from, to: from + 1, items: [] })
      } else if (had) {
        had.count = after
      } else {
        this.counts.set(k, { diagnostic, count: after })
        const from = lowerBound(this.current, (x) => compareDiagnostics(x, diagnostic))
        splices.push({ from, to: from, items: [diagnostic] })
      }
    }
    if (splices.length === 0) return false
    // Insertions at one point go in diagnostic order, and before a removal at that point.
    splices.sort((a, b) => a.from - b.from || (a.to - a.from) - (b.to - b.from) || (a.items[0] && b.items[0] ? compareDiagnostics(a.items[0], b.items[0]) : 0))
    this.current = applySplices(this.current, splices)
    return true
  }

  private count(d: Diagnostic, n: number): void {
    const k = diagnosticKey(d)
    const e = this.counts.get(k)
    if (e) e.count += n
    else this.counts.set(k, { diagnostic: d, count: n })
  }
}
