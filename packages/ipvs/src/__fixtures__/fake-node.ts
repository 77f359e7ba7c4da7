/**
 * A throw-away node namespace whose ipvsadm, ip and sysctl are the recording fakes (this kernel has
 * no ip_vs and no dummy links): what the IPVS kernel tests apply to. Namespaces and fakes are
 * removed after each test.
 */
import { execFileSync } from 'node:child_process'
import { afterEach } from 'vitest'
import { Lab, kernelSupport } from '../../../../test/lab.js'
import { type Runner, spawnRunner } from '../apply.js'
import { type Fakes, makeFakes } from './fakes.js'

export const support = kernelSupport(['ipset', 'iptables-restore', 'iptables-save'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'

/** Registers the cleanup in the calling test file and returns a factory of fresh nodes. */
export function fakeIpvsNodes(): () => Promise<{ lab: Lab; fake: Fakes; runner: Runner }> {
  let labs: Lab[] = []
  let fakes: Fakes[] = []
  afterEach(async () => {
    for (const l of labs) await l.destroy()
    for (const f of fakes) f.cleanup()
    labs = []
    fakes = []
  })
  return async () => {
    const lab = await Lab.create({ ipv4: '192.168.0.2' })
    labs.push(lab)
    const fake = makeFakes(['ipvsadm', 'ip', 'sysctl'])
    fakes.push(fake)
    return { lab, fake, runner: spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')], env: fake.env }) }
  }
}
