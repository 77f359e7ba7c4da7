import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base'

// The bin is one file: resolving and loading ~100 modules of the workspace packages and their
// dependencies took ~0.2 s of every run, a fifth of the 10k-service budget.
export default defineConfig({
  ...packageBuild(['src/main.ts'], ['esm']),
  noExternal: [/.*/],
  platform: 'node',
  // Bundled CommonJS dependencies call require(); ESM output has none of its own.
  banner: { js: "import { createRequire as __kproxcRequire } from 'node:module'; const require = __kproxcRequire(import.meta.url);" },
})
