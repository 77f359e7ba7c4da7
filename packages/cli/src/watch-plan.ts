/**
 * What `kproxc watch` decides once, before its first sync: which families it prints and programs,
 * and how long it waits between syncs. kube-proxy makes the same choices at startup (a dual-stack
 * proxier when the node has both families; minSyncPeriod from its configuration).
 */
import { type ConfigObject, type Family, KproxcError, type LoadedObjects, type ProxyMode, buildModel, durationSeconds } from '@kproxc/core'
import { type ModelFlags, familyFlag, modelOptions } from './options.js'

/** The family watch prints (one, like compile and diff) and the families its store computes and applies. */
export interface WatchFamilies {
  print: Family
  families: Family[]
}

/**
 * --ip-family picks one family for both. Otherwise watch prints the node's primary family and, with
 * --apply, programs every family the node has IPs in (as `kproxc apply` and kube-proxy's dual-stack
 * proxier do); without --apply only the printed family is computed.
 */
export function watchFamilies(initial: LoadedObjects, flags: ModelFlags, mode: ProxyMode, apply: boolean): WatchFamilies {
  const chosen = familyFlag(flags.ipFamily)
  if (chosen) return { print: chosen, families: [chosen] }
  // With no families given the model holds the node's own (see buildContext); no Service is needed to learn them.
  const probe = buildModel({ ...initial, services: [], endpointSlices: [] }, modelOptions(flags, mode))
  const print = probe.node.primaryFamily
  if (!apply) return { print, families: [print] }
  return { print, families: [...new Set([print, ...probe.families.map((f) => f.family)])].sort() }
}

/** kube-proxy's default minSyncPeriod (v1alpha1 defaulting). */
export const DEFAULT_MIN_SYNC_PERIOD = '1s'

/**
 * The minSyncPeriod watch batches events over, in seconds, and where it came from. An explicit
 * --min-sync-period wins; else the configuration's field for this mode. kube-proxy reads only the
 * running mode's section of a v1alpha1 file (Convert_v1alpha1_KubeProxyConfiguration_To_config in
 * pkg/proxy/apis/config/v1alpha1/conversion.go); v1alpha1 has no top-level minSyncPeriod, and the
 * loader accepts only v1alpha1.
 */
export function minSyncPeriod(flag: string | undefined, config: ConfigObject | undefined, mode: ProxyMode): { seconds: number; source: string } {
  if (flag !== undefined) {
    const seconds = durationSeconds(flag)
    if (seconds === undefined) throw new KproxcError('USAGE', `--min-sync-period ${JSON.stringify(flag)} is not a duration such as 1s`)
    return { seconds, source: '--min-sync-period' }
  }
  const text = config?.[mode]?.minSyncPeriod
  // The schema checked the value. For iptables, kube-proxy's v1alpha1 defaulting turns a zero
  // duration into 1s (it cannot tell 0s from unset): SetDefaults_KubeProxyConfiguration.
  const seconds = text === undefined ? undefined : durationSeconds(text)
  if (seconds !== undefined && !(mode === 'iptables' && seconds === 0)) return { seconds, source: `${mode}.minSyncPeriod of --config` }
  return { seconds: durationSeconds(DEFAULT_MIN_SYNC_PERIOD) as number, source: 'default' }
}
