import { readFileSync } from 'node:fs'
import { type Family, type ModelOptions, type ProxyModel, modelFromTexts } from '@kproxc/core'
import { type IpvsCompileOptions, emitIpvs } from '../index.js'

/** The YAML of a file in this folder. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`./${name}`, import.meta.url), 'utf8')
}

/** An ipvs-mode model of YAML text (all families unless given). */
export function modelOf(text: string, options: ModelOptions = {}): ProxyModel {
  return modelFromTexts([{ name: 'test.yaml', text }], { mode: 'ipvs', ...options })
}

/** The five files of one family, by name. */
export function filesOf(model: ProxyModel, family: Family = 'IPv4', extra: Omit<IpvsCompileOptions, 'family'> = {}): Record<string, string> {
  return Object.fromEntries(emitIpvs(model, { family, ...extra }).map((f) => [f.name, f.content]))
}

/** Non-empty lines of a text. */
export function lines(text: string | undefined): string[] {
  return (text ?? '').split('\n').filter((l) => l !== '')
}

/** The worked example of reference ipvs.md §2.5 with node-a's interface addresses. */
export const WORKED_HOSTS = ['192.168.1.10', '10.244.1.1', '127.0.0.1']
