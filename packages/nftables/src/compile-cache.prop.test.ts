/** Incremental nftables compiles through a FragmentCache (the shared properties of test/cache-cases.ts). */
import { describeCachedCompile } from '../../../test/cache-cases.js'
import { assembleRuleset, changedPorts, compile, compileParts, createFragmentCache } from './compile.js'
import { renderJSON } from './render-json.js'

const v4 = { family: 'IPv4' } as const

describeCachedCompile('compileParts', {
  mode: 'nftables',
  createCache: createFragmentCache,
  compileParts: (model, cache) => compileParts(model, v4, cache),
  render: (parts) => renderJSON(assembleRuleset(parts)),
  fresh: (model) => renderJSON(compile(model, v4)),
  changedPorts,
  // A node address change touches the fixed part (nodeport-ips), never the ports.
  keepsEntries: () => true,
})
