import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExchangeStats, nearestRank, RECENT_SAMPLES, SAMPLES_PER_PEER } from './exchange-stats.js';

describe('nearestRank', () => {
  it.each([
    [[], 0.99, undefined],
    [[7], 0.99, 7],
    [[3, 1, 2], 0.5, 2],
    [[3, 1, 2], 1, 3],
    [Array.from({ length: 100 }, (_, i) => i + 1), 0.99, 99],
    [Array.from({ length: 101 }, (_, i) => i + 1), 0.99, 100],
    [[5, 5, 5, 100], 0.99, 100],
  ])('%j at %d is %s', (values, q, want) => {
    expect(nearestRank(values, q)).toBe(want);
  });

  it('is the smallest value with at least q of the values at or below it', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (values, q) => {
      const copy = [...values];
      const r = nearestRank(values, q)!;
      expect(values).toEqual(copy);
      expect(values.filter((v) => v <= r).length).toBeGreaterThanOrEqual(Math.ceil(q * values.length));
      const below = values.filter((v) => v < r);
      expect(below.length).toBeLessThan(Math.ceil(q * values.length));
    }));
  });
});

describe('ExchangeStats', () => {
  const A = 'http://a:1/';
  const B = 'http://b:1/';

  it('summarises a peer: last, p99 of successes, failures, recent series with nulls for failures', () => {
    const s = new ExchangeStats(60_000, 10);
    s.record(A, 1_000, 4, true);
    s.record(A, 2_000, 9, true);
    s.record(A, 3_000, 500, false);
    expect(s.summary(A, 3_000)).toEqual({
      samples: 3, failures: 1, lastMs: 500, lastOk: false, lastAt: 3_000, p99Ms: 9, recentMs: [4, 9, null],
    });
    expect(s.summary(B, 3_000)).toBeUndefined();
  });

  it('looks back only over the window', () => {
    const s = new ExchangeStats(10_000, 10);
    s.record(A, 0, 50, true);
    s.record(A, 8_000, 2, true);
    expect(s.summary(A, 9_000)).toMatchObject({ samples: 2, p99Ms: 50 });
    expect(s.summary(A, 12_000)).toMatchObject({ samples: 1, p99Ms: 2, lastMs: 2 });
    // Nothing left in the window.
    expect(s.summary(A, 30_000)).toBeUndefined();
    expect(s.totals(30_000)).toEqual({ windowMs: 10_000, peers: 0, samples: 0, failures: 0, p99Ms: null });
  });

  it('keeps at most SAMPLES_PER_PEER samples and RECENT_SAMPLES of series per peer', () => {
    const s = new ExchangeStats(1e9, 10);
    for (let i = 0; i < SAMPLES_PER_PEER * 3; i++) s.record(A, i, i, true);
    const sum = s.summary(A, SAMPLES_PER_PEER * 3)!;
    expect(sum.samples).toBe(SAMPLES_PER_PEER);
    expect(sum.recentMs).toHaveLength(RECENT_SAMPLES);
    expect(sum.recentMs.at(-1)).toBe(SAMPLES_PER_PEER * 3 - 1);
    expect(sum.lastMs).toBe(SAMPLES_PER_PEER * 3 - 1);
  });

  it('tracks at most maxPeers peers, dropping the least recently updated; 0 tracks none', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 100 }), (max, peers) => {
      const s = new ExchangeStats(1e9, max);
      peers.forEach((p, t) => s.record(`http://p${p}:1/`, t, 1, true));
      expect(s.size).toBeLessThanOrEqual(max);
      // The most recently updated distinct peers are the ones kept.
      const recent: string[] = [];
      for (let i = peers.length - 1; i >= 0 && recent.length < max; i--) {
        const url = `http://p${peers[i]}:1/`;
        if (!recent.includes(url)) recent.push(url);
      }
      for (const url of recent) expect(s.summary(url, peers.length)).toBeDefined();
      expect(s.size).toBe(recent.length);
    }));
  });

  it('drops peers whose newest sample left the window, and forgets on request', () => {
    const s = new ExchangeStats(1_000, 10);
    s.record(A, 0, 1, true);
    s.record(B, 5_000, 1, true);
    expect(s.size).toBe(1);
    s.forget(B);
    expect(s.size).toBe(0);
  });

  it('totals every peer in the window', () => {
    const s = new ExchangeStats(10_000, 10);
    s.record(A, 1_000, 3, true);
    s.record(B, 2_000, 7, true);
    s.record(B, 3_000, 5_000, false);
    expect(s.totals(3_000)).toEqual({ windowMs: 10_000, peers: 2, samples: 3, failures: 1, p99Ms: 7 });
  });
});
