// Bundles bench/scale.ts (workspace packages from their sources) so it runs on plain Node 20.
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
const root = new URL('..', import.meta.url).pathname
// esbuild comes with tsup (a root dev dependency); yaml with the core.
const { build } = createRequire(realpathSync(`${root}node_modules/tsup/package.json`))('esbuild')
await build({
  entryPoints: [`${root}bench/scale.ts`], bundle: true, platform: 'node', format: 'esm', outfile: `${root}node_modules/.cache/kproxc-bench/scale.mjs`, logLevel: 'warning',
  nodePaths: [`${root}packages/core/node_modules`],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  plugins: [{ name: 'workspace', setup(b) {
    b.onResolve({ filter: /^@kproxc\// }, (a) => {
      const m = /^@kproxc\/(core|iptables|nftables|ipvs)(?:\/(.+))?$/.exec(a.path)
      return m ? { path: `${root}packages/${m[1]}/src/${m[2] ?? 'index'}.ts` } : undefined
    })
  } }],
})
