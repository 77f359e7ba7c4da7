import { type Backend, KproxcError } from '@kproxc/core'

/** The ipvs backend: not implemented yet (its issue is open), so it refuses plainly. */
export const backend: Backend = {
  mode: 'ipvs',
  formats: ['text'],
  multiFile: false,
  options: [],
  emit() {
    throw new KproxcError('UNSUPPORTED', '--mode ipvs is not implemented yet')
  },
}
