/**
 * An order-independent digest of a replicated map, kept in O(1) per change
 * and split in two levels so that two replicas find the keys they disagree
 * on without sending the map: compare roots; if they differ, compare the 64
 * top buckets ({@link MapDigest.level1}); for each differing bucket, compare
 * its 64 leaves ({@link MapDigest.level2}); then exchange only the keys of
 * the differing leaves. One changed key among 100,000 costs two lists of 64
 * short strings and the ~25 keys of one leaf.
 *
 * Each (key, key state) has a 64-bit hash ({@link hashKeyState}); a leaf,
 * bucket or root is the sum of its hashes modulo 2^64 and their count. Sums
 * commute, so the order of changes does not matter, and they invert, so a
 * key's old hash is subtracted and its new one added in O(1). The 64-bit
 * sums are kept as two 32-bit lanes with carry (BigInt would be several
 * times slower at 100,000 keys).
 *
 * The hash is non-cryptographic (two MurmurHash3 lanes, see swim/hash.ts),
 * as for the membership digest: messages are authenticated, and a chance
 * collision (≈ 2^-64) only delays a repair until that key changes again.
 */
import { jsonString } from '../protocol/canonical-json.js';
import { hash32, hash64 } from '../swim/hash.js';
import type { KeyState } from './register.js';
import type { Version } from './types.js';

/** Top buckets, and leaves per bucket. Part of the wire format. */
export const DIGEST_FANOUT = 64;
/** Leaves of the digest (64 × 64). Part of the wire format. */
export const DIGEST_LEAVES = DIGEST_FANOUT * DIGEST_FANOUT;

/** Seed of the leaf hash; arbitrary but fixed forever (part of the wire format). */
const LEAF_SEED = 0x2545f491;

const TWO_32 = 4294967296;

/** A 64-bit hash as two unsigned 32-bit lanes. */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

/** The leaf of a key (0 to 4095): MurmurHash3 x86_32 of its UTF-8 bytes, seed 0x2545f491, modulo 4096. */
export function leafOf(key: string): number {
  return hash32(key, LEAF_SEED) & (DIGEST_LEAVES - 1);
}

/** `,t,"replica"` of a version. */
function versionText(v: Version): string {
  return ',' + v.t + ',' + jsonString(v.replica);
}

/**
 * The 64-bit hash of a key and its state: hash64 of a canonical text of
 * the key, every write's version and base, and, if `includeTombstoneInfo`,
 * `del` and `delAt`. Values are left out: one version has one value (bytes
 * are not hashed twice, and a large value costs nothing here).
 *
 * Without the tombstone info, a live key hashes the same whether or not it
 * remembers an old delete, so replicas that collected that delete's
 * tombstone and replicas that did not agree.
 */
export function hashKeyState(key: string, state: KeyState<unknown>, includeTombstoneInfo: boolean): Hash64 {
  let text = jsonString(key);
  for (const w of state.writes) {
    text += ';w' + versionText(w.v);
    if (w.base !== undefined) text += ';b' + versionText(w.base);
  }
  if (includeTombstoneInfo) {
    if (state.del !== undefined) text += ';d' + versionText(state.del);
    if (state.delAt !== undefined) text += ';a' + versionText(state.delAt);
  }
  return hash64(text);
}

/**
 * Text of one sum: its count in base 36, a colon, the 64-bit sum in 16 hex
 * digits (`"2s:00ab…ef"`); for an empty bucket with `emptyAsBlank`, "".
 */
