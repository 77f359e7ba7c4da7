import type { Options } from 'tsup'

/** The build every package shares: ESM + CJS with declarations, for Node 20. */
export function packageBuild(entry: string[], formats: Options['format'] = ['esm', 'cjs']): Options {
  return { entry, format: formats, dts: true, clean: true, sourcemap: true, target: 'node20' }
}
