import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base'

// The bin is one file: resolving and loading ~100 modules of the workspace packages and their
// dependencies took ~0.2 s of every run, a fifth of the 10k-service budget. The bin loads the
// CommonJS build through a V8 code cache made after the build (bin/load-bundle.js says why);
// the ESM build is what `import 'kproxc'` gets.
export default defineConfig({
  ...packageBuild(['src/main.ts'], ['esm', 'cjs']),
  noExternal: [/.*/],
  platform: 'node',
  // Bundled CommonJS dependencies call require(); ESM output has none of its own.
  banner: (ctx) => (ctx.format === 'esm' ? { js: "import { createRequire as __kproxcRequire } from 'node:module'; const require = __kproxcRequire(import.meta.url);" } : {}),
  onSuccess: 'node scripts/code-cache.mjs',
})
