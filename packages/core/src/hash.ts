/**
 * SHA-256 specialised for kube-proxy's name hashes (iptables chains, nftables chains and sets): short strings in, a base32 prefix out. A
 * 10k-service cluster hashes ~10^5 endpoint names, and a general-purpose hasher (new arrays, a
 * TextEncoder buffer and a DataView per call) spent most of compile time allocating; this one
 * reuses module-level buffers and allocates only the result string. Pure JS (no node:crypto) so
 * compile stays free of node:* imports. hash.test.ts checks it against node:crypto. Hand-written on purpose: @noble/hashes took
 * 0.5-0.68 s for the 110k names of a 10k-service cluster, this 0.1-0.17 s.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const W = new Int32Array(64)
const H = new Int32Array(8)
let block = new Uint8Array(256)
const encoder = new TextEncoder()
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** Writes the UTF-8 bytes of `s` into `block` (grown as needed) and returns their count. */
function encodeUTF8(s: string): number {
  const n = s.length
  if (block.length < n * 3 + 72) block = new Uint8Array(n * 3 + 72)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return encoder.encodeInto(s, block).written
    block[i] = c
  }
  return n
}

// Every sum is truncated with `| 0` as it goes: a sum of several int32s would otherwise leave
// V8's small-integer range and run as doubles.
function compress(off: number): void {
  const w = W
  const b8 = block
  for (let i = 0; i < 16; i++) {
    const j = off + (i << 2)
    w[i] = ((b8[j] as number) << 24) | ((b8[j + 1] as number) << 16) | ((b8[j + 2] as number) << 8) | (b8[j + 3] as number)
  }
  for (let i = 16; i < 64; i++) {
    const w15 = w[i - 15] as number
    const w2 = w[i - 2] as number
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
    w[i] = (((((w[i - 16] as number) + s0) | 0) + (w[i - 7] as number)) | 0) + s1
  }
  let a = H[0] as number, b = H[1] as number, c = H[2] as number, d = H[3] as number
  let e = H[4] as number, f = H[5] as number, g = H[6] as number, h = H[7] as number
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const ch = (e & f) ^ (~e & g)
    const t1 = (((((((h + S1) | 0) + ch) | 0) + (K[i] as number)) | 0) + (w[i] as number)) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  H[0] = (H[0] as number) + a
  H[1] = (H[1] as number) + b
  H[2] = (H[2] as number) + c
  H[3] = (H[3] as number) + d
  H[4] = (H[4] as number) + e
  H[5] = (H[5] as number) + f
  H[6] = (H[6] as number) + g
  H[7] = (H[7] as number) + h
}

/** SHA-256 of the UTF-8 bytes of `s`, left in H. */
function digest(s: string): void {
  const n = encodeUTF8(s)
  const total = ((n + 8) >> 6) * 64 + 64
  block[n] = 0x80
  block.fill(0, n + 1, total)
  const bits = n * 8
  // Inputs here are far below 2^32 bits, so the high length word stays zero.
  block[total - 4] = bits >>> 24
  block[total - 3] = (bits >>> 16) & 255
  block[total - 2] = (bits >>> 8) & 255
  block[total - 1] = bits & 255
  H[0] = 0x6a09e667
  H[1] = 0xbb67ae85
  H[2] = 0x3c6ef372
  H[3] = 0xa54ff53a
  H[4] = 0x510e527f
  H[5] = 0x9b05688c
  H[6] = 0x1f83d9ab
  H[7] = 0x5be0cd19
  for (let off = 0; off < total; off += 64) compress(off)
}

/**
 * The first `chars` characters (at most 48) of RFC 4648 base32 (standard alphabet, no padding
 * needed for a prefix) of SHA-256(s).
 */
export function sha256Base32(s: string, chars: number): string {
  digest(s)
  let out = ''
  for (let i = 0; i < chars; i++) {
    // Character i holds digest bits 5i .. 5i+4 (big-endian across the 32-bit words).
    const bit = i * 5
    const word = bit >>> 5
    const shift = bit & 31
    let v = ((H[word] as number) << shift) >>> 27
    if (shift > 27) v |= (H[word + 1] as number) >>> (59 - shift)
    out += BASE32[v & 31]
  }
  return out
}

/**
 * The first 16 characters of base32(SHA-256(s)): the hash part of kube-proxy's
 * KUBE-SVC/SVL/EXT/FW/SEP chain names (pkg/proxy/iptables/proxier.go, portProtoHash).
 */
export function sha256Base32_16(s: string): string {
  return sha256Base32(s, 16)
}
