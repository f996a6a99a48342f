/**
 * HMAC-SHA256 (RFC 2104) of UTF-8 text, base64url without padding: the
 * signature of every gossip request and reply, four per exchange.
 *
 * `createHmac` builds a keyed object per call, which costs more than the
 * hashing of a small message. HMAC is two hashes,
 * `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, so with the padded key blocks
 * computed once per secret, each call is two one-shot `crypto.hash` calls.
 * That path needs the inner block `K ⊕ ipad` as text: it is, exactly when
 * every byte of the (zero-padded) key is ASCII, since ASCII XOR 0x36 stays
 * ASCII. Any other key (non-ASCII text, or longer than the 64-byte block,
 * which HMAC first hashes) takes `createHmac`. Both give the same bytes;
 * `hmac.test.ts` checks them against each other.
 */
import * as crypto from 'node:crypto';

/** SHA-256's block size in bytes: keys are zero-padded (or first hashed) to this. */
const BLOCK = 64;

interface KeyState {
  /** `K ⊕ ipad` as ASCII text, or undefined where the key is not ASCII. */
  readonly innerPrefix: string | undefined;
  /** `K ⊕ opad` followed by room for the 32-byte inner digest (reused: calls are synchronous). */
  readonly outer: Buffer;
  readonly key: crypto.KeyObject;
}

/** One-shot hashing (Node ≥ 20.12); absent, every key takes createHmac. */
const oneShot: ((algorithm: string, data: string | Buffer, encoding: 'base64' | 'base64url') => string) | undefined =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (crypto as unknown as { hash: (a: string, d: string | Buffer, e: 'base64' | 'base64url') => string }).hash
    : undefined;

/** Key states of the secrets in use (a handful: the configured ones). */
const states = new Map<string, KeyState>();

function stateOf(secret: string): KeyState {
  let s = states.get(secret);
  if (s !== undefined) return s;
  const raw = Buffer.from(secret, 'utf8');
  const padded = Buffer.alloc(BLOCK);
  let ascii = raw.length <= BLOCK;
  if (ascii) {
    raw.copy(padded);
    for (const b of raw) if (b >= 0x80) ascii = false;
  }
  const outer = Buffer.alloc(BLOCK + 32);
  const inner = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = padded[i]! ^ 0x36;
    outer[i] = padded[i]! ^ 0x5c;
  }
  s = {
    innerPrefix: ascii && oneShot !== undefined ? inner.toString('latin1') : undefined,
    outer,
    key: crypto.createSecretKey(raw),
  };
  if (states.size >= 64) states.clear();
  states.set(secret, s);
  return s;
}

/** HMAC-SHA256 of `data` (UTF-8) under `secret` (UTF-8), base64url without padding (43 characters). */
export function hmacSha256(secret: string, data: string): string {
  const s = stateOf(secret);
  if (s.innerPrefix === undefined || oneShot === undefined) {
    return crypto.createHmac('sha256', s.key).update(data, 'utf8').digest('base64url');
  }
  s.outer.write(oneShot('sha256', s.innerPrefix + data, 'base64'), BLOCK, 'base64');
  return oneShot('sha256', s.outer, 'base64url');
}
