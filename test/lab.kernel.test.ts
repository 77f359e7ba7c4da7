import { afterEach, describe, expect, it } from 'vitest'
import { Lab, kernelSupport, tally } from './lab.js'

const support = kernelSupport(['iptables-restore', 'nft'])
let lab: Lab | undefined

afterEach(async () => {
  await lab?.destroy()
  lab = undefined
})

describe.skipIf(!support.ok)('network-namespace lab', () => {
  it('routes pod to pod through the node and applies a DNAT loaded there', async () => {
    lab = await Lab.create({ ipv4: '192.168.50.2' })
    await lab.addHost('client', { ipv4: '10.244.0.10' })
    await lab.addHost('pod1', { ipv4: '10.244.1.5' })
    await lab.serve('pod1', 'pod1', { tcp: [8080] })
    const direct = await lab.probe('client', '10.244.1.5', 8080)
    expect(direct[0]).toMatchObject({ ok: true, server: 'pod1', peer: '10.244.0.10' })
    await lab.execOk('node', ['iptables-restore'], '*nat\n-A PREROUTING -d 10.96.0.1/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.5:8080\nCOMMIT\n')
    const viaService = await lab.probe('client', '10.96.0.1', 80, { count: 3 })
    expect(tally(viaService)).toEqual({ pod1: 3 })
    const nothing = await lab.probe('client', '10.96.0.2', 80, { timeoutMs: 500 })
    expect(nothing[0]?.ok).toBe(false)
  })

  it('feeds stdin so that tools reopening /dev/stdin (nft -f -) can read it', async () => {
    lab = await Lab.create({ ipv4: '192.168.50.2' })
    await lab.execOk('node', ['nft', '-f', '-'], 'add table ip kpx-lab-test\n')
    expect(await lab.execOk('node', ['nft', 'list', 'tables'])).toContain('kpx-lab-test')
  })

  it('routes IPv6 the same way', async () => {
    lab = await Lab.create({ ipv6: 'fd00:50::2' })
    await lab.addHost('client', { ipv6: 'fd00:244::10' })
    await lab.addHost('pod1', { ipv6: 'fd00:244:1::5' })
    await lab.serve('pod1', 'pod1', { tcp: [8080], udp: [5353] })
    expect((await lab.probe('client', 'fd00:244:1::5', 8080))[0]).toMatchObject({ ok: true, server: 'pod1', peer: 'fd00:244::10' })
    expect((await lab.probe('client', 'fd00:244:1::5', 5353, { proto: 'udp' }))[0]).toMatchObject({ ok: true, server: 'pod1' })
  })
})
if (!support.ok) it.skip(`lab: ${support.reason}`, () => {})
