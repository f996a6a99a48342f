/**
 * Randomness, as the engine sees it: jitter, peer choice and nonces all come
 * from a Random, so a simulator run with a fixed seed is reproducible.
 */

/** A source of random numbers and bytes. */
export interface Random {
  /** A float uniformly distributed in [0, 1). */
  float(): number;
  /**
   * `n` random bytes. Nonces are made from these, so production
   * implementations must be cryptographically secure.
   */
  bytes(n: number): Uint8Array;
  /**
   * Optional: fills `target` with random bytes, drawing exactly what
   * `bytes(target.length)` would, without allocating. Nonces use it when
   * present.
   */
  fill?(target: Uint8Array): void;
}

/** A uniform integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random.float() * n);
}

/** A uniform float in [min, max). */
export function randomBetween(random: Random, min: number, max: number): number {
  return min + random.float() * (max - min);
}

/**
 * Up to `k` distinct items of `items`, uniformly chosen, in random order;
 * the input is not modified. Expected O(k) when k is at most a quarter of
 * the items (rejection sampling of indexes, no copy), else a partial
 * Fisher-Yates shuffle of a copy.
 */
export function sample<T>(random: Random, items: readonly T[], k: number): T[] {
  const n = items.length;
  if (k <= 0 || n === 0) return [];
  if (k * 4 <= n) return drawDistinct(random, n, k).map((i) => items[i]!);
  const copy = items.slice();
  const take = Math.min(k, copy.length);
  for (let i = 0; i < take; i++) {
    const j = i + randomInt(random, copy.length - i);
    const tmp = copy[i]!;
    copy[i] = copy[j]!;
    copy[j] = tmp;
  }
  return copy.slice(0, take);
}

/**
 * `k` distinct indexes in [0, n) for which `accept` holds (all, by default),
 * uniformly chosen by rejection sampling, in the order drawn. The caller
 * guarantees that at least `k` indexes are accepted, and should use this only
 * when the accepted ones are a large share of n (at least 4k of them: then
 * the expected number of draws is below 4k/3 per accepted share).
 */
export function drawDistinct(random: Random, n: number, k: number, accept?: (i: number) => boolean): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  while (out.length < k) {
    const i = randomInt(random, n);
    if (seen.has(i)) continue;
    seen.add(i);
    if (accept === undefined || accept(i)) out.push(i);
  }
  return out;
}

/**
 * A deterministic Random (sfc32) for tests and the simulator. NOT for
 * production: its nonces are predictable.
 */
export function seededRandom(seed: number): Random {
  // State in a typed array: uint32 values do not fit V8's small integers,
  // so closure variables would box a fresh heap number on every draw (and a
  // simulation draws millions).
  const st = new Uint32Array(4);
  st[0] = 0x9e3779b9 ^ seed;
  st[1] = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  st[2] = 0xb7e15162;
  st[3] = 1;
  const next = (): number => {
    const a = st[0]!;
    const b = st[1]!;
    const c = st[2]!;
    const d = st[3]!;
    const t = (a + b + d) >>> 0;
    st[3] = d + 1;
    st[0] = b ^ (b >>> 9);
    st[1] = c + (c << 3);
    st[2] = ((c << 21) | (c >>> 11)) + t;
    return t;
  };
  for (let i = 0; i < 15; i++) next();
  // Four bytes per draw, little-endian.
  const fill = (out: Uint8Array): void => {
    const n = out.length;
    for (let i = 0; i < n; i += 4) {
      const w = next();
      out[i] = w & 0xff;
      if (i + 1 < n) out[i + 1] = (w >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (w >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = w >>> 24;
    }
  };
  return {
    float: () => next() / 4294967296,
    bytes(n) {
      const out = new Uint8Array(n);
      fill(out);
      return out;
    },
    fill,
  };
}
