import { describe, expect, it } from 'vitest';
import { MalformedError } from '../errors.js';
import { utf8Length } from './utf8.js';
import { HybridClock, compareVersions, encodeVersion, maxVersion, parseVersion, versionEquals, versionWallMs } from './version.js';

describe('version order', () => {
  it('orders by t, then by replica as plain strings', () => {
    expect(compareVersions({ t: 1, replica: 'z' }, { t: 2, replica: 'a' })).toBeLessThan(0);
    expect(compareVersions({ t: 2, replica: 'B' }, { t: 2, replica: 'a' })).toBeLessThan(0); // 'B' < 'a'
    expect(compareVersions({ t: 2, replica: 'a' }, { t: 2, replica: 'a' })).toBe(0);
    expect(compareVersions({ t: 3, replica: 'a' }, { t: 2, replica: 'b' })).toBeGreaterThan(0);
  });

  it('maxVersion and versionEquals handle undefined', () => {
    const a = { t: 1, replica: 'a' };
    const b = { t: 1, replica: 'b' };
    expect(maxVersion(a, b)).toBe(b);
    expect(maxVersion(undefined, a)).toBe(a);
    expect(maxVersion(a, undefined)).toBe(a);
    expect(maxVersion(undefined, undefined)).toBeUndefined();
    expect(versionEquals(a, { ...a })).toBe(true);
    expect(versionEquals(a, b)).toBe(false);
    expect(versionEquals(undefined, undefined)).toBe(true);
    expect(versionEquals(a, undefined)).toBe(false);
  });
});

describe('version text', () => {
  it('round-trips, replicas with dots included', () => {
    for (const v of [
      { t: 0, replica: 'a' },
      { t: 1_733_389_606_123_456, replica: 'http://10.0.0.1:3000#k3x9' },
      { t: Number.MAX_SAFE_INTEGER, replica: 'x'.repeat(300) },
    ]) {
      expect(parseVersion(encodeVersion(v))).toEqual(v);
    }
    expect(encodeVersion({ t: 35, replica: 'a.b' })).toBe('z.a.b');
  });

  const bad: Array<[string, unknown]> = [
    ['not a string', 42],
    ['no dot', 'abc'],
    ['empty time', '.a'],
    ['empty replica', 'z.'],
    ['leading zero', '0z.a'],
    ['upper case', 'Z.a'],
    ['sign', '-1.a'],
    ['past MAX_SAFE_INTEGER', '2gosa7pa2gw.a'],
    ['too many digits', 'zzzzzzzzzzzz.a'],
    ['replica too long', 'z.' + 'x'.repeat(301)],
    ['lone surrogate in replica', 'z.a\ud800'],
  ];
  for (const [name, s] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseVersion(s)).toThrow(MalformedError);
    });
  }

  it('versionWallMs floors microseconds to ms', () => {
    expect(versionWallMs({ t: 1_999, replica: 'a' })).toBe(1);
  });
});

describe('HybridClock', () => {
  it('follows wall time ×1000 and stays strictly increasing when the wall clock stalls or goes back', () => {
    let now = 1000;
    const c = new HybridClock(() => now);
    expect(c.next()).toBe(1_000_000);
    expect(c.next()).toBe(1_000_001);
    now = 999;
    expect(c.next()).toBe(1_000_002);
    now = 2000.5;
    expect(c.next()).toBe(2_000_500);
    expect(c.highest).toBe(2_000_500);
  });

  it('issues times past every observed time, and ignores invalid ones', () => {
    const c = new HybridClock(() => 1, 10);
    c.observe(5_000_000);
    c.observe(Number.NaN);
    c.observe(-1);
    c.observe(4);
    expect(c.next()).toBe(5_000_001);
  });

  it('refuses to pass MAX_SAFE_INTEGER', () => {
    const c = new HybridClock(() => 0, Number.MAX_SAFE_INTEGER);
    expect(() => c.next()).toThrow(RangeError);
    expect(() => new HybridClock(() => 0, -1)).toThrow(RangeError);
  });
});

describe('utf8Length', () => {
  it('matches TextEncoder, lone surrogates included', () => {
    const enc = new TextEncoder();
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\ud800b', '\udc00', 'x😀é€\ud83d']) {
      expect(utf8Length(s)).toBe(enc.encode(s).length);
    }
  });
});
