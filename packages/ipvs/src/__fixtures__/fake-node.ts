/**
 * A throw-away node namespace whose ipvsadm, ip and sysctl are the recording fakes (this kernel has
 * no ip_vs and no dummy links): what the IPVS kernel tests apply to. Namespaces and fakes are
 * removed after each test.
 */
import { execFileSync } from 'node:child_process'
import { cleanupAfterEach } from '../../../../test/cleanup.js'
import { Lab, kernelSupport } from '../../../../test/lab.js'
import { type Runner, spawnRunner } from '../apply.js'
import { type Fakes, makeFakes } from './fakes.js'

export const support = kernelSupport(['ipset', 'iptables-restore', 'iptables-save'])
const IP = support.ok ? execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim() : 'ip'

/** Registers the cleanup in the calling test file and returns a factory of fresh nodes. */
export function fakeIpvsNodes(): () => Promise<{ lab: Lab; fake: Fakes; runner: Runner }> {
  const cleanup = cleanupAfterEach()
  return async () => {
    const lab = await Lab.create({ ipv4: '192.168.0.2' })
    cleanup(() => lab.destroy())
    const fake = makeFakes(['ipvsadm', 'ip', 'sysctl'])
    cleanup(() => fake.cleanup())
    return { lab, fake, runner: spawnRunner({ prefix: [IP, 'netns', 'exec', lab.ns('node')], env: fake.env }) }
  }
}
