#!/usr/bin/env node
import { fileURLToPath } from 'node:url'
import { loadBundle } from './load-bundle.js'

const dist = (name) => fileURLToPath(new URL(`../dist/${name}`, import.meta.url))
const { exports } = loadBundle(dist('main.cjs'), dist('main.cjs.cache'))

exports.main().then((code) => {
  process.exitCode = code
})
