import { hash32, hashInt } from './hash.js';

/**
 * Who probes whom: a shared, rotating permutation instead of SWIM's random
 * choice.
 *
 * With random targets a crashed member is first probed after about 1.58
 * periods on average and may stay unprobed for k periods with probability
 * ≈ e^-k. Here all members sit on a ring ordered by a 32-bit hash of their
 * base URL (ties broken by the URL itself), and in period `slot` the member at
 * ring position r probes position (r + off) mod n, with
 * off = 1 + (hashInt(slot) mod (n − 1)). Since 1 ≤ off ≤ n − 1, this is a
 * rotation of the ring with no fixed point: when members agree on the
 * membership, each is probed by exactly one other member every period. The
 * offset, and with it the prober, changes from period to period, so a paused
 * or lying prober cannot hide a target for long. Members whose views differ
 * still probe someone every period; only the exactly-once guarantee weakens.
 *
 * Hashing the URL (rather than sorting URLs) spreads neighbouring names
 * around the ring, and is the same on every member: see hash.ts.
 */
/** Sorted rings shared by {@link ProbeRing.loadShared}, per key object. */
const sharedRings = new WeakMap<object, { urls: string[]; hashes: number[] }>();

export class ProbeRing {
  /** Ring order: parallel arrays sorted by (hash, url). */
  #hashes: number[] = [];
  #urls: string[] = [];
  /** True while the arrays are shared with other rings (see {@link loadShared}): copy before writing. */
  #shared = false;

  /** Number of members on the ring. */
  get size(): number {
    return this.#urls.length;
  }

  /** Whether `url` is on the ring. */
  has(url: string): boolean {
    return this.#find(hash32(url), url) >= 0;
  }

  /** Puts `url` on the ring (no-op if it is already there). */
  add(url: string): void {
    const h = hash32(url);
    const i = this.#find(h, url);
    if (i >= 0) return;
    this.#own();
    const at = ~i;
    this.#hashes.splice(at, 0, h);
    this.#urls.splice(at, 0, url);
  }

  /**
   * Fills an empty ring from `urls()`, sharing the sorted arrays with every
   * other ring loaded with the same `key` object (copy-on-write): thousands
   * of simulated servers restoring one snapshot sort it once.
   */
  loadShared(key: object, urls: () => Iterable<string>): void {
    if (this.#urls.length > 0) throw new Error('ProbeRing.loadShared needs an empty ring');
    let sorted = sharedRings.get(key);
    if (sorted === undefined) {
      const ring = new ProbeRing();
      ring.addMany(urls());
      sorted = { urls: ring.#urls, hashes: ring.#hashes };
      sharedRings.set(key, sorted);
    }
    this.#urls = sorted.urls;
    this.#hashes = sorted.hashes;
    this.#shared = true;
  }

  #own(): void {
    if (!this.#shared) return;
    this.#urls = this.#urls.slice();
    this.#hashes = this.#hashes.slice();
    this.#shared = false;
  }

  /** Puts many members on the ring with one sort (O(n log n), instead of one splice each). */
  addMany(urls: Iterable<string>): void {
    this.#own();
    const all = new Map<string, number>();
    for (let i = 0; i < this.#urls.length; i++) all.set(this.#urls[i]!, this.#hashes[i]!);
    for (const u of urls) if (!all.has(u)) all.set(u, hash32(u));
    const order = [...all.keys()].sort((a, b) => {
      const ha = all.get(a)!;
      const hb = all.get(b)!;
      return ha !== hb ? ha - hb : a < b ? -1 : a > b ? 1 : 0;
    });
    this.#urls.length = 0;
    this.#hashes.length = 0;
    for (const u of order) {
      this.#urls.push(u);
      this.#hashes.push(all.get(u)!);
    }
  }

  /** Takes `url` off the ring (no-op if it is not there). */
  remove(url: string): void {
    const i = this.#find(hash32(url), url);
    if (i < 0) return;
    this.#own();
    this.#hashes.splice(i, 1);
    this.#urls.splice(i, 1);
  }

  /** The members in ring order (a copy). */
  members(): string[] {
    return this.#urls.slice();
  }

  /** The member `self` probes in period `slot`, or undefined if self is not on the ring or it has fewer than 2 members. */
  target(self: string, slot: number): string | undefined {
    const n = this.#urls.length;
    if (n < 2) return undefined;
    const r = this.#find(hash32(self), self);
    if (r < 0) return undefined;
    const off = 1 + (hashInt(slot) % (n - 1));
    return this.#urls[(r + off) % n];
  }

  /** Index of (h, url) if present, else ~(insertion index); binary search. */
  #find(h: number, url: string): number {
    let lo = 0;
    let hi = this.#urls.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const mh = this.#hashes[mid]!;
      const mu = this.#urls[mid]!;
      if (mh < h || (mh === h && mu < url)) lo = mid + 1;
      else if (mh === h && mu === url) return mid;
      else hi = mid;
    }
    return ~lo;
  }
}
