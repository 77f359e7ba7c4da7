/**
 * Loads the CLI bundle (dist/main.cjs) through V8's code cache (dist/main.cjs.cache, written at
 * build time by scripts/code-cache.mjs after a warm-up run). Compiling the 1.7 MB bundle and then
 * every function a command calls took ~60-90 ms of each run, more than Node's own start; with the
 * cache V8 takes the bytecode as it is. Node 20 has no built-in compile cache
 * (module.enableCompileCache came in 22), hence this loader.
 *
 * The cache file starts with the SHA-256 of the bundle it was made from: V8 itself checks only its
 * version, its flags and the source's *length*, so a bundle edited in place to the same length
 * would otherwise run the old bytecode. A cache for other bytes ('stale'), or one V8 rejects
 * (another Node, `node --some-flag`, damage it notices) is not used and the bundle is compiled
 * as usual, so it costs a few milliseconds and never changes behaviour. Nothing is written at
 * run time.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { Script } from 'node:vm'

/** Length of the source digest that heads a cache file. */
const DIGEST = 32

/** The digest a cache file for this source starts with. */
export function sourceDigest(source) {
  return createHash('sha256').update(source).digest()
}

/** A cache file's content: the source's digest, then V8's data. */
export function cacheFileContent(source, data) {
  return Buffer.concat([sourceDigest(source), data])
}

/**
 * Runs a CommonJS bundle like require() would and returns its exports, the compiled script (to
 * make a cache from) and what became of the cache: 'accepted', 'rejected' (by V8), 'stale' (made
 * from other bytes) or 'absent'.
 */
export function loadBundle(bundle, cacheFile) {
  const file = resolve(bundle)
  const source = readFileSync(file, 'utf8')
  let cachedData
  let stale = false
  if (cacheFile) {
    try {
      const content = readFileSync(cacheFile)
      if (content.length > DIGEST && content.subarray(0, DIGEST).equals(sourceDigest(source))) cachedData = content.subarray(DIGEST)
      else stale = true
    } catch {
      cachedData = undefined
    }
  }
  // The wrapper require() puts around a module; the newline keeps the source map comment a comment.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new Script(wrapped, { filename: file, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
  const cache = stale ? 'stale' : cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'
  return { exports: module.exports, script, cache }
}
