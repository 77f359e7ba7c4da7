/** Incremental IPVS compiles through a FragmentCache (the shared properties of test/cache-cases.ts). */
import { describeCachedCompile } from '../../../test/cache-cases.js'
import { assembleIpvs, changedPorts, compileIpvs, compileIpvsParts, createFragmentCache } from './compile.js'
import { renderIpvsFiles } from './index.js'

const v4 = { family: 'IPv4' } as const

describeCachedCompile('compileIpvsParts', {
  mode: 'ipvs',
  createCache: createFragmentCache,
  compileParts: (model, cache) => compileIpvsParts(model, v4, cache),
  render: (parts) => renderIpvsFiles(assembleIpvs(parts)),
  fresh: (model) => renderIpvsFiles(compileIpvs(model, v4)),
  changedPorts,
  // Family-level inputs (node addresses, scheduler, ...) are part of every virtual server.
  keepsEntries: (prev, next) => prev.inputs === next.inputs,
})
