import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { OverlayMap } from './overlay-map.js';

const key = fc.integer({ min: 0, max: 40 }).map((i) => `k${i}`);
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

describe('OverlayMap', () => {
  it('behaves as a Map started from a copy of its base, and never modifies the base (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 30 }), fc.array(op, { maxLength: 200 }), (baseKeys, ops) => {
        const base = new Map(baseKeys.map((k, i) => [k, i]));
        const frozen = [...base];
        const m = new OverlayMap(base);
        const model = new Map(base);
        for (const o of ops) {
          if (o.kind === 'set') {
            m.set(o.key, o.value);
            model.set(o.key, o.value);
          } else {
            expect(m.delete(o.key)).toBe(model.delete(o.key));
          }
          expect(m.size).toBe(model.size);
        }
        for (let i = 0; i <= 40; i++) {
          expect(m.get(`k${i}`)).toBe(model.get(`k${i}`));
          expect(m.has(`k${i}`)).toBe(model.has(`k${i}`));
        }
        expect(new Map(m.entries())).toEqual(model);
        expect([...m.keys()].sort()).toEqual([...model.keys()].sort());
        expect([...m.values()].sort()).toEqual([...model.values()].sort());
        expect([...base]).toEqual(frozen);
      }),
    );
  });

  it('shares its base until the overlay outgrows an eighth of it, then holds a private copy', () => {
    const base = new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    const m = new OverlayMap(base);
    expect(m.shared).toBe(true);
    for (let i = 0; i < 125; i++) m.set(`k${i}`, -i);
    expect(m.shared).toBe(true);
    expect(m.privateSize).toBe(125);
    m.set('k125', -125);
    expect(m.shared).toBe(false);
    expect(m.size).toBe(1000);
    expect(m.get('k0')).toBe(-0);
    expect(m.get('k999')).toBe(999);
    expect(base.get('k0')).toBe(0);
  });

  it('counts deletions of base keys in its overlay and forgets deletions of its own keys', () => {
    const m = new OverlayMap(new Map([['a', 1]]));
    m.set('b', 2);
    expect(m.delete('a')).toBe(true);
    expect(m.delete('a')).toBe(false);
    expect(m.delete('b')).toBe(true);
    expect(m.privateSize).toBe(1); // the tombstone of 'a'
    expect(m.size).toBe(0);
    expect([...m.entries()]).toEqual([]);
    m.set('a', 3);
    expect(m.get('a')).toBe(3);
  });

  it('without a base is a plain map', () => {
    const m = new OverlayMap<number>();
    expect(m.shared).toBe(false);
    m.set('x', 1);
    expect([...m]).toEqual([['x', 1]]);
  });
});
