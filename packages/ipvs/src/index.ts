import { type Backend, KproxcError, type OutputFile, type ProxyModel } from '@kproxc/core'
import type { IpvsCompileOptions } from './compile.js'
import { emitIpvsFiles } from './emit.js'
import type { IpvsRuleset } from './ir.js'
import { IPTABLES_OPTIONS, readIptablesOptions } from './iptables-shared.js'
import { OUTPUT_FILES, SCHEDULER_CHOICES } from './names.js'
import { renderIpset } from './render-ipset.js'
import { renderIptables } from './render-iptables.js'
import { renderIpvsadm } from './render-ipvsadm.js'
import { renderAddresses, renderSysctl } from './render-node.js'

export * from './ir.js'
export { compileIpvs, realServerKeys, type IpvsCompileOptions } from './compile.js'
export { assembleIpvs, compileIpvsParts, createFragmentCache, virtualServerId, type FragmentCache, type IpvsFragment, type IpvsParts, type IpvsPortEntry } from './compile.js'
export { deltaIpvsParts } from './delta-parts.js'
export { compileIptables, type OutFilterEntry, type IptablesInputs } from './compile-iptables.js'
export { DUMMY_DEVICE, IPSETS, IPSET_KEYS, KERNEL_SCHEDULERS, OUTPUT_FILES, SCHEDULER_CHOICES, ipsetName, type IpsetKey } from './names.js'
export { renderIpvsadm, serviceLine, realServerLine, ipvsAddress } from './render-ipvsadm.js'
export { emitIpvsFiles } from './emit.js'
export { renderIpset } from './render-ipset.js'
export { DELTA_FILES, deltaIpvs, ipsetDelta, ipvsadmDelta, iptablesDelta } from './delta.js'
export { renderIptables } from './render-iptables.js'
export { renderAddresses, renderSysctl } from './render-node.js'
export { loadIpvsadmRules, type IpvsadmService, type IpvsadmRules } from './load-ipvsadm.js'
export { traceIpvs, loadIpvsDump, loadIpsetText, ipsetLookup, findVirtualServer, IPVS_DEFAULT_JUMPS, type IpvsDump, type LoadedIpset } from './trace.js'

/** The five files of one family, in a fixed order. */
export function renderIpvsFiles(ir: IpvsRuleset): OutputFile[] {
  return [
    { name: OUTPUT_FILES.ipvsadm, content: renderIpvsadm(ir) },
    { name: OUTPUT_FILES.ipset, content: renderIpset(ir) },
    { name: OUTPUT_FILES.iptables, content: renderIptables(ir.iptables) },
    { name: OUTPUT_FILES.addresses, content: renderAddresses(ir) },
    { name: OUTPUT_FILES.sysctl, content: renderSysctl(ir) },
  ]
}

/** Compiles and renders one family: the model in, the five IPVS-mode files out. */
export function emitIpvs(model: ProxyModel, options: IpvsCompileOptions): OutputFile[] {
  return emitIpvsFiles(model, options)
}

/** The ipvs backend: virtual servers, ipsets, companion iptables rules, kube-ipvs0 addresses, sysctls. */
export const backend: Backend = {
  mode: 'ipvs',
  formats: ['bundle'],
  multiFile: true,
  options: [
    {
      flags: '--scheduler <name>',
      description: 'IPVS scheduler for every virtual server, overriding ipvs.scheduler of the configuration',
      key: 'scheduler',
      choices: SCHEDULER_CHOICES,
    },
    // The same flags (and keys) as the iptables backend: the companion rules are written by its conventions.
    ...IPTABLES_OPTIONS.filter((o) => o.key === 'randomFully' || o.key === 'builtinJumps'),
  ],
  emit(model, request) {
    if (request.format !== 'bundle') throw new KproxcError('USAGE', `--format ${request.format} is not available for --mode ipvs (choose bundle)`)
    const { scheduler } = request.options
    if (scheduler !== undefined && typeof scheduler !== 'string') throw new KproxcError('USAGE', `ipvs option scheduler must be a name, not ${JSON.stringify(scheduler)}`)
    const { randomFully, builtinJumps } = readIptablesOptions(request.options)
    return emitIpvs(model, { family: request.family, randomFully, builtinJumps, ...(scheduler ? { scheduler } : {}) })
  },
}
