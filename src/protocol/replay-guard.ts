/**
 * Replay protection for signed messages: a message is accepted once, and
 * only while its timestamp is within a window of the receiver's clock.
 */

/** Options of a {@link ReplayGuard}. */
export interface ReplayGuardOptions {
  /** Largest accepted |now - t|, in ms. */
  readonly windowMs: number;
  /** Most nonces remembered at once (at least 1). */
  readonly maxEntries: number;
}

/** Outcome of {@link ReplayGuard.check}. */
export type ReplayVerdict = 'ok' | 'stale' | 'replayed';

/** Initial capacity of the expiry heap (entries); both structures double as needed. */
const INITIAL_CAPACITY = 16;

/**
 * Remembers the nonces of recently accepted messages.
 *
 * A message is `stale` when `|now - t| > windowMs` or `t <= floor`, and
 * `replayed` when its nonce was accepted before; otherwise it is `ok` and
 * its nonce is remembered until `t + windowMs`, after which a replay would
 * be stale anyway. Memory is bounded by `maxEntries`: when full, the entry
 * with the smallest `t` is forgotten and `floor` rises to that `t`, so a
 * forgotten nonce can still never be replayed (its message is now stale).
 * The floor also rises past every expired entry, so a clock that steps
 * backwards cannot revive one.
 *
 * A nonce is remembered as a 64-bit fingerprint, not as a string: a server
 * accepting a few requests per second over a 5-minute window would
 * otherwise hold hundreds of small objects (and, through sliced strings,
 * the headers they came from) for the garbage collector to copy and mark;
 * a simulator with thousands of servers holds millions. Fingerprints live
 * in typed arrays: an expiry min-heap on `t` and an open-addressing set.
 * Two different nonces share a fingerprint with probability 2^-64, and the
 * only effect would be a fresh message judged `replayed` (rejected, never
 * wrongly accepted); only a holder of the secret can choose nonces, since
 * {@link check} runs after the signature verified.
 *
 * Call {@link check} only after the message's signature verified: otherwise
 * outsiders could fill the guard and raise the floor at will.
 */
export class ReplayGuard {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  #floor = -Infinity;

  // Expiry min-heap on t, as parallel arrays: t and the two fingerprint halves.
  #heapT = new Float64Array(INITIAL_CAPACITY);
  #heapA = new Int32Array(INITIAL_CAPACITY);
  #heapB = new Int32Array(INITIAL_CAPACITY);
  #size = 0;

  // Set of fingerprints: linear probing, power-of-two capacity, load <= 1/2.
  // (0, 0) marks an empty slot; fingerprints never take that value.
  #setA = new Int32Array(2 * INITIAL_CAPACITY);
  #setB = new Int32Array(2 * INITIAL_CAPACITY);

