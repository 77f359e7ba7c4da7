/**
 * SHA-256 specialised for kube-proxy's name hashes (iptables chains, nftables chains and sets): short strings in, a base32 prefix out. A
 * 10k-service cluster hashes ~10^5 endpoint names, and a general-purpose hasher (new arrays, a
 * TextEncoder buffer and a DataView per call) spent most of compile time allocating; this one
 * reuses module-level buffers and allocates only the result string. Pure JS (no node:crypto) so
 * compile stays free of node:* imports. hash.test.ts checks it against node:crypto. Hand-written on purpose: @noble/hashes took
 * 0.5-0.68 s for the 110k names of a 10k-service cluster, this 0.1-0.17 s.
 *
 * Measured again on the shared 2-core machine (110k endpoint names, one cold process each, CPU ms,
 * min / median of 8): this 181 / 196 (before the names were hashed in parts and the prefix built in
 * one string: 198 / 210); node:crypto's one-shot hash() 144 / 175, faster but a node:* import;
 * @chainsafe/as-sha256 (WASM) 184 / 200. A fully unrolled compression function ran ~25 % faster
 * warm but slower cold (V8 took longer to compile it than it saved in one compile), so it stays a loop.
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
/** Char codes of RFC 4648 base32's alphabet, A-Z then 2-7. */
const BASE32 = new Uint8Array([...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'].map((c) => c.charCodeAt(0)))
/** Per prefix length, the array its char codes are collected in (reused by every call). */
const CODES: number[][] = []

/**
 * Writes the UTF-8 bytes of a + b + c into `block` (grown as needed) and returns their count. The
 * parts are written one after the other, so callers need not build (and V8 need not flatten) the
 * joined string.
 */
function encodeUTF8(a: string, b: string, c: string): number {
  const total = a.length + b.length + c.length
  if (block.length < total * 3 + 72) block = new Uint8Array(total * 3 + 72)
  let n = putASCII(a, 0)
  if (n >= 0) n = putASCII(b, n)
  if (n >= 0) n = putASCII(c, n)
  return n >= 0 ? n : encoder.encodeInto(a + b + c, block).written
}

/** Copies an ASCII string into `block` at `n`; returns the new end, or -1 at the first non-ASCII character. */
function putASCII(s: string, n: number): number {
  const b8 = block
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code >= 0x80) return -1
    b8[n++] = code
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

/** SHA-256 of the UTF-8 bytes of a + b + c, left in H. */
function digest(a: string, b: string, c: string): void {
  const n = encodeUTF8(a, b, c)
  const total = ((n + 8) >> 6) * 64 + 64
  const b8 = block
  b8[n] = 0x80
  // A loop, not fill(): the padding is a few dozen bytes, and fill() is a call into the runtime.
  for (let i = n + 1; i < total - 4; i++) b8[i] = 0
  const bits = n * 8
  // Inputs here are far below 2^32 bits, so the high length word stays zero.
  b8[total - 4] = bits >>> 24
  b8[total - 3] = (bits >>> 16) & 255
  b8[total - 2] = (bits >>> 8) & 255
  b8[total - 1] = bits & 255
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

/** The first `chars` base32 characters of the digest in H, as one flat string. */
function base32Prefix(chars: number): string {
  const codes = (CODES[chars] ??= new Array<number>(chars).fill(0))
  for (let i = 0; i < chars; i++) {
    // Character i holds digest bits 5i .. 5i+4 (big-endian across the 32-bit words).
    const bit = i * 5
    const word = bit >>> 5
    const shift = bit & 31
    let v = ((H[word] as number) << shift) >>> 27
    if (shift > 27) v |= (H[word + 1] as number) >>> (59 - shift)
    codes[i] = BASE32[v & 31] as number
  }
  // One allocation for the whole prefix; `+=` per character built a string per character.
  return String.fromCharCode.apply(null, codes)
}

/**
 * The first `chars` characters (at most 48) of RFC 4648 base32 (standard alphabet, no padding
 * needed for a prefix) of SHA-256(s).
 */
export function sha256Base32(s: string, chars: number): string {
  digest(s, '', '')
  return base32Prefix(chars)
}

/**
 * The first 16 characters of base32(SHA-256(s + b + c)): the hash part of kube-proxy's
 * KUBE-SVC/SVL/EXT/FW/SEP chain names (pkg/proxy/iptables/proxier.go, portProtoHash). The optional
 * parts are hashed as if appended to `s`, without building the joined string (an endpoint chain
 * hashes ServicePortName, protocol and endpoint).
 */
export function sha256Base32_16(s: string, b = '', c = ''): string {
  digest(s, b, c)
  return base32Prefix(16)
}
