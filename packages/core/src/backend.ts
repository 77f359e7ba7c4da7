import type { Family, ProxyModel, ProxyMode } from './model.js'

/** One file a backend writes (`iptables.rules`, `nftables.json`, `ipvs/ipset.rules`, ...). */
export interface OutputFile {
  name: string
  content: string
}

/** A backend-specific CLI option, declared by the backend so the CLI needs no edit per backend. */
export interface BackendOption {
  /** commander flags, e.g. `--scheduler <name>` or `--no-random-fully`. */
  flags: string
  description: string
  /** Key under which the value arrives in `EmitRequest.options` (commander's camelCase name). */
  key: string
  choices?: readonly string[]
  default?: string | boolean
}

/** What the CLI asks a backend for. */
export interface EmitRequest {
  family: Family
  /** One of the backend's `formats`. */
  format: string
  /** Values of the backend's own options, by key. */
  options: Readonly<Record<string, string | boolean | undefined>>
}

/** The uniform face of a backend to the CLI: model in, rendered files out. */
export interface Backend {
  mode: ProxyMode
  /** Output formats; the first is the default. */
  formats: readonly string[]
  /** True when the output is several files (written to a directory with -o). */
  multiFile: boolean
  options: readonly BackendOption[]
  /** Compiles and renders one family of the model. Pure; throws KproxcError on unsupported input. */
  emit(model: ProxyModel, request: EmitRequest): OutputFile[]
}