  /** Throws RangeError unless windowMs >= 0 and maxEntries is an integer >= 1. */
  constructor(opts: ReplayGuardOptions) {
    if (!(opts.windowMs >= 0) || !Number.isFinite(opts.windowMs)) throw new RangeError('windowMs must be a finite number >= 0');
    if (!Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    this.#windowMs = opts.windowMs;
    this.#maxEntries = opts.maxEntries;
  }

  /** Number of nonces currently remembered. */
  get size(): number {
    return this.#size;
  }

  /** Messages with `t` at or below this are stale. -Infinity until something is forgotten early or expires. */
  get floor(): number {
    return this.#floor;
  }

  /**
   * Judges a message signed at `t` with `nonce`, received at `now`, and on
   * `ok` remembers the nonce. O(log n) amortised.
   */
  check(t: number, nonce: string, now: number): ReplayVerdict {
    this.#expire(now);
    if (!Number.isFinite(t) || Math.abs(now - t) > this.#windowMs || t <= this.#floor) return 'stale';
    const a = fingerprintA(nonce);
    let b = fingerprintB(nonce);
    if (a === 0 && b === 0) b = 1;
    if (this.#setIndex(a, b) >= 0) return 'replayed';
    this.#setAdd(a, b);
    this.#heapPush(t, a, b);
    if (this.#size > this.#maxEntries) {
      // Forget the oldest (possibly the one just added): its t becomes the
      // floor, so its message is stale from now on and needs no memory.
      this.#forget();
    }
    return 'ok';
  }

  /** Forgets entries that are stale at `now`: now - t > windowMs. */
  #expire(now: number): void {
    while (this.#size > 0 && now - this.#heapT[0]! > this.#windowMs) this.#forget();
  }

  /** Removes the entry with the smallest t and raises the floor to it. */
  #forget(): void {
    const t = this.#heapT[0]!;
    this.#setDelete(this.#heapA[0]!, this.#heapB[0]!);
    this.#heapPop();
    if (t > this.#floor) this.#floor = t;
  }

  #heapPush(t: number, a: number, b: number): void {
    if (this.#size === this.#heapT.length) {
      const cap = 2 * this.#heapT.length;
      this.#heapT = grow(this.#heapT, new Float64Array(cap));
      this.#heapA = grow(this.#heapA, new Int32Array(cap));
      this.#heapB = grow(this.#heapB, new Int32Array(cap));
    }
    // Sift up: move parents down into the hole, then write the entry once.
    const ht = this.#heapT;
    let i = this.#size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(t < ht[p]!)) break;
      this.#heapMove(i, p);
      i = p;
    }
    this.#heapPut(i, t, a, b);
  }

  #heapPop(): void {
    const n = --this.#size;
    if (n === 0) return;
    // Sift the last entry down from the root, moving smaller children up into the hole.
    const ht = this.#heapT;
    const t = ht[n]!;
    const a = this.#heapA[n]!;
    const b = this.#heapB[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && ht[r]! < ht[l]! ? r : l;
      if (!(ht[m]! < t)) break;
      this.#heapMove(i, m);
      i = m;
    }
    this.#heapPut(i, t, a, b);
  }

  /** Copies heap entry `from` to position `to`. */
  #heapMove(to: number, from: number): void {
    this.#heapT[to] = this.#heapT[from]!;
    this.#heapA[to] = this.#heapA[from]!;
    this.#heapB[to] = this.#heapB[from]!;
  }

  #heapPut(i: number, t: number, a: number, b: number): void {
    this.#heapT[i] = t;
    this.#heapA[i] = a;
    this.#heapB[i] = b;
  }

  /** Slot of fingerprint (a, b) in the set, or -1. */
  #setIndex(a: number, b: number): number {
    const sa = this.#setA;
    const sb = this.#setB;
    const mask = sa.length - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const x = sa[i]!;
      const y = sb[i]!;
      if (x === a && y === b) return i;
      if (x === 0 && y === 0) return -1;
    }
  }

  /** Adds (a, b), known to be absent. */
  #setAdd(a: number, b: number): void {
    // Keep the load at most 1/2: the set holds at most size + 1 fingerprints here.
    if (2 * (this.#size + 1) > this.#setA.length) this.#rehash(2 * this.#setA.length);
    this.#insert(this.#setA, this.#setB, a, b);
  }

  /** Removes (a, b), known to be present, by shifting later entries of its probe run back. */
  #setDelete(a: number, b: number): void {
    const sa = this.#setA;
    const sb = this.#setB;
    const mask = sa.length - 1;
    let hole = this.#setIndex(a, b);
    if (hole < 0) return;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const x = sa[j]!;
      const y = sb[j]!;
      if (x === 0 && y === 0) break;
      // The entry at j may move into the hole only if its home slot is not
      // cyclically within (hole, j]: otherwise lookups would miss it.
      const home = x & mask;
      const inRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!inRange) {
        sa[hole] = x;
        sb[hole] = y;
        hole = j;
      }
    }
    sa[hole] = 0;
    sb[hole] = 0;
  }

  #rehash(capacity: number): void {
    const oldA = this.#setA;
    const oldB = this.#setB;
    const sa = new Int32Array(capacity);
    const sb = new Int32Array(capacity);
    for (let i = 0; i < oldA.length; i++) {
      if (oldA[i] !== 0 || oldB[i] !== 0) this.#insert(sa, sb, oldA[i]!, oldB[i]!);
    }
    this.#setA = sa;
    this.#setB = sb;
  }

  #insert(sa: Int32Array, sb: Int32Array, a: number, b: number): void {
    const mask = sa.length - 1;
    let i = a & mask;
    while (sa[i] !== 0 || sb[i] !== 0) i = (i + 1) & mask;
    sa[i] = a;
    sb[i] = b;
  }
}

function grow<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * The two 32-bit halves of a nonce's fingerprint: two multiplicative hashes
 * over its UTF-16 code units with different constants, each finished with
 * MurmurHash3's avalanche step. Not a cryptographic hash (see
 * {@link ReplayGuard}).
 */
function fingerprintA(s: string): number {
  let h = 0x811c9dc5 ^ s.length;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return avalanche(h);
}

function fingerprintB(s: string): number {
  let h = 0x9e3779b9 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 13;
  }
  return avalanche(h);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}
