import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DIGEST_FANOUT, DIGEST_LEAVES, MapDigest, differing, hashKeyState, leafOf } from './map-digest.js';
import type { KeyState } from './register.js';
import type { Version } from './types.js';

const ver = (t: number, replica = 'a'): Version => ({ t, replica });
const live = (t: number, value: unknown = 1): KeyState => ({ writes: [{ v: ver(t), value: value as never, bytes: 1 }] });
const EMPTY_ROOT = '0:0000000000000000';

describe('leafOf', () => {
  it('maps keys to 0..4095, deterministically, spreading them', () => {
    const counts = new Array<number>(DIGEST_FANOUT).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 64_000; i++) {
      const l = leafOf(`key:${i}`);
      if (!Number.isInteger(l) || l < 0 || l >= DIGEST_LEAVES) outOfRange++;
      else counts[l >> 6]!++;
    }
    expect(outOfRange).toBe(0);
    expect(leafOf('user:42')).toBe(leafOf('user:42'));
    // ~1,000 keys per top bucket; a broken hash piles them up.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it('is pinned: the leaf and hash are part of the wire format', () => {
    expect([leafOf(''), leafOf('a'), leafOf('user:42'), leafOf('ключ')]).toEqual([120, 368, 2820, 4031]);
    const h = hashKeyState('k', { writes: [{ v: ver(5, 'r'), base: ver(2, 's'), value: 0, bytes: 1 }], del: ver(1), delAt: ver(3) }, true);
    expect(h).toEqual({ hi: 1305059458, lo: 91133295 });
  });
});

describe('hashKeyState', () => {
  const base: KeyState = { writes: [{ v: ver(5), base: ver(2), value: 'x', bytes: 3 }], del: ver(1), delAt: ver(3) };
  const h = (key: string, s: KeyState, info = true) => hashKeyState(key, s, info);

  it('covers the key, versions, bases, del and delAt', () => {
    const variants: Array<[string, KeyState]> = [
      ['other', base],
      ['k', { ...base, writes: [{ ...base.writes[0]!, v: ver(6) }] }],
      ['k', { ...base, writes: [{ ...base.writes[0]!, v: ver(5, 'b') }] }],
      ['k', { ...base, writes: [{ ...base.writes[0]!, base: ver(1) }] }],
      ['k', { ...base, writes: [{ v: ver(5), value: 'x', bytes: 3 }] }],
      ['k', { ...base, del: ver(2) }],
      ['k', { ...base, delAt: ver(4) }],
      ['k', { writes: base.writes }],
    ];
    const mine = h('k', base);
    for (const [key, s] of variants) expect(h(key, s)).not.toEqual(mine);
  });

  it('leaves out the value and its bytes', () => {
    expect(h('k', { ...base, writes: [{ ...base.writes[0]!, value: { big: 'y'.repeat(1000) }, bytes: 1012 }] })).toEqual(h('k', base));
  });

  it('without tombstone info, ignores del and delAt', () => {
    expect(h('k', base, false)).toEqual(h('k', { writes: base.writes }, false));
    expect(h('k', base, false)).not.toEqual(h('k', base, true));
  });

  it('does not confuse fields across boundaries (quoted strings)', () => {
    expect(h('a;w,1', { writes: [] })).not.toEqual(h('a', { writes: [{ v: ver(1), value: 0, bytes: 1 }] }));
    expect(h('k', live(1))).not.toEqual(h('k', { writes: [{ v: ver(1, 'a"'), value: 0, bytes: 1 }] }));
  });
});

describe('MapDigest', () => {
  it('starts empty, and returns to empty after removing what was added', () => {
    const d = new MapDigest();
    expect(d.root()).toBe(EMPTY_ROOT);
    expect(d.level1()).toEqual(new Array(64).fill(''));
    d.add('a', live(1));
    d.add('b', live(2));
    expect(d.root()).not.toBe(EMPTY_ROOT);
    expect(d.root().startsWith('2:')).toBe(true);
    d.remove('a', live(1));
    d.remove('b', live(2));
    expect(d.root()).toBe(EMPTY_ROOT);
    expect(d.level1()).toEqual(new Array(64).fill(''));
    expect(d.count).toBe(0);
  });

  it('does not depend on the order of changes, and removal inverts addition (with carries)', () => {
    const items = fc.array(fc.tuple(fc.string({ maxLength: 4 }), fc.integer({ min: 0, max: 1e15 })), { maxLength: 40 });
    fc.assert(
      fc.property(items, fc.nat(), (xs, seed) => {
        const forward = new MapDigest();
        for (const [k, t] of xs) forward.add(k, live(t));
        const shuffled = xs.map((x, i) => [x, (i * 7919 + seed) % 1_000_003] as const).sort((a, b) => a[1] - b[1]);
        const backward = new MapDigest();
        for (const [[k, t]] of shuffled) backward.add(k, live(t));
        // Add noise and take it out again.
        for (const [k, t] of xs) backward.add(k + '!', live(t + 1));
        for (const [k, t] of xs) backward.remove(k + '!', live(t + 1));
        expect(backward.root()).toBe(forward.root());
        expect(backward.level1()).toEqual(forward.level1());
        for (let i = 0; i < DIGEST_FANOUT; i += 9) expect(backward.level2(i)).toEqual(forward.level2(i));
      }),
      { numRuns: 300 },
    );
  });

  it('narrows one changed key down to its top bucket and leaf', () => {
    const a = new MapDigest();
    const b = new MapDigest();
    for (let i = 0; i < 2_000; i++) {
      a.add(`k${i}`, live(i));
      b.add(`k${i}`, live(i));
    }
    b.remove('k777', live(777));
    b.add('k777', live(778));
    expect(a.root()).not.toBe(b.root());
    expect(a.root().split(':')[0]).toBe(b.root().split(':')[0]); // same count
    const leaf = leafOf('k777');
    expect(a.differing(a.level1(), b.level1())).toEqual([leaf >> 6]);
    expect(differing(a.level2(leaf >> 6), b.level2(leaf >> 6))).toEqual([leaf & 63]);
  });

  it('level entries are empty strings for empty buckets, count-prefixed otherwise', () => {
    const d = new MapDigest();
    d.add('x', live(1));
    const l = leafOf('x');
    const level1 = d.level1();
    expect(level1.filter((s) => s !== '')).toHaveLength(1);
    expect(level1[l >> 6]).toMatch(/^1:[0-9a-f]{16}$/);
    expect(d.level2(l >> 6)[l & 63]).toBe(level1[l >> 6]);
    expect(d.leafOf('x')).toBe(l);
  });

  it('level1 returns a copy', () => {
    const d = new MapDigest();
    d.level1()[0] = 'changed';
    expect(d.level1()[0]).toBe('');
  });

  it('rejects bucket and leaf numbers out of range', () => {
    const d = new MapDigest();
    for (const i of [-1, 64, 1.5, Number.NaN]) expect(() => d.level2(i)).toThrow(RangeError);
    expect(() => d.addHash(4096, { hi: 0, lo: 0 })).toThrow(RangeError);
  });
});

describe('differing', () => {
  it('treats missing, extra and non-string entries of an untrusted list as differing or ignored', () => {
    const mine = ['a', 'b', 'c'];
    expect(differing(mine, ['a', 'b', 'c'])).toEqual([]);
    expect(differing(mine, ['a', 'x'])).toEqual([1, 2]);
    expect(differing(mine, [1, 'b', null, 'extra'])).toEqual([0, 2]);
    expect(differing(mine, [])).toEqual([0, 1, 2]);
  });
});
