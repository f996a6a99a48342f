import { describe, expect, it } from 'vitest';
import { cryptoRandom } from './system-random.js';

describe('cryptoRandom', () => {
  it('floats lie in [0, 1) and spread over the range', () => {
    const xs = Array.from({ length: 10_000 }, () => cryptoRandom.float());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Each tenth of the range gets roughly its share (loose bound: 10 % ± 3 %).
    for (let d = 0; d < 10; d++) {
      const share = xs.filter((x) => x >= d / 10 && x < (d + 1) / 10).length / xs.length;
      expect(share).toBeGreaterThan(0.07);
      expect(share).toBeLessThan(0.13);
    }
  });

  it('bytes have the requested length and differ between calls', () => {
    const a = cryptoRandom.bytes(16);
    const b = cryptoRandom.bytes(16);
    expect(a).toHaveLength(16);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('fill() overwrites the whole target with fresh bytes', () => {
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    cryptoRandom.fill!(a);
    cryptoRandom.fill!(b);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    // 32 zero bytes by chance: 2^-256.
    expect(a.some((x) => x !== 0)).toBe(true);
  });
});
