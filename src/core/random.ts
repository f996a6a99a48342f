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
 * Up to `k` distinct items of `items`, uniformly chosen (partial
 * Fisher-Yates on a copy; the input is not modified).
 */
export function sample<T>(random: Random, items: readonly T[], k: number): T[] {
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
 * A deterministic Random (sfc32) for tests and the simulator. NOT for
 * production: its nonces are predictable.
 */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162;
  let d = 1;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 15; i++) next();
  return {
    float: () => next() / 4294967296,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next() & 0xff;
      return out;
    },
  };
}
