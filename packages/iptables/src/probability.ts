/**
 * The `--probability` text kube-proxy writes for the i-th of n endpoints: Go's `%0.10f` of 1/(n-i)
 * (pkg/proxy/iptables/proxier.go, probability()). Go rounds the double's exact value half to even;
 * JavaScript's toFixed rounds exact ties away from zero. The two differ only where 1/k is exactly a
 * tie at the 11th decimal (k = 2048 gives Go `0.0004882812`, toFixed `0.0004882813`).
 */

const cache = new Map<number, string>()

/** `%0.10f` of 1/k, as Go prints it. */
export function probability(k: number): string {
  let s = cache.get(k)
  if (s === undefined) {
    s = formatFixed10(1 / k)
    cache.set(k, s)
  }
  return s
}

/** Go's `%0.10f` of a non-negative double (correctly rounded, ties to even). */
export function formatFixed10(x: number): string {
  const s = x.toFixed(10)
  const frac = x * 1e10 - Math.floor(x * 1e10)
  if (Math.abs(frac - 0.5) > 1e-6) return s
  // Possibly an exact tie: inspect the exact decimal expansion (toFixed is exact up to 100 digits).
  const exact = x.toFixed(100)
  const point = exact.indexOf('.')
  const rest = exact.slice(point + 11)
  if (!/^50*$/.test(rest)) return s
  const truncated = exact.slice(0, point + 11)
  const last = Number(truncated[truncated.length - 1])
  // Ties go to the even neighbour: keep the truncation when its last digit is already even.
  return last % 2 === 0 ? truncated : s
}