function sumText(count: number, hi: number, lo: number, emptyAsBlank: boolean): string {
  if (emptyAsBlank && count === 0 && hi === 0 && lo === 0) return '';
  return count.toString(36) + ':' + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/**
 * Positions where `theirs` differs from `mine` (a list of {@link MapDigest.level1}
 * or {@link MapDigest.level2}), in ascending order. `theirs` is untrusted: a
 * missing or non-string entry differs; entries past `mine.length` are ignored.
 */
export function differing(mine: readonly string[], theirs: readonly unknown[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < mine.length; i++) if (mine[i] !== theirs[i]) out.push(i);
  return out;
}

/**
 * The running digest of a map. The caller keeps it in step with the map:
 * add each (key, state) as it enters, remove exactly that (key, state,
 * includeTombstoneInfo) when it leaves or changes.
 */
export class MapDigest {
  // Sums and counts, 3 × 4096 for the leaves then 3 × 64 for the top buckets, in one buffer.
  readonly #buf = new ArrayBuffer(3 * 4 * (DIGEST_LEAVES + DIGEST_FANOUT));
  readonly #leafHi = new Uint32Array(this.#buf, 0, DIGEST_LEAVES);
  readonly #leafLo = new Uint32Array(this.#buf, 4 * DIGEST_LEAVES, DIGEST_LEAVES);
  readonly #leafCount = new Uint32Array(this.#buf, 8 * DIGEST_LEAVES, DIGEST_LEAVES);
  readonly #topHi = new Uint32Array(this.#buf, 12 * DIGEST_LEAVES, DIGEST_FANOUT);
  readonly #topLo = new Uint32Array(this.#buf, 12 * DIGEST_LEAVES + 4 * DIGEST_FANOUT, DIGEST_FANOUT);
  readonly #topCount = new Uint32Array(this.#buf, 12 * DIGEST_LEAVES + 8 * DIGEST_FANOUT, DIGEST_FANOUT);
  #hi = 0;
  #lo = 0;
  #count = 0;
  /** Cached texts until the next change (digests travel in every gossip message). */
  #rootText: string | undefined;
  #level1Text: string[] | undefined;

  /** Accounts for `key` with `state` entering the map. */
  add(key: string, state: KeyState<unknown>, includeTombstoneInfo = true): void {
    this.addHash(leafOf(key), hashKeyState(key, state, includeTombstoneInfo));
  }

  /** Accounts for `key` with `state` leaving the map (added before with the same arguments). */
  remove(key: string, state: KeyState<unknown>, includeTombstoneInfo = true): void {
    this.removeHash(leafOf(key), hashKeyState(key, state, includeTombstoneInfo));
  }

  /** Adds a hash computed before with {@link hashKeyState} to leaf `leaf`. */
  addHash(leaf: number, h: Hash64): void {
    this.#change(leaf, h.hi, h.lo, 1);
  }

  /** Removes a hash added with {@link addHash} from leaf `leaf`. */
  removeHash(leaf: number, h: Hash64): void {
    // Subtracting x modulo 2^64 is adding its two's complement, (2^64 − x): ~hi, ~lo + 1 with carry.
    let lo = (~h.lo >>> 0) + 1;
    let hi = ~h.hi >>> 0;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      hi = (hi + 1) >>> 0;
    }
    this.#change(leaf, hi, lo, -1);
  }

  #change(leaf: number, hi: number, lo: number, dCount: number): void {
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= DIGEST_LEAVES) throw new RangeError(`MapDigest: no leaf ${leaf}`);
    const top = leaf >>> 6;
    let sum = this.#leafLo[leaf]! + lo;
    this.#leafLo[leaf] = sum;
    this.#leafHi[leaf] = this.#leafHi[leaf]! + hi + (sum >= TWO_32 ? 1 : 0);
    this.#leafCount[leaf] = this.#leafCount[leaf]! + dCount;
    sum = this.#topLo[top]! + lo;
    this.#topLo[top] = sum;
    this.#topHi[top] = this.#topHi[top]! + hi + (sum >= TWO_32 ? 1 : 0);
    this.#topCount[top] = this.#topCount[top]! + dCount;
    sum = this.#lo + lo;
    this.#lo = sum >>> 0;
    this.#hi = (this.#hi + hi + (sum >= TWO_32 ? 1 : 0)) >>> 0;
    this.#count += dCount;
    this.#rootText = undefined;
    this.#level1Text = undefined;
  }

  /** Number of (key, state) pairs accounted for. */
  get count(): number {
    return this.#count;
  }

  /** The whole digest: the count in base 36, ':', 16 hex digits of the sum (`"0:0000000000000000"` when empty). */
  root(): string {
    this.#rootText ??= sumText(this.#count, this.#hi, this.#lo, false);
    return this.#rootText;
  }

  /** The 64 top buckets' digests (top bucket of leaf l: l >> 6); an empty bucket is "". A fresh array. */
  level1(): string[] {
    if (this.#level1Text === undefined) {
      const out: string[] = [];
      for (let i = 0; i < DIGEST_FANOUT; i++) out.push(sumText(this.#topCount[i]!, this.#topHi[i]!, this.#topLo[i]!, true));
      this.#level1Text = out;
    }
    return this.#level1Text.slice();
  }

  /** The digests of the 64 leaves of top bucket `i` (leaves 64·i to 64·i + 63); an empty leaf is "". */
  level2(i: number): string[] {
    if (!Number.isInteger(i) || i < 0 || i >= DIGEST_FANOUT) throw new RangeError(`MapDigest: no top bucket ${i}`);
    const out: string[] = [];
    for (let l = i * DIGEST_FANOUT; l < (i + 1) * DIGEST_FANOUT; l++) {
      out.push(sumText(this.#leafCount[l]!, this.#leafHi[l]!, this.#leafLo[l]!, true));
    }
    return out;
  }

  /** The leaf of a key; see {@link leafOf}. */
  leafOf(key: string): number {
    return leafOf(key);
  }

  /** Positions where `theirs` differs from `mine`; see {@link differing}. */
  differing(mine: readonly string[], theirs: readonly unknown[]): number[] {
    return differing(mine, theirs);
  }
}
