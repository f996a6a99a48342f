import { hash32, hashInt } from './hash.js';

/** One ring's content: parallel arrays sorted by (hash, url). Never modified once built. */
interface RingData {
  readonly hashes: readonly number[];
  readonly urls: readonly string[];
}

const EMPTY: RingData = { hashes: [], urls: [] };

/** Sorted rings shared by {@link ProbeRing.loadShared}, per key object. */
const sharedRings = new WeakMap<object, RingData>();

/**
 * Transitions already computed: from a ring's data, by `+url` or `-url`, to
 * the resulting data. Rings that make the same change to the same data end
 * up sharing one result, so thousands of simulated servers that all drop a
 * crashed member hold one copy of the new ring, not thousands.
 *
 * Both ends are weak. The source keys a WeakMap; the result is held through
 * a WeakRef, because a strong result would keep its own transitions, and
 * theirs, alive as long as the source lives: every ring a process ever had,
 * back to the first one built from {@link EMPTY} (a module constant), which
 * grew without bound with churn (O(N) per change; O(N^2) for a server that
 * learns N members one by one: 1.2 GB left behind by the join benchmark of
 * `bench:sim` at N = 10,000). A result nobody holds
 * is collected; the next ring to make that change builds it again, with the
 * same content (sharing saves memory and never changes what a ring holds).
 */
const transitions = new WeakMap<RingData, Map<string, WeakRef<RingData>>>();

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
export class ProbeRing {
  #data: RingData = EMPTY;
  /** The last position looked up by {@link target}: (data, url) → index, valid while the data is the same. */
  #lastData: RingData | undefined;
  #lastUrl = '';
  #lastIndex = -1;

  /** Number of members on the ring. */
  get size(): number {
    return this.#data.urls.length;
  }

  /** The member at ring position `i` (0 ≤ i < size). */
  at(i: number): string | undefined {
    return this.#data.urls[i];
  }

  /** Whether `url` is on the ring. */
  has(url: string): boolean {
    return find(this.#data, hash32(url), url) >= 0;
  }

  /** Puts `url` on the ring (no-op if it is already there). O(n). */
  add(url: string): void {
    const h = hash32(url);
    const i = find(this.#data, h, url);
    if (i >= 0) return;
    this.#data = this.#transition('+' + url, () => {
      const hashes = this.#data.hashes.slice();
      const urls = this.#data.urls.slice();
      hashes.splice(~i, 0, h);
      urls.splice(~i, 0, url);
      return { hashes, urls };
    });
  }

  /** Takes `url` off the ring (no-op if it is not there). O(n). */
  remove(url: string): void {
    const i = find(this.#data, hash32(url), url);
    if (i < 0) return;
    this.#data = this.#transition('-' + url, () => {
      const hashes = this.#data.hashes.slice();
      const urls = this.#data.urls.slice();
      hashes.splice(i, 1);
      urls.splice(i, 1);
      return { hashes, urls };
    });
  }

  /** The data after change `key`, computed by `make` unless some ring already made that change to this data. */
  #transition(key: string, make: () => RingData): RingData {
    let next = transitions.get(this.#data);
    if (next === undefined) {
      next = new Map();
      transitions.set(this.#data, next);
    }
    let data = next.get(key)?.deref();
    if (data === undefined) {
      data = make();
      next.set(key, new WeakRef(data));
    }
    return data;
  }

  /**
   * Fills an empty ring from `urls()`, sharing the sorted arrays with every
   * other ring loaded with the same `key` object: thousands of simulated
   * servers restoring one snapshot sort it once and hold it once.
   */
  loadShared(key: object, urls: () => Iterable<string>): void {
    if (this.#data.urls.length > 0) throw new Error('ProbeRing.loadShared needs an empty ring');
    let data = sharedRings.get(key);
    if (data === undefined) {
      data = sortedData(urls());
      sharedRings.set(key, data);
    }
    this.#data = data;
  }

  /** Puts many members on the ring with one sort (O(n log n), instead of O(n) each). */
  addMany(urls: Iterable<string>): void {
    this.#data = sortedData([...this.#data.urls, ...urls]);
  }

  /** The members in ring order (a copy). */
  members(): string[] {
    return this.#data.urls.slice();
  }

  /** The member `self` probes in period `slot`, or undefined if self is not on the ring or it has fewer than 2 members. */
  target(self: string, slot: number): string | undefined {
    const { urls } = this.#data;
    const n = urls.length;
    if (n < 2) return undefined;
    let r: number;
    if (this.#lastData === this.#data && this.#lastUrl === self) {
      r = this.#lastIndex;
    } else {
      r = find(this.#data, hash32(self), self);
      this.#lastData = this.#data;
      this.#lastUrl = self;
      this.#lastIndex = r;
    }
    if (r < 0) return undefined;
    const off = 1 + (hashInt(slot) % (n - 1));
    return urls[(r + off) % n];
  }

  /** The member that probes `target` in period `slot` (the inverse of {@link target}), or undefined if target is not on the ring or it has fewer than 2 members. */
  prober(target: string, slot: number): string | undefined {
    const { urls } = this.#data;
    const n = urls.length;
    if (n < 2) return undefined;
    const r = find(this.#data, hash32(target), target);
    if (r < 0) return undefined;
    const off = 1 + (hashInt(slot) % (n - 1));
    return urls[(r - off + n) % n];
  }
}

/** Ring data holding each of `urls` once, sorted by (hash, url). */
function sortedData(urls: Iterable<string>): RingData {
  const all = new Map<string, number>();
  for (const u of urls) if (!all.has(u)) all.set(u, hash32(u));
  const order = [...all.keys()].sort((a, b) => {
    const ha = all.get(a)!;
    const hb = all.get(b)!;
    return ha !== hb ? ha - hb : a < b ? -1 : a > b ? 1 : 0;
  });
  return { urls: order, hashes: order.map((u) => all.get(u)!) };
}

/** Index of (h, url) in `data` if present, else ~(insertion index); binary search. */
function find(data: RingData, h: number, url: string): number {
  const { hashes, urls } = data;
  let lo = 0;
  let hi = urls.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const mh = hashes[mid]!;
    const mu = urls[mid]!;
    if (mh < h || (mh === h && mu < url)) lo = mid + 1;
    else if (mh === h && mu === url) return mid;
    else hi = mid;
  }
  return ~lo;
}
