/**
 * One backend kept in sync with a changing model: the first sync prints the full ruleset, later
 * ones only the delta from the previous one (kube-proxy's full and partial syncs). Fragments are
 * cached by service-port identity, so models from one ModelStore recompile only what changed.
 */
import { type Family, KproxcError, type OutputFile, type ProxyMode, type ProxyModel } from '@kproxc/core'
import * as ipt from '@kproxc/iptables'
import * as ipvs from '@kproxc/ipvs'
import * as nft from '@kproxc/nftables'

type Options = Readonly<Record<string, string | boolean | undefined>>

/** A synced backend: `full` (re)states everything, `delta` what changed since the last call. */
export interface SyncSession {
  /** Compiles the state the next delta starts from, without rendering it. */
  prime(model: ProxyModel): void
  full(model: ProxyModel): OutputFile[]
  delta(model: ProxyModel): OutputFile[]
  /**
   * Whether the last delta restates everything instead (nftables, when the fixed part or an
   * affinity set's spec changed: the transaction re-creates the table). Applying that would wipe
   * state kube-proxy keeps, so an applier runs a full (in-place) apply instead.
   */
  lastDeltaIsFull(): boolean
}

/** The session of one mode, family and format with the backend's option values. */
export function syncSession(mode: ProxyMode, family: Family, format: string, options: Options): SyncSession {
  if (mode === 'iptables') {
    const opts = ipt.readOptions(options)
    const cache = ipt.createFragmentCache()
    const step = stepper<ipt.RulesetParts>((model) => ipt.compileParts(model, family, opts, cache))
    return {
      lastDeltaIsFull: () => false,
      prime: (model) => void step(model),
      full: (model) => [{ name: ipt.OUTPUT_FILE, content: ipt.renderRuleset(ipt.assembleRuleset(step(model).parts)) }],
      delta: (model) => {
        const { prev, parts } = step(model)
        const text = prev ? ipt.deltaRestore(prev, parts) : ipt.renderRuleset(ipt.assembleRuleset(parts))
        return text ? [{ name: ipt.OUTPUT_FILE, content: text }] : []
      },
    }
  }
  if (mode === 'nftables') {
    if (format !== 'json' && format !== 'text') throw new KproxcError('USAGE', `unknown nftables format ${format} (choose json, text)`)
    const render = format === 'json' ? nft.renderJSON : nft.renderText
    const name = nft.FILE_NAMES[format]
    const compileOptions = { family, serviceCIDRs: nft.parseServiceCIDROption(options.serviceCidr) }
    const cache = nft.createFragmentCache()
    const step = stepper<nft.RulesetParts>((model) => nft.compileParts(model, compileOptions, cache))
    let replaced = false
    return {
      lastDeltaIsFull: () => replaced,
      prime: (model) => void step(model),
      full: (model) => [{ name, content: render(nft.assembleRuleset(step(model).parts)) }],
      delta: (model) => {
        const { prev, parts } = step(model)
        const rs = prev ? nft.deltaTransaction(prev, parts) : nft.assembleRuleset(parts)
        replaced = rs.ops.some((op) => op.kind === 'deleteTable')
        return rs.ops.length > 0 ? [{ name, content: render(rs) }] : []
      },
    }
  }
  const { scheduler } = options
  const { randomFully, builtinJumps } = ipt.readOptions(options)
  const compileOptions: ipvs.IpvsCompileOptions = { family, randomFully, builtinJumps, ...(typeof scheduler === 'string' ? { scheduler } : {}) }
  const cache = ipvs.createFragmentCache()
  const step = stepper<ipvs.IpvsParts>((model) => ipvs.compileIpvsParts(model, compileOptions, cache))
  return {
    lastDeltaIsFull: () => false,
    prime: (model) => void step(model),
    full: (model) => ipvs.renderIpvsFiles(ipvs.assembleIpvs(step(model).parts)),
    delta: (model) => {
      const { prev, parts } = step(model)
      return prev ? ipvs.deltaIpvsParts(prev, parts) : ipvs.renderIpvsFiles(ipvs.assembleIpvs(parts))
    },
  }
}

/** Files as one text: a single-file mode's content as is, several files under `# ==> name <==` headers. */
export function joinFiles(files: readonly OutputFile[], multiFile: boolean): string {
  if (!multiFile) return files.map((f) => f.content).join('')
  return files.map((f) => `# ==> ${f.name} <==\n${f.content}`).join('')
}

/** Compiles each model and hands back the previous parts with the new ones (what a delta needs). */
function stepper<P>(compile: (model: ProxyModel) => P): (model: ProxyModel) => { prev: P | undefined; parts: P } {
  let last: P | undefined
  return (model) => {
    const parts = compile(model)
    const prev = last
    last = parts
    return { prev, parts }
  }
}
