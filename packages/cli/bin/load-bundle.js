/**
 * Loads the CLI bundle (dist/main.cjs) through V8's code cache (dist/main.cjs.cache, written at
 * build time by scripts/code-cache.mjs after a warm-up run). Compiling the 1.7 MB bundle and then
 * every function a command calls took ~60-90 ms of each run, more than Node's own start; with the
 * cache V8 takes the bytecode as it is. Node 20 has no built-in compile cache
 * (module.enableCompileCache came in 22), hence this loader.
 *
 * V8 checks the cache against its version, flags and the source, and ignores it when they differ
 * (another Node, a rebuilt bundle, `node --some-flag`): the bundle is then compiled as usual, so
 * a stale or damaged cache costs a few milliseconds and never changes behaviour. Nothing is
 * written at run time.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { Script } from 'node:vm'

/**
 * Runs a CommonJS bundle like require() would and returns its exports, the compiled script (to
 * make a cache from) and what became of the cache: 'accepted', 'rejected' or 'absent'.
 */
export function loadBundle(bundle, cacheFile) {
  const file = resolve(bundle)
  const source = readFileSync(file, 'utf8')
  let cachedData
  if (cacheFile) {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {
      cachedData = undefined
    }
  }
  // The wrapper require() puts around a module; the newline keeps the source map comment a comment.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new Script(wrapped, { filename: file, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
  const cache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'
  return { exports: module.exports, script, cache }
}
