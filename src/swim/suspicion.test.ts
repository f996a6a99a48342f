import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { suspicionBoundsMs, suspicionTimeoutMs, type SuspicionTiming } from './suspicion.js';

// memberlist's LAN defaults: 1 s probe interval, SuspicionMult 4, SuspicionMaxTimeoutMult 6, 3 confirmations.
const LAN: SuspicionTiming = { probeIntervalMs: 1000, suspicionMult: 4, suspicionMaxMult: 6, expectedConfirmations: 3 };

describe('suspicionBoundsMs', () => {
  it.each<[number, number, number]>([
    // n, min = 4 × max(1, log10 n) × 1000, max = 6 × min
    [0, 4000, 24000],
    [1, 4000, 24000],
    [5, 4000, 24000], // log10 5 < 1: floored at 1
    [10, 4000, 24000],
    [50, 6796, 40775], // 4000 × 1.69897 = 6795.88; × 6 = 40775.3
    [100, 8000, 48000],
    [1000, 12000, 72000],
    [10000, 16000, 96000],
  ])('n = %d → [%d, %d]', (n, minMs, maxMs) => {
    expect(suspicionBoundsMs(n, LAN)).toEqual({ minMs, maxMs });
  });
});

describe('suspicionTimeoutMs', () => {
  // Hand-computed with k = 3: log(c+1)/log(4) is 0, 1/2, 0.7924812…, 1 for c = 0..3, and > 1 beyond.
  //   n ≤ 10:  24000 − 20000 × f → 24000, 14000, 8150.375, 4000
  //   n = 100: 48000 − 40000 × f → 48000, 28000, 16300.75, 8000
  //   n = 1e3: 72000 − 60000 × f → 72000, 42000, 24451.125, 12000
  //   n = 1e4: 96000 − 80000 × f → 96000, 56000, 32601.49997, 16000
  const table: [number, number[]][] = [
    [1, [24000, 14000, 8150, 4000, 4000, 4000]],
    [10, [24000, 14000, 8150, 4000, 4000, 4000]],
    [100, [48000, 28000, 16301, 8000, 8000, 8000]],
    [1000, [72000, 42000, 24451, 12000, 12000, 12000]],
    [10000, [96000, 56000, 32601, 16000, 16000, 16000]],
  ];
  for (const [n, row] of table) {
    it(`n = ${n}, c = 0..5`, () => {
      expect([0, 1, 2, 3, 4, 5].map((c) => suspicionTimeoutMs(n, c, LAN))).toEqual(row);
    });
  }

  it('with k < 1 is always the minimum', () => {
    for (const k of [0, -1, 0.5, Number.NaN]) {
      const t = { ...LAN, expectedConfirmations: k };
      expect(suspicionTimeoutMs(100, 0, t)).toBe(8000);
      expect(suspicionTimeoutMs(100, 4, t)).toBe(8000);
    }
  });

  it('with k = 1 jumps from max to min on the first confirmation', () => {
    const t = { ...LAN, expectedConfirmations: 1 };
    expect(suspicionTimeoutMs(100, 0, t)).toBe(48000);
    expect(suspicionTimeoutMs(100, 1, t)).toBe(8000);
  });

  it('treats negative confirmation counts as none', () => {
    expect(suspicionTimeoutMs(100, -2, LAN)).toBe(48000);
  });

  const timingArb = fc.record({
    probeIntervalMs: fc.integer({ min: 1, max: 60_000 }),
    suspicionMult: fc.integer({ min: 1, max: 10 }),
    suspicionMaxMult: fc.integer({ min: 1, max: 10 }),
    expectedConfirmations: fc.integer({ min: 1, max: 10 }),
  });

  it('is an integer in [min, max], max at c = 0, min for c ≥ k, non-increasing in c', () => {
    fc.assert(
      fc.property(timingArb, fc.integer({ min: 0, max: 100_000 }), (t, n) => {
        const { minMs, maxMs } = suspicionBoundsMs(n, t);
        expect(suspicionTimeoutMs(n, 0, t)).toBe(maxMs);
        let prev = Infinity;
        for (let c = 0; c <= t.expectedConfirmations + 3; c++) {
          const ms = suspicionTimeoutMs(n, c, t);
          expect(Number.isInteger(ms)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(minMs);
          expect(ms).toBeLessThanOrEqual(maxMs);
          expect(ms).toBeLessThanOrEqual(prev);
          if (c >= t.expectedConfirmations) expect(ms).toBe(minMs);
          prev = ms;
        }
      }),
    );
  });
});
