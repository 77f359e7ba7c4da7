import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

// Tests run against the sources: each workspace package resolves to its src/.
const alias = [
  { find: /^@kproxc\/(core|iptables|nftables|ipvs)$/, replacement: `${root}packages/$1/src/index.ts` },
  { find: /^@kproxc\/(core|iptables|nftables|ipvs)\/(.+)$/, replacement: `${root}packages/$1/src/$2.ts` },
]

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'fixtures/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.kernel.test.ts', '**/node_modules/**'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'kernel',
          include: ['packages/*/src/**/*.kernel.test.ts', 'fixtures/**/*.kernel.test.ts', 'test/**/*.kernel.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
    benchmark: { include: ['bench/**/*.bench.ts', 'packages/*/bench/**/*.bench.ts'] },
  },
})
