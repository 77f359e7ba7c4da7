import { type Backend, KproxcError } from '@kproxc/core'

/** The nftables backend: not implemented yet (its issue is open), so it refuses plainly. */
export const backend: Backend = {
  mode: 'nftables',
  formats: ['text'],
  multiFile: false,
  options: [],
  emit() {
    throw new KproxcError('UNSUPPORTED', '--mode nftables is not implemented yet')
  },
}
