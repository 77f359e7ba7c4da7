import { type Backend, type EmitRequest, KproxcError, type OutputFile, type ProxyModel } from '@kproxc/core'
import { emitRuleset } from './emit.js'

export { compile, serviceCIDRsOf, type CompileOptions } from './compile.js'
export { assembleRuleset, compileParts, createFragmentCache, type FragmentCache, type PortEntry, type PortFragment, type RulesetParts, type Step } from './compile.js'
export { deltaTransaction } from './delta.js'
export { emitRuleset } from './emit.js'
export { checkRuleset } from './check.js'
export { renderJSON, toNftDocument } from './render-json.js'
export { renderText, printVerdict } from './render-text.js'
export * from './ir.js'
export * from './schema.js'
export * as names from './names.js'
export { traceNftables, loadNftRuleset, loadNftJSON, loadNftText, kubeProxyTable } from './trace.js'

/** Output formats; JSON (what `nft -j -f` loads) is the default. */
export const FORMATS = ['json', 'text'] as const
export type Format = (typeof FORMATS)[number]

/** The file name each format is written to. */
export const FILE_NAMES: Record<Format, string> = { json: 'nftables.json', text: 'nftables.nft' }

/** `--service-cidr`: a comma-separated list (like --service-cluster-ip-range), or repeated values. */
export function parseServiceCIDROption(value: unknown): string[] {
  if (value === undefined || value === false || value === true || value === '') return []
  const items = Array.isArray(value) ? value : [value]
  return items.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter((s) => s !== '')
}

/** Compiles and renders one family of the model in one format. */
export function emitNftables(model: ProxyModel, request: EmitRequest): OutputFile[] {
  if (!(FORMATS as readonly string[]).includes(request.format)) {
    throw new KproxcError('USAGE', `unknown nftables format ${request.format} (choose ${FORMATS.join(', ')})`)
  }
  const format = request.format as Format
  const content = emitRuleset(model, { family: request.family, serviceCIDRs: parseServiceCIDROption(request.options.serviceCidr) }, format)
  return [{ name: FILE_NAMES[format], content }]
}

/** The nftables backend: kube-proxy's nftables-mode ruleset as libnftables JSON or nft text. */
export const backend: Backend = {
  mode: 'nftables',
  formats: FORMATS,
  multiFile: false,
  options: [
    {
      flags: '--service-cidr <cidrs>',
      description: 'extra ServiceCIDRs, comma-separated (like --service-cluster-ip-range), added to those of the ServiceCIDR objects in the input (for inputs without them): traffic to unallocated cluster IPs in them is dropped',
      key: 'serviceCidr',
    },
  ],
  emit: emitNftables,
}
