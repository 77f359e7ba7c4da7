/**
 * Every golden document loads into a fresh namespace with plain (ip6)iptables-restore, and a fuzz
 * of hostile ServicePortNames (written straight into the model, past the core's validation) never
 * changes the number of rules the kernel ends up with: comments cannot end early or start a rule.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { type ProxyModel, modelFromTexts } from '@kproxc/core'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab, kernelSupport } from '../../../test/lab.js'
import { compileRuleset } from './compile.js'
import { DEFAULT_OPTIONS } from './options.js'
import { renderRuleset } from './render.js'
import { ruleComment } from './upstream-order.js'

const support = kernelSupport(['iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save'])
const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
let lab: Lab | undefined

afterEach(async () => {
  await lab?.destroy()
  lab = undefined
})

/** Golden files: [path, family]. */
function goldens(): [string, 'IPv4' | 'IPv6'][] {
  const out: [string, 'IPv4' | 'IPv6'][] = []
  for (const name of readdirSync(fixtures).sort()) {
    for (const [sub, fam] of [['', undefined], ['ipv4', 'IPv4'], ['ipv6', 'IPv6']] as const) {
      const file = join(fixtures, name, sub, 'iptables.rules')
      if (!existsSync(file)) continue
      const text = readFileSync(file, 'utf8')
      out.push([file, fam ?? (/ -[sd] [0-9a-f]*:[0-9a-f:]*[ /]/.test(text) ? 'IPv6' : 'IPv4')])
    }
  }
  return out
}

const ruleLines = (text: string) => text.split('\n').filter((l) => l.startsWith('-A ')).length

describe.skipIf(!support.ok)('iptables-restore accepts', () => {
  it('every golden fixture (without nfacct), rule for rule', async () => {
    lab = await Lab.create({ ipv4: '192.168.50.2', ipv6: 'fd00:50::2' })
    const files = goldens()
    expect(files.length).toBeGreaterThan(40)
    for (const [file, family] of files) {
      // What --no-nfacct prints (fixtures-options.test.ts checks the two agree).
      const text = readFileSync(file, 'utf8').replace(/^.* -m nfacct --nfacct-name localhost_nps_accepted_pkts .*\n/gm, '').replace(/ -m nfacct --nfacct-name \S+/g, '')
      const [restore, save] = family === 'IPv4' ? ['iptables-restore', 'iptables-save'] : ['ip6tables-restore', 'ip6tables-save']
      const r = await lab.exec('node', [restore], text)
      expect(r.stderr, file).toBe('')
      expect(r.code, file).toBe(0)
      const saved = await lab.execOk('node', [save])
      expect(ruleLines(saved), file).toBe(ruleLines(text))
    }
  })

  it('documents whose service names are hostile, without a rule more or less', async () => {
    lab = await Lab.create({ ipv4: '192.168.50.2' })
    const base = modelFromTexts([{ name: 'fuzz.yaml', text: FUZZ_CLUSTER }], { mode: 'iptables', families: ['IPv4'] })
    const plain = renderRuleset(compileRuleset(base, 'IPv4', { ...DEFAULT_OPTIONS, nfacct: false }))
    const l = lab
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), async (name) => {
        const model: ProxyModel = structuredClone(base)
        const sp = model.families[0]!.servicePorts[0]!
        sp.displayName = name
        const text = renderRuleset(compileRuleset(model, 'IPv4', { ...DEFAULT_OPTIONS, nfacct: false }))
        expect(ruleLines(text)).toBe(ruleLines(plain))
        const r = await l.exec('node', ['iptables-restore'], text)
        expect(r.code, r.stderr).toBe(0)
        const saved = await l.execOk('node', ['iptables-save'])
        expect(ruleLines(saved)).toBe(ruleLines(plain))
        // What reaches the kernel is the name itself (control characters shown as `?`).
        const shown = name.replace(/[\u0000-\u001f\u007f]/g, '?')
        const comments = saved.split('\n').filter((x) => x.startsWith('-A ')).map(ruleComment)
        expect(comments).toContain(`${shown} cluster IP`)
        expect(comments).toContain(`masquerade traffic for ${shown} external destinations`)
      }),
      { numRuns: 40, seed: 9 },
    )
  })
})
if (!support.ok) it.skip(`iptables restore tests: ${support.reason}`, () => {})

const FUZZ_CLUSTER = `
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.50.2}]}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clusterCIDR: 10.244.0.0/16
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, nodePort: 30080}]
  sessionAffinity: ClientIP
  loadBalancerSourceRanges: [10.99.0.0/16]
status: {loadBalancer: {ingress: [{ip: 192.168.60.1}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.244.1.5], nodeName: n1}, {addresses: [10.244.2.5], nodeName: n2}]
`
