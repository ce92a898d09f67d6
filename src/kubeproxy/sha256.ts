// SHA-256 (FIPS 180-4) of short strings, in place: kube-proxy's chain names hash a few dozen bytes (a Service
// port's name, its protocol and an endpoint), where node's one-shot crypto.hash cost 0.9 µs and two strings (the
// joined input and the digest) per name, 10,000 names a read. This costs about 0.4 µs and allocates nothing.
import crypto from 'node:crypto';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const w = new Int32Array(64);
/** the last digest: eight big-endian words */
const digest = new Int32Array(8);
/** the padded message */
let message = new Uint8Array(128);

/** Byte `i` (0–31) of the last digest. */
export function digestByte(i: number): number {
  return (digest[i >> 2]! >>> (24 - 8 * (i & 3))) & 255;
}

/** Writes the ASCII `s` at message[at]; returns the index after it, or -1 if `s` is not ASCII. */
function put(s: string, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return -1;
    message[at + i] = c;
  }
  return at + s.length;
}

/** Hashes the UTF-8 of a + b + c; the digest is read with digestByte. */
export function sha256(a: string, b = '', c = ''): void {
  const length = a.length + b.length + c.length;
  const padded = (length + 72) & ~63; // the message, 0x80, zeros, and the length in bits in the last 8 bytes
  if (padded > message.length) message = new Uint8Array(2 * padded);
  let at = put(a, 0);
  if (at >= 0) at = put(b, at);
  if (at >= 0) at = put(c, at);
  if (at < 0) return fallback(a + b + c);
  message[length] = 0x80;
  message.fill(0, length + 1, padded - 4);
  const bits = length * 8; // under 2^32: the callers' strings are a few dozen bytes
  message[padded - 4] = bits >>> 24;
  message[padded - 3] = bits >>> 16;
  message[padded - 2] = bits >>> 8;
  message[padded - 1] = bits;
  digest.set(H0);
  for (let block = 0; block < padded; block += 64) compress(block);
}

/** Not ASCII: node's hash of the UTF-8, into the same words. */
function fallback(input: string): void {
  const out = crypto.createHash('sha256').update(input).digest();
  for (let i = 0; i < 8; i++) digest[i] = out.readInt32BE(4 * i);
}

function compress(block: number): void {
  const m = message;
  for (let t = 0; t < 16; t++) {
    const i = block + 4 * t;
    w[t] = (m[i]! << 24) | (m[i + 1]! << 16) | (m[i + 2]! << 8) | m[i + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
  }
  let a = digest[0]!;
  let b = digest[1]!;
  let c = digest[2]!;
  let d = digest[3]!;
  let e = digest[4]!;
  let f = digest[5]!;
  let g = digest[6]!;
  let h = digest[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  digest[0] = (digest[0]! + a) | 0;
  digest[1] = (digest[1]! + b) | 0;
  digest[2] = (digest[2]! + c) | 0;
  digest[3] = (digest[3]! + d) | 0;
  digest[4] = (digest[4]! + e) | 0;
  digest[5] = (digest[5]! + f) | 0;
  digest[6] = (digest[6]! + g) | 0;
  digest[7] = (digest[7]! + h) | 0;
}
