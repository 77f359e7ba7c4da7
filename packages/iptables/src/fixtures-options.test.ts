/** The backend flags against every golden fixture: each flag removes exactly its fragment. */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Family, buildModel, loadObjects } from '@kproxc/core'
import { describe, expect, it } from 'vitest'
import { backend } from './index.js'

const root = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
const fixtureNames = readdirSync(root).filter((d) => existsSync(join(root, d, 'input.yaml'))).sort()

function readFixture(name: string) {
  const objects = loadObjects([{ name: `${name}/input.yaml`, text: readFileSync(join(root, name, 'input.yaml'), 'utf8') }])
  const specPath = join(root, name, 'fixture.json')
  const spec = (existsSync(specPath) ? JSON.parse(readFileSync(specPath, 'utf8')) : {}) as {
    families?: Family[]
    options?: { iptables?: Record<string, boolean> }
  }
  return { objects, spec }
}

/** The golden as --no-nfacct would print it. */
function withoutNfacct(text: string): string {
  return text.replace(/^.* -m nfacct --nfacct-name localhost_nps_accepted_pkts .*\n/gm, '').replace(/ -m nfacct --nfacct-name \S+/g, '')
}

describe.each(fixtureNames)('fixture %s', (name) => {
  it('--no-nfacct, --no-random-fully and --no-builtin-jumps change only their own text', () => {
    const { objects, spec } = readFixture(name)
    const families: Family[] = spec.families ?? [buildModel({ ...objects, services: [], endpointSlices: [] }, { mode: 'iptables' }).node.primaryFamily]
    for (const family of families) {
      const file = join(root, name, families.length > 1 ? family.toLowerCase() : '', 'iptables.rules')
      if (!existsSync(file)) continue
      const golden = readFileSync(file, 'utf8')
      const model = buildModel(objects, { mode: 'iptables', families: [family] })
      const emit = (o: Record<string, boolean>) =>
        backend.emit(model, { family, format: 'text', options: { ...spec.options?.iptables, ...o } })[0]!.content
      const first = emit({}).split('\n').findIndex((l, i) => l !== golden.split('\n')[i])
      expect(first, `${file} line ${first + 1}`).toBe(-1)
      // Without counters kube-proxy drops the localhost NodePort rule entirely and the INVALID rule's
      // counter fragment.
      expect(emit({ nfacct: false })).toBe(withoutNfacct(golden))
      expect(emit({ randomFully: false })).toBe(golden.replace(' --random-fully', ''))
      const noJumps = emit({ builtinJumps: false })
      expect(noJumps).toBe(golden.replace(/^# Jumps from built-in chains.*\n(?:(?:-A|:).*\n)*?(?=COMMIT)/gm, ''))
    }
  })
})
