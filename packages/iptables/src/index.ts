import { type Backend, KproxcError } from '@kproxc/core'

/** The iptables backend: not implemented yet (its issue is open), so it refuses plainly. */
export const backend: Backend = {
  mode: 'iptables',
  formats: ['text'],
  multiFile: false,
  options: [],
  emit() {
    throw new KproxcError('UNSUPPORTED', '--mode iptables is not implemented yet')
  },
}
