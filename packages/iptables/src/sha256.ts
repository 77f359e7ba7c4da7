import { sha256 } from '@noble/hashes/sha2.js'
import { base32 } from '@scure/base'

const encoder = new TextEncoder()

/**
 * The first 16 characters of RFC 4648 base32 (standard alphabet) of SHA-256(s): the hash part of
 * kube-proxy's KUBE-SVC/SVL/EXT/FW/SEP chain names (pkg/proxy/iptables/proxier.go, portProtoHash).
 * Pure JS (no node:crypto) so compile stays free of node:* imports.
 */
export function sha256Base32_16(s: string): string {
  // 16 base32 characters encode exactly the first 10 bytes.
  return base32.encode(sha256(encoder.encode(s)).subarray(0, 10))
}
