import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Awareness } from './awareness.js';
import { ConfigError } from '../errors.js';

describe('Awareness', () => {
  it('starts healthy: score 0, timeouts unscaled', () => {
    const a = new Awareness(8);
    expect(a.score).toBe(0);
    expect(a.scale(500)).toBe(500);
  });

  it('clamps to [0, max − 1] and returns the new score', () => {
    const a = new Awareness(8);
    expect(a.apply(-1)).toBe(0); // already at the floor
    expect(a.apply(1)).toBe(1);
    expect(a.apply(3)).toBe(4);
    expect(a.apply(10)).toBe(7); // railed at max − 1
    expect(a.apply(1)).toBe(7);
    expect(a.apply(-1)).toBe(6); // a delta at the rail was absorbed, not banked
    expect(a.apply(-100)).toBe(0);
  });

  it('scales by score + 1', () => {
    const a = new Awareness(8);
    a.apply(2);
    expect(a.scale(500)).toBe(1500);
    a.apply(99);
    expect(a.scale(500)).toBe(4000);
  });

  it('with max 1 never leaves 0', () => {
    const a = new Awareness(1);
    expect(a.apply(5)).toBe(0);
    expect(a.scale(100)).toBe(100);
  });

  it('ignores non-finite deltas and rounds fractional ones', () => {
    const a = new Awareness(8);
    expect(a.apply(Number.NaN)).toBe(0);
    expect(a.apply(Infinity)).toBe(0);
    expect(a.apply(1.4)).toBe(1);
  });

  it('rejects a max that is not an integer ≥ 1', () => {
    for (const max of [0, -3, 2.5, Number.NaN]) {
      expect(() => new Awareness(max)).toThrow(ConfigError);
      try {
        new Awareness(max);
      } catch (e) {
        expect((e as ConfigError).code).toBe('CONFIG_INVALID');
      }
    }
  });

  it('matches a clamped running sum for any delta sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(fc.integer({ min: -5, max: 5 })), (max, deltas) => {
        const a = new Awareness(max);
        let model = 0;
        for (const d of deltas) {
          model = Math.min(max - 1, Math.max(0, model + d));
          expect(a.apply(d)).toBe(model);
        }
        expect(a.scale(10)).toBe(10 * (model + 1));
      }),
    );
  });
});
