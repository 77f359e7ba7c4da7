import type { Backend, ProxyMode } from '@kproxc/core'
import { backend as iptables } from '@kproxc/iptables'
import { backend as ipvs } from '@kproxc/ipvs'
import { backend as nftables } from '@kproxc/nftables'

/** Every backend the CLI can compile with, by mode. */
export const BACKENDS: Record<ProxyMode, Backend> = { iptables, nftables, ipvs }
