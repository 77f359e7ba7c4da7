import type { IpvsRuleset } from './ir.js'

/** Addresses for kube-ipvs0, one per line (`ip addr replace ADDR dev kube-ipvs0` takes /32 or /128 by default). */
export function renderAddresses(ir: IpvsRuleset): string {
  return ir.boundAddresses.map((a) => `${a}\n`).join('')
}

/** `sysctl -p` input: notes as comments, then `key = value` lines with dotted keys. */
export function renderSysctl(ir: IpvsRuleset): string {
  const notes = ir.sysctlNotes.map((n) => `# ${n}\n`)
  const lines = ir.sysctls.map((s) => `${s.key.replaceAll('/', '.')} = ${s.value}\n`)
  return [...notes, ...lines].join('')
}
