import type { Ipset, IpvsRuleset } from './ir.js'
import { TextBlocks } from './text-blocks.js'

/** kube-proxy's create parameters (pkg/proxy/ipvs/ipset/ipset.go createSet and setIPSetDefaults). */
export function createLine(set: Ipset): string {
  const params = set.type === 'bitmap:port' ? 'range 0-65535' : `family ${set.family} hashsize 1024 maxelem 65536`
  return `create ${set.name} ${set.type} ${params} -exist`
}

/**
 * The text `ipset restore` reads: every set created (`-exist`, so reloading is harmless), then each set
 * flushed and filled, so the file states the exact content whatever was loaded before.
 */
export function renderIpset(ir: IpvsRuleset): string {
  const out = new TextBlocks()
  for (const set of ir.ipsets) out.push(createLine(set))
  for (const set of ir.ipsets) {
    out.push(`flush ${set.name}`)
    const add = `add ${set.name} `
    for (const e of set.entries) out.push(add + e)
  }
  return out.text()
}
