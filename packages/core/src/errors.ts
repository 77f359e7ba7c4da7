/** Error codes; the CLI maps each to an exit code. */
export type ErrorCode = 'INVALID_INPUT' | 'UNSUPPORTED' | 'APPLY_FAILED' | 'INTERNAL' | 'USAGE'

/** Identity of the object an issue is about. */
export interface ObjectRef {
  kind: string
  namespace?: string
  name?: string
  /** Where the object came from when it has no usable name, e.g. "svc.yaml document 3". */
  source?: string
}

/** One problem found in the input. */
export interface InputIssue {
  object: ObjectRef
  /** Field path in kubectl notation, e.g. `spec.ports[1].port`; empty for the whole object. */
  path: string
  /** The offending value (undefined when the field is missing). */
  value?: unknown
  message: string
}

/** The single error type thrown by every kproxc package. */
export class KproxcError extends Error {
  readonly code: ErrorCode
  readonly issues: readonly InputIssue[]
  constructor(code: ErrorCode, message: string, issues: readonly InputIssue[] = []) {
    super(issues.length > 0 ? `${message}\n${issues.map(formatIssue).join('\n')}` : message)
    this.name = 'KproxcError'
    this.code = code
    this.issues = issues
  }
}

/** `Service default/web` or `EndpointSlice <unnamed> (in.yaml document 2)`. */
export function formatObjectRef(ref: ObjectRef): string {
  const id = ref.name ? (ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name) : '<unnamed>'
  const where = !ref.name && ref.source ? ` (${ref.source})` : ''
  return `${ref.kind} ${id}${where}`
}

/** Renders a value for a message: strings quoted, long values cut. */
export function formatValue(value: unknown): string {
  let text: string
  if (typeof value === 'string') text = JSON.stringify(value)
  else if (typeof value === 'number' || typeof value === 'boolean' || value === null) text = String(value)
  else if (value === undefined) text = 'undefined'
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** `Service default/web: spec.ports[1].port: 70000 is not in 1..65535`. */
export function formatIssue(issue: InputIssue): string {
  const head = formatObjectRef(issue.object)
  const path = issue.path ? `${issue.path}: ` : ''
  const value = issue.value === undefined ? '' : `${formatValue(issue.value)} `
  return `${head}: ${path}${value}${issue.message}`
}

/** Sorts issues so reports are stable whatever the input order. */
export function sortIssues(issues: readonly InputIssue[]): InputIssue[] {
  return [...issues].sort((a, b) =>
    cmp(a.object.kind, b.object.kind) ||
    cmp(a.object.namespace ?? '', b.object.namespace ?? '') ||
    cmp(a.object.name ?? '', b.object.name ?? '') ||
    cmp(a.object.source ?? '', b.object.source ?? '') ||
    cmp(a.path, b.path) ||
    cmp(a.message, b.message),
  )
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
