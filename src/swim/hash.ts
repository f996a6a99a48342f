/**
 * Fast, non-cryptographic string hashing shared by the probe ring and the
 * membership digest. Every server must compute the same values for the same
 * input, so the hash is defined over the string's UTF-8 bytes (not over
 * JavaScript's UTF-16 code units) with MurmurHash3 x86_32: a documented
 * algorithm another implementation can reproduce.
 *
 * Not security-relevant: gossip messages are authenticated, so an attacker
 * who could choose colliding inputs could already send whatever they liked.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Seeds of the two lanes of {@link hash64}; arbitrary but fixed forever (they are part of the digest format). */
const SEED_HI = 0x9747b28c;
const SEED_LO = 0x3c6ef372;

const encoder = new TextEncoder();

/**
 * `s` as a "byte string": one char per UTF-8 byte. ASCII strings (nearly all
 * URLs and entry keys) are returned as they are, so the common case copies
 * nothing.
 */
function utf8Bytes(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  const bytes = encoder.encode(s);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

/** Little-endian 32-bit block of byte string `b` at `i`. */
function block(b: string, i: number): number {
  return b.charCodeAt(i) | (b.charCodeAt(i + 1) << 8) | (b.charCodeAt(i + 2) << 16) | (b.charCodeAt(i + 3) << 24);
}

/** The 0-3 bytes after the last whole block, little-endian (0 if none). */
function tail(b: string, blocks: number): number {
  const len = b.length;
  let k = 0;
  if (len - blocks > 2) k |= b.charCodeAt(blocks + 2) << 16;
  if (len - blocks > 1) k |= b.charCodeAt(blocks + 1) << 8;
  if (len - blocks > 0) k |= b.charCodeAt(blocks);
  return k;
}

/** The per-block key scramble of MurmurHash3. */
function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** One block folded into the running state. */
function round(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's 32-bit finaliser: a bijection on 32-bit values with full avalanche. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of `s`, as an unsigned 32-bit integer. */
export function hash32(s: string, seed = 0): number {
  const b = utf8Bytes(s);
  const blocks = b.length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) h = round(h, scramble(block(b, i)));
  // A tail of zero bytes contributes nothing (k = 0 scrambles to 0), as in the reference.
  h ^= scramble(tail(b, blocks));
  return fmix32(h ^ b.length);
}

/**
 * A 64-bit hash of the UTF-8 bytes of `s`, as two unsigned 32-bit lanes:
 * `hi = hash32(s, 0x9747b28c)`, `lo = hash32(s, 0x3c6ef372)`, computed in one
 * pass over the input.
 */
export function hash64(s: string): { hi: number; lo: number } {
  const b = utf8Bytes(s);
  const blocks = b.length & ~3;
  let hi = SEED_HI | 0;
  let lo = SEED_LO | 0;
  for (let i = 0; i < blocks; i += 4) {
    const k = scramble(block(b, i));
    hi = round(hi, k);
    lo = round(lo, k);
  }
  const k = scramble(tail(b, blocks));
  return { hi: fmix32(hi ^ k ^ b.length), lo: fmix32(lo ^ k ^ b.length) };
}

/**
 * An unsigned 32-bit hash of a safe integer (e.g. a period number): both
 * 32-bit halves go through the MurmurHash3 finaliser, so consecutive inputs
 * give unrelated outputs. Non-integers are floored first.
 */
export function hashInt(x: number): number {
  const v = Math.floor(x);
  const lo = v >>> 0; // the low 32 bits, also for negative values (two's complement)
  const hi = Math.floor(v / 4294967296) | 0;
  return fmix32(fmix32(lo) ^ Math.imul(hi ^ 0x5bd1e995, 0x27d4eb2f));
}
