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

describe('seededRandom', () => {
  it('draws the same sfc32 stream as ever: simulator runs of one seed stay comparable across versions', () => {
    // A hash of 100,000 draws and the bytes after them, per seed (recorded from the closure-based implementation).
    const golden: Array<[number, number, string]> = [
      [0, 1977098637, 'f2e6ec36281d69'], [1, 3589788716, 'd35a91898087a5'], [7, 1956924703, '9e1f0aee0094c2'],
      [123456789, 796445409, '0bfe14d153d315'], [-5, 2109617422, 'f315b5347cefb3'],
    ];
    for (const [seed, hash, bytes] of golden) {
      const r = seededRandom(seed);
      let h = 0;
      for (let i = 0; i < 100_000; i++) h = (Math.imul(h, 31) + Math.floor(r.float() * 4294967296)) >>> 0;
      expect([h, Buffer.from(r.bytes(7)).toString('hex')]).toEqual([hash, bytes]);
    }
  });

  it('fill draws exactly what bytes would', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 0, max: 40 }), (seed, n) => {
      const a = seededRandom(seed);
      const b = seededRandom(seed);
      const out = new Uint8Array(n);
      a.fill!(out);
      expect(out).toEqual(b.bytes(n));
      expect(a.float()).toBe(b.float());
    }));
  });
});
