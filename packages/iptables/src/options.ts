/** Options of the iptables backend: host facts that change kube-proxy's text, with their defaults. */
import { type BackendOption, KproxcError } from '@kproxc/core'

/** Host facts and output choices; every field has a documented default. */
export interface IptablesOptions {
  /**
   * The kernel has nfacct and kube-proxy created its counters, so rules carry
   * `-m nfacct --nfacct-name …` (default true, as on a current kube-proxy host). A restore that
   * names a missing counter fails, so turn this off for hosts without the counters.
   */
  nfacct: boolean
  /** The host's iptables supports `MASQUERADE --random-fully` (iptables ≥ 1.6.2; default true). */
  randomFully: boolean
  /**
   * Also emit the jumps from INPUT, FORWARD, OUTPUT, PREROUTING and POSTROUTING that kube-proxy
   * installs with separate `iptables -I` commands, so plain iptables-restore yields a working node
   * (default true).
   */
  builtinJumps: boolean
}

/** Defaults matching a current kube-proxy host. */
export const DEFAULT_OPTIONS: Readonly<IptablesOptions> = { nfacct: true, randomFully: true, builtinJumps: true }

/** The CLI flags of this backend (commander's `--no-x` gives key `x`, default true). */
export const BACKEND_OPTIONS: readonly BackendOption[] = [
  {
    flags: '--no-nfacct',
    key: 'nfacct',
    default: true,
    description: 'host without nfacct counters: omit the -m nfacct matches (a restore naming a missing counter fails)',
  },
  {
    flags: '--no-random-fully',
    key: 'randomFully',
    default: true,
    description: 'host iptables without MASQUERADE --random-fully (older than 1.6.2)',
  },
  {
    flags: '--no-builtin-jumps',
    key: 'builtinJumps',
    default: true,
    description: 'leave out the jumps from built-in chains that kube-proxy installs outside iptables-restore',
  },
]

/** Reads the backend's options from the CLI/fixture record; unknown or mistyped values are errors. */
export function readOptions(record: Readonly<Record<string, string | boolean | undefined>> = {}): IptablesOptions {
  const out: IptablesOptions = { ...DEFAULT_OPTIONS }
  for (const key of Object.keys(DEFAULT_OPTIONS) as (keyof IptablesOptions)[]) {
    const v = record[key]
    if (v === undefined) continue
    if (typeof v !== 'boolean') {
      throw new KproxcError('USAGE', `iptables option ${key} must be true or false, not ${JSON.stringify(v)}`)
    }
    out[key] = v
  }
  return out
}
