import { MinHeap } from '../core/min-heap.js';

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

interface Seen {
  readonly t: number;
  readonly nonce: string;
}

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
 * Call {@link check} only after the message's signature verified: otherwise
 * outsiders could fill the guard and raise the floor at will.
 */
export class ReplayGuard {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** Min-heap on t of remembered nonces; holds exactly the nonces in #nonces. */
  readonly #heap = new MinHeap<Seen>((a, b) => a.t < b.t);
  readonly #nonces = new Set<string>();
  #floor = -Infinity;

  /** Throws RangeError unless windowMs >= 0 and maxEntries is an integer >= 1. */
  constructor(opts: ReplayGuardOptions) {
    if (!(opts.windowMs >= 0) || !Number.isFinite(opts.windowMs)) throw new RangeError('windowMs must be a finite number >= 0');
    if (!Number.isSafeInteger(opts.maxEntries) || opts.maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    this.#windowMs = opts.windowMs;
    this.#maxEntries = opts.maxEntries;
  }

  /** Number of nonces currently remembered. */
  get size(): number {
    return this.#nonces.size;
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
    if (this.#nonces.has(nonce)) return 'replayed';
    this.#heap.push({ t, nonce });
    this.#nonces.add(nonce);
    if (this.#heap.size > this.#maxEntries) {
      // Forget the oldest (possibly the one just added): its t becomes the
      // floor, so its message is stale from now on and needs no memory.
      this.#forget();
    }
    return 'ok';
  }

  /** Forgets entries that are stale at `now`: now - t > windowMs. */
  #expire(now: number): void {
    for (;;) {
      const head = this.#heap.peek();
      if (head === undefined || !(now - head.t > this.#windowMs)) return;
      this.#forget();
    }
  }

  /** Removes the entry with the smallest t and raises the floor to it. */
  #forget(): void {
    const top = this.#heap.pop();
    if (top === undefined) return;
    this.#nonces.delete(top.nonce);
    if (top.t > this.#floor) this.#floor = top.t;
  }
}
