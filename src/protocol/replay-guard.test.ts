import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ReplayGuard } from './replay-guard.js';

const NOW = 1_700_000_000_000;
const W = 60_000;

describe('ReplayGuard', () => {
  it('accepts a fresh message once, then calls it replayed', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NOW, 'n1', NOW)).toBe('ok');
    expect(g.check(NOW, 'n1', NOW + 1)).toBe('replayed');
    expect(g.check(NOW, 'n2', NOW + 1)).toBe('ok');
    expect(g.size).toBe(2);
  });

  it('accepts exactly the window edges, both in the past and the future', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NOW - W, 'past-edge', NOW)).toBe('ok');
    expect(g.check(NOW + W, 'future-edge', NOW)).toBe('ok');
    expect(g.check(NOW - W - 1, 'too-old', NOW)).toBe('stale');
    expect(g.check(NOW + W + 1, 'too-new', NOW)).toBe('stale');
    expect(g.size).toBe(2);
  });

  it('rejects non-finite t as stale', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NaN, 'a', NOW)).toBe('stale');
    expect(g.check(Infinity, 'b', NOW)).toBe('stale');
    expect(g.size).toBe(0);
  });

  it('remembers a nonce until t + windowMs, then forgets it (its replay is stale)', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NOW, 'n', NOW)).toBe('ok');
    // Still inside the window at its last instant: must still be remembered.
    expect(g.check(NOW, 'n', NOW + W)).toBe('replayed');
    expect(g.size).toBe(1);
    expect(g.check(NOW + W + 1, 'other', NOW + W + 1)).toBe('ok');
    expect(g.size).toBe(1);
    expect(g.check(NOW, 'n', NOW + W + 1)).toBe('stale');
  });

  it('a future-dated message is remembered until its own t + windowMs', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NOW + W, 'f', NOW)).toBe('ok');
    expect(g.check(NOW + W, 'f', NOW + 2 * W)).toBe('replayed');
    expect(g.check(NOW + W, 'f', NOW + 2 * W + 1)).toBe('stale');
    expect(g.size).toBe(0);
  });

  it('a clock stepping back cannot revive an expired nonce', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 10 });
    expect(g.check(NOW, 'n', NOW)).toBe('ok');
    expect(g.check(NOW + W + 1, 'x', NOW + W + 1)).toBe('ok'); // expires 'n'
    expect(g.floor).toBe(NOW);
    expect(g.check(NOW, 'n', NOW + 10)).toBe('stale');
  });

  it('when full, evicts the smallest t and raises the floor to it', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 3 });
    expect(g.check(NOW - 3, 'a', NOW)).toBe('ok');
    expect(g.check(NOW - 1, 'b', NOW)).toBe('ok');
    expect(g.check(NOW - 2, 'c', NOW)).toBe('ok');
    expect(g.floor).toBe(-Infinity);
    expect(g.check(NOW, 'd', NOW)).toBe('ok');
    expect(g.size).toBe(3);
    expect(g.floor).toBe(NOW - 3);
    // The evicted nonce cannot come back: its t is at the floor.
    expect(g.check(NOW - 3, 'a', NOW)).toBe('stale');
    // Nor can anything as old, even if new.
    expect(g.check(NOW - 3, 'z', NOW)).toBe('stale');
    // The others are still remembered.
    expect(g.check(NOW - 2, 'c', NOW)).toBe('replayed');
    expect(g.check(NOW - 1, 'b', NOW)).toBe('replayed');
    expect(g.check(NOW, 'd', NOW)).toBe('replayed');
  });

  it('when full and the newcomer is the oldest, accepts it once without remembering it', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 2 });
    expect(g.check(NOW - 1, 'a', NOW)).toBe('ok');
    expect(g.check(NOW, 'b', NOW)).toBe('ok');
    expect(g.check(NOW - 5, 'old', NOW)).toBe('ok');
    expect(g.floor).toBe(NOW - 5);
    expect(g.size).toBe(2);
    expect(g.check(NOW - 5, 'old', NOW)).toBe('stale');
    expect(g.check(NOW - 1, 'a', NOW)).toBe('replayed');
  });

  it('stays bounded under 100,000 distinct nonces', () => {
    const g = new ReplayGuard({ windowMs: W, maxEntries: 1000 });
    let accepted = 0;
    let maxSize = 0;
    for (let i = 0; i < 100_000; i++) {
      // 100 messages per ms: all well inside the window.
      const now = NOW + Math.floor(i / 100);
      if (g.check(now, `n${i}`, now) === 'ok') accepted++;
      maxSize = Math.max(maxSize, g.size);
    }
    expect(maxSize).toBe(1000);
    expect(accepted).toBe(100_000);
    expect(g.size).toBe(1000);
    // The last 1000 are remembered; everything older is now stale.
    expect(g.check(NOW + 999, 'n99999', NOW + 1000)).toBe('replayed');
    expect(g.check(NOW + 989, 'n98900', NOW + 1000)).toBe('stale');
    expect(g.check(NOW, 'n0', NOW + 1000)).toBe('stale');
  });

  it('validates its options', () => {
    expect(() => new ReplayGuard({ windowMs: -1, maxEntries: 1 })).toThrow(RangeError);
    expect(() => new ReplayGuard({ windowMs: NaN, maxEntries: 1 })).toThrow(RangeError);
    expect(() => new ReplayGuard({ windowMs: 1, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new ReplayGuard({ windowMs: 1, maxEntries: 1.5 })).toThrow(RangeError);
  });

  it('gives the same verdicts, size and floor as a plain reference model (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ dt: fc.integer({ min: -150, max: 150 }), adv: fc.integer({ min: -20, max: 60 }), nonce: fc.integer({ min: 0, max: 60 }) }), { maxLength: 400 }),
        (maxEntries, steps) => {
          const g = new ReplayGuard({ windowMs: 100, maxEntries });
          const model = new ModelGuard(100, maxEntries);
          const sent = new Map<string, number>();
          let now = 0;
          for (const s of steps) {
            now += s.adv;
            const nonce = `nonce-${s.nonce}`;
            const t = sent.get(nonce) ?? now + s.dt;
            sent.set(nonce, t);
            expect(g.check(t, nonce, now)).toBe(model.check(t, nonce, now));
            expect(g.size).toBe(model.size);
            expect(g.floor).toBe(model.floor);
          }
        },
      ),
    );
  });

  it('matches the reference model over 30,000 random nonces as its tables grow and shrink', () => {
    const g = new ReplayGuard({ windowMs: 2_000, maxEntries: 1_000 });
    const model = new ModelGuard(2_000, 1_000);
    let seed = 7;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return (seed >>> 8) / 2 ** 24;
    };
    const accepted: [string, number][] = [];
    let replays = 0;
    for (let i = 0; i < 30_000; i++) {
      // Bursts and lulls: the remembered set grows to the cap, then drains.
      const now = NOW + Math.floor(i / (i % 10_000 < 5_000 ? 4 : 1));
      let t = now - Math.floor(rnd() * 1_500);
      let nonce = Buffer.from(Array.from({ length: 16 }, () => Math.floor(rnd() * 256))).toString('base64url');
      if (accepted.length > 0 && rnd() < 0.2) {
        [nonce, t] = accepted[Math.floor(rnd() * accepted.length)]!;
        replays++;
      }
      const v = model.check(t, nonce, now);
      expect(g.check(t, nonce, now)).toBe(v);
      if (v === 'ok') accepted.push([nonce, t]);
      if (i % 997 === 0) {
        expect(g.size).toBe(model.size);
        expect(g.floor).toBe(model.floor);
      }
    }
    expect(replays).toBeGreaterThan(3_000);
    expect(g.size).toBe(model.size);
  });

  it('never accepts the same nonce twice, whatever the sequence (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ dt: fc.integer({ min: -150, max: 150 }), adv: fc.integer({ min: -20, max: 60 }), nonce: fc.integer({ min: 0, max: 12 }) }), { maxLength: 200 }),
        (maxEntries, steps) => {
          const g = new ReplayGuard({ windowMs: 100, maxEntries });
          const accepted = new Map<string, number>(); // nonce -> t
          let now = 0;
          for (const s of steps) {
            now += s.adv;
            const nonce = `n${s.nonce}`;
            // A replay carries the original t (the signature binds it); a new message any t.
            const t = accepted.get(nonce) ?? now + s.dt;
            const v = g.check(t, nonce, now);
            if (accepted.has(nonce)) expect(v).not.toBe('ok');
            if (v === 'ok') {
              expect(Math.abs(now - t)).toBeLessThanOrEqual(100);
              accepted.set(nonce, t);
            }
            expect(g.size).toBeLessThanOrEqual(maxEntries);
          }
        },
      ),
    );
  });
});

/** The specification, spelled out with a Map and linear scans. */
class ModelGuard {
  readonly #seen = new Map<string, number>();
  floor = -Infinity;
  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
  ) {}
  get size(): number {
    return this.#seen.size;
  }
  check(t: number, nonce: string, now: number): 'ok' | 'stale' | 'replayed' {
    for (const [n, tn] of [...this.#seen]) {
      if (now - tn > this.windowMs) this.#forget(n, tn);
    }
    if (!Number.isFinite(t) || Math.abs(now - t) > this.windowMs || t <= this.floor) return 'stale';
    if (this.#seen.has(nonce)) return 'replayed';
    this.#seen.set(nonce, t);
    if (this.#seen.size > this.maxEntries) {
      let oldest: [string, number] | undefined;
      for (const e of this.#seen) if (oldest === undefined || e[1] < oldest[1]) oldest = e;
      this.#forget(...oldest!);
    }
    return 'ok';
  }
  #forget(nonce: string, t: number): void {
    this.#seen.delete(nonce);
    if (t > this.floor) this.floor = t;
  }
}
