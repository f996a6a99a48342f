import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { sample, seededRandom } from './random.js';

describe('sample', () => {
  it('returns min(k, n) distinct items of the input and leaves it alone (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer(), { maxLength: 60 }), fc.integer({ min: -2, max: 70 }), fc.integer(), (items, k, seed) => {
        const before = items.slice();
        const got = sample(seededRandom(seed), items, k);
        expect(got.length).toBe(Math.max(0, Math.min(k, items.length)));
        expect(new Set(got).size).toBe(got.length);
        for (const x of got) expect(items).toContain(x);
        expect(items).toEqual(before);
      }),
    );
  });

  it.each([
    ['few of many (rejection sampling)', 100, 3],
    ['most of few (partial shuffle)', 8, 5],
  ])('is uniform: %s', (_name, n, k) => {
    const items = Array.from({ length: n }, (_, i) => i);
    const random = seededRandom(11);
    const counts = new Array<number>(n).fill(0);
    const firsts = new Array<number>(n).fill(0);
    const draws = 40_000;
    for (let d = 0; d < draws; d++) {
      const got = sample(random, items, k);
      for (const x of got) counts[x]!++;
      firsts[got[0]!]!++;
    }
    for (const c of counts) expect(Math.abs(c / ((draws * k) / n) - 1)).toBeLessThan(0.1);
    // The order is random too: every item comes first about as often.
    for (const c of firsts) expect(Math.abs(c / (draws / n) - 1)).toBeLessThan(0.2);
  });
});
