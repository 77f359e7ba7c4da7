import fc from 'fast-check'
import { KproxcError, type ProxyModel, modelFromTexts } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { compileRuleset } from './compile.js'
import type { Rule } from './ir.js'
import { commentWord, renderRule, renderRuleset } from './render.js'
import { ruleComment } from './upstream-order.js'

/** iptables-restore's word splitting (xshared.c add_param_to_argv): quotes group, `\` escapes inside quotes. */
function splitWords(line: string): string[] {
  const words: string[] = []
  let cur = ''
  let inQuote = false
  let escaped = false
  let any = false
  for (const c of line) {
    if (inQuote) {
      if (escaped) { cur += c; escaped = false } else if (c === '\\') escaped = true
      else if (c === '"') inQuote = false
      else cur += c
      continue
    }
    if (c === '"') { inQuote = true; any = true; continue }
    if (c === ' ' || c === '\t') {
      if (any) words.push(cur)
      cur = ''
      any = false
      continue
    }
    cur += c
    any = true
  }
  if (any) words.push(cur)
  return words
}

describe('commentWord', () => {
  it('keeps kube-proxy spelling for ordinary comments', () => {
    expect(commentWord('ns1/svc1:p80', false)).toBe('ns1/svc1:p80')
    expect(commentWord('ns1/svc1:p80 cluster IP', true)).toBe('"ns1/svc1:p80 cluster IP"')
  })

  it('quotes a bare comment that is not a plain word', () => {
    expect(commentWord('a b', false)).toBe('"a b"')
    expect(commentWord('', false)).toBe('""')
  })

  it('escapes quotes and backslashes and removes line breaks', () => {
    expect(commentWord('a" -j ACCEPT', true)).toBe('"a\\" -j ACCEPT"')
    expect(commentWord('x\\', false)).toBe('"x\\\\"')
    expect(commentWord('a\nCOMMIT\n-A INPUT -j DROP', true)).toBe('"a?COMMIT?-A INPUT -j DROP"')
  })

  it('always yields exactly one word that reads back as the text (control characters as ?)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), fc.boolean(), (text, quoted) => {
        const line = `-A X -m comment --comment ${commentWord(text, quoted)} -j Y`
        expect(line.includes('\n')).toBe(false)
        const words = splitWords(line)
        expect(words).toHaveLength(8)
        expect(words[5]).toBe(text.replace(/[\u0000-\u001f\u007f]/g, '?'))
        expect(ruleComment(line)).toBe(words[5])
      }),
      { numRuns: 1000, seed: 5 },
    )
  })
})

describe('renderRule', () => {
  it('spells every match and target kind as kube-proxy does', () => {
    const rule: Rule = {
      chain: 'C',
      matches: [
        { kind: 'comment', text: 'x y', quoted: true },
        { kind: 'protocol', protocol: 'sctp' },
        { kind: 'address', direction: 'destination', address: '10.0.0.1', negate: false },
        { kind: 'dport', port: 80 },
        { kind: 'address', direction: 'source', address: '10.0.0.0/8', negate: true },
        { kind: 'inInterface', name: 'veth+', negate: true },
        { kind: 'addrtype', direction: 'source' },
        { kind: 'mark', mark: 0x4000, negate: true },
        { kind: 'conntrack', states: ['RELATED', 'ESTABLISHED'], negate: false },
        { kind: 'recentCheck', name: 'KUBE-SEP-A', seconds: 10 },
        { kind: 'recentSet', name: 'KUBE-SEP-A' },
        { kind: 'statistic', probability: '0.5000000000' },
        { kind: 'nfacct', name: 'n' },
      ],
      target: { kind: 'dnat', destination: '[fd00::1]:80' },
    }
    expect(renderRule(rule)).toBe(
      '-A C -m comment --comment "x y" -m sctp -p sctp -d 10.0.0.1 --dport 80 ! -s 10.0.0.0/8 ! -i veth+ -m addrtype --src-type LOCAL ' +
        '-m mark ! --mark 0x00004000/0x00004000 -m conntrack --ctstate RELATED,ESTABLISHED -m recent --name KUBE-SEP-A --rcheck --seconds 10 --reap ' +
        '-m recent --name KUBE-SEP-A --set -m statistic --mode random --probability 0.5000000000 -m nfacct --nfacct-name n -j DNAT --to-destination [fd00::1]:80',
    )
    expect(renderRule({ chain: 'P', matches: [], target: { kind: 'masquerade', randomFully: true } })).toBe('-A P -j MASQUERADE --random-fully')
    expect(renderRule({ chain: 'P', matches: [], target: { kind: 'markXor', mark: 1 } })).toBe('-A P -j MARK --xor-mark 0x00000001')
    expect(renderRule({ chain: 'P', matches: [], target: null })).toBe('-A P')
  })
})

const CLUSTER = `
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.244.1.5]}]
`

function baseModel(): ProxyModel {
  return modelFromTexts([{ name: 'c.yaml', text: CLUSTER }], { mode: 'iptables', families: ['IPv4'] })
}

describe('hand-built models', () => {
  it('escape a hostile service name in every comment and add no rule', () => {
    const model = structuredClone(baseModel())
    const sp = model.families[0]!.servicePorts[0]!
    sp.displayName = 'default/web" -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -j DROP #'
    const plain = renderRuleset(compileRuleset(baseModel(), 'IPv4'))
    const text = renderRuleset(compileRuleset(model, 'IPv4'))
    expect(text.split('\n')).toHaveLength(plain.split('\n').length)
    expect(text.match(/^\*filter$/gm)).toHaveLength(1)
    expect(text).toContain('--comment "default/web\\" -j ACCEPT?COMMIT?*filter?-A INPUT -j DROP # cluster IP"')
  })

  it('refuse values that would change the words of a rule, and produce no text', () => {
    const model = structuredClone(baseModel())
    const fam = model.families[0]!
    const sp = fam.servicePorts[0]!
    sp.clusterIP = '10.96.0.10 -j ACCEPT'
    sp.endpoints[0]!.port = 0
    fam.localDetector = { kind: 'bridgeInterface', name: 'br0 -j ACCEPT' }
    let err: unknown
    try {
      compileRuleset(model, 'IPv4')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(KproxcError)
    const k = err as KproxcError
    expect(k.code).toBe('INVALID_INPUT')
    expect(k.issues.map((i) => i.path).sort()).toEqual(['default/web:http/TCP: clusterIP', 'default/web:http/TCP: endpoints[0].port', 'detectLocal.bridgeInterface'])
  })

  it('refuse a family the model does not have', () => {
    expect(() => compileRuleset(baseModel(), 'IPv6')).toThrow(/no IPv6 section/)
  })

  it('refuse a service name too long for xt_comment', () => {
    const model = structuredClone(baseModel())
    model.families[0]!.servicePorts[0]!.displayName = `default/${'a'.repeat(200)}`
    expect(() => compileRuleset(model, 'IPv4')).toThrow(KproxcError)
  })
})
