/**
 * Model → the five IPVS-mode files in one pass, for one-shot compiles (the CLI's `compile`): each
 * service port's virtual servers are spelled as soon as the port is compiled and then dropped, so
 * only set members and addresses live to the end (10k services: ~10^5 real servers that no longer
 * survive into the old generation, which also spared a full collection). Same bytes as
 * renderIpvsFiles(compileIpvs(...)); emit.test.ts compares them.
 */
import type { OutputFile, ProxyModel } from '@kproxc/core'
import { type IpvsCompileOptions, familySetup } from './compile.js'
import { Merge } from './merge.js'
import { OUTPUT_FILES } from './names.js'
import { renderIpset } from './render-ipset.js'
import { renderIptables } from './render-iptables.js'
import { timeoutsLine, writeVirtualServer } from './render-ipvsadm.js'
import { renderAddresses, renderSysctl } from './render-node.js'
import { TextBlocks } from './text-blocks.js'

/** renderIpvsFiles(compileIpvs(model, options)), without holding the virtual servers. */
export function emitIpvsFiles(model: ProxyModel, options: IpvsCompileOptions): OutputFile[] {
  const { fam, compiler, finish } = familySetup(model, options)
  const merge = new Merge()
  const ipvsadm = new TextBlocks()
  const spell = (vs: Parameters<typeof writeVirtualServer>[1]) => writeVirtualServer(ipvsadm, vs)
  for (const sp of fam.servicePorts) merge.add(compiler.servicePort(sp), spell)
  const ir = finish({ virtualServers: [], ...merge.result(fam.family) })
  // The timeouts line comes first; it does not depend on the service ports.
  const ipvsadmText = ir.timeouts ? `${timeoutsLine(ir.timeouts)}\n${ipvsadm.text()}` : ipvsadm.text()
  return [
    { name: OUTPUT_FILES.ipvsadm, content: ipvsadmText },
    { name: OUTPUT_FILES.ipset, content: renderIpset(ir) },
    { name: OUTPUT_FILES.iptables, content: renderIptables(ir.iptables) },
    { name: OUTPUT_FILES.addresses, content: renderAddresses(ir) },
    { name: OUTPUT_FILES.sysctl, content: renderSysctl(ir) },
  ]
}
