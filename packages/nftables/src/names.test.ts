import { describe, expect, it } from 'vitest'
import { endpointBase, endpointNames, formatMark, hashAndTruncate, servicePortBase, servicePortNames, truncateComment } from './names.js'

const port = (namespace: string, name: string, portName: string, protocolLower = 'tcp') => ({ namespace, name, portName, protocolLower })

describe('kube-proxy nftables names', () => {
  it('hashes like upstream (proxier_test.go vectors)', () => {
    expect(servicePortNames(port('ns1', 'svc1', 'p80')).cluster).toBe('service-ULMVA6XW-ns1/svc1/tcp/p80')
    expect(endpointNames(port('ns1', 'svc1', 'p80'), '10.180.0.1', 80).chain).toBe('endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80')
    expect(servicePortBase(port('testing', 'service', 'http'))).toBe('P4ZYZVCF-testing/service/tcp/http')
    expect(servicePortBase(port('testing', 'service', 'https'))).toBe('LZBRENCP-testing/service/tcp/https')
    expect(endpointBase(port('testing', 'service', 'http'), '10.180.0.1', 80)).toBe('JO2XBXZR-testing/service/tcp/http__10.180.0.1/80')
    expect(endpointBase(port('testing', 'service', 'http'), '10.180.0.2', 80)).toBe('5S6H3H22-testing/service/tcp/http__10.180.0.2/80')
    expect(servicePortBase(port('ns2', 'svc2', 'p80'))).toBe('42NFTM6N-ns2/svc2/tcp/p80')
    expect(servicePortBase(port('ns5', 'svc5', 'p80'))).toBe('HVFWP5L3-ns5/svc5/tcp/p80')
    expect(endpointNames(port('ns5', 'svc5', 'p80'), '10.180.0.3', 80).affinitySet).toBe('affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80')
  })

  it('replaces IPv6 colons with dots and hashes the replaced string', () => {
    expect(endpointBase(port('testing', 'service', 'http'), 'fd80:abcd:12::a1b2:c3d4:e5f6:9999', 80))
      .toBe('U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80')
  })

  it('truncates long bases to 240 characters with a ... tail', () => {
    const l = (c: string) => c.repeat(63)
    const base = endpointBase(port(l('n'), l('s'), l('p'), 'sctp'), '1234:5678:9abc:def0::abcd:1234:5678', 443)
    expect(base).toHaveLength(240)
    expect(base.endsWith('...')).toBe(true)
    expect(hashAndTruncate('x')).toMatch(/^[A-Z2-7]{8}-x$/)
  })

  it('spells the mark as Go %#08x and truncates comments to 128 bytes', () => {
    expect(formatMark(0x4000)).toBe('0x00004000')
    expect(formatMark(1 << 31 >>> 0)).toBe('0x80000000')
    expect(truncateComment('a'.repeat(200))).toHaveLength(128)
    expect(truncateComment('ns/svc:http')).toBe('ns/svc:http')
  })
})
