import fc from 'fast-check'
import { buildModel } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { arbCluster } from './arbitraries.js'
import { syntheticCluster, toKubectlJSON } from './synthetic.js'
import { loadObjects } from '@kproxc/core'

describe('test generators', () => {
  it('arbCluster yields valid clusters that exercise the interesting verdicts', () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(arbCluster(), (c) => {
        const model = buildModel(c.objects, { nodeName: c.nodeName })
        for (const f of model.families) {
          for (const p of f.servicePorts) {
            seen.add(`int:${p.internal.action}`)
            if (p.external) seen.add(`ext:${p.external.policy.action}`)
            if (p.topologyMode !== 'None') seen.add('topology')
            if (p.clusterUsesTerminating) seen.add('terminating')
            if (f.family === 'IPv6') seen.add('ipv6')
          }
        }
      }),
      { numRuns: 200, seed: 42 },
    )
    // The generator must reach every branch the backends care about, or properties prove little.
    expect([...seen].sort()).toEqual(['ext:drop', 'ext:forward', 'ext:reject', 'int:drop', 'int:forward', 'int:reject', 'ipv6', 'terminating', 'topology'])
  })

  it('syntheticCluster is valid input and round-trips through kubectl JSON', () => {
    const objects = syntheticCluster({ services: 20, endpointsPerService: 3, affinityEvery: 5 })
    const back = loadObjects([{ name: 'synthetic', text: toKubectlJSON(objects) }])
    expect(back.services).toHaveLength(20)
    expect(buildModel(back).families[0]?.servicePorts).toHaveLength(20)
  })
})
