/**
 * The model of every fixture whose input builds one for `mode` (fixtures of bad input are left
 * out), in folder order: what the emit tests compare their one-shot and IR paths on.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type ProxyMode, type ProxyModel, modelFromTexts } from '@kproxc/core'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))

export function fixtureModels(mode: ProxyMode): { name: string; model: ProxyModel }[] {
  const out: { name: string; model: ProxyModel }[] = []
  for (const name of readdirSync(fixtures).sort()) {
    const input = `${fixtures}${name}/input.yaml`
    if (!existsSync(input)) continue
    try {
      out.push({ name, model: modelFromTexts([{ name: input, text: readFileSync(input, 'utf8') }], { mode }) })
    } catch {
      // A bad-input fixture: nothing to emit.
    }
  }
  return out
}
