import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { MemberEntry, OfflineReason } from './entry.js';
import { TableDigest, entryKey } from './digest.js';

// Any UTF-16 string, lone surrogates included. (fc.string({ unit: 'binary' })
// would do, but its first use costs seconds of set-up.)
const anyString = (maxLength: number) =>
  fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })), { maxLength }).map((units) => String.fromCharCode(...units));

const entryArb: fc.Arbitrary<MemberEntry> = fc
  .record({
    baseUrl: fc.integer({ min: 0, max: 10_000 }).map((i) => `http://h${i}:3000/`),
    online: fc.boolean(),
    monitor: fc.boolean(),
    lastUpdate: fc.integer({ min: 0, max: 2 ** 45 }),
    reason: fc.option(fc.constantFrom<OfflineReason>('left', 'admin', 'failed'), { nil: undefined }),
  })
  .map(({ baseUrl, online, monitor, lastUpdate, reason }): MemberEntry =>
    online || reason === undefined
      ? { baseUrl, state: online ? 'online' : 'offline', monitor, lastUpdate }
      : { baseUrl, state: 'offline', monitor, lastUpdate, reason },
  );

/** A table: distinct base URLs. */
const tableArb = fc.uniqueArray(entryArb, { selector: (e) => e.baseUrl, maxLength: 60 });

/** Fields the engine may add later: entryKey must cover them without changes. */
type Extended = MemberEntry & { by?: string; downAt?: number };
const asEntry = (e: Extended | Record<string, unknown>): MemberEntry => e as unknown as MemberEntry;

describe('entryKey', () => {
  it('is canonical: sorted field names, JSON values, undefined fields left out', () => {
    expect(entryKey({ state: 'online', baseUrl: 'http://a:1/', lastUpdate: 5, monitor: true })).toBe(
      '"baseUrl":"http://a:1/","lastUpdate":5,"monitor":true,"state":"online"',
    );
    expect(entryKey({ baseUrl: 'http://a:1/', state: 'offline', monitor: false, lastUpdate: 5, reason: undefined })).toBe(
      entryKey({ baseUrl: 'http://a:1/', state: 'offline', monitor: false, lastUpdate: 5 }),
    );
  });

  it('includes optional and future fields generically', () => {
    const base: Extended = { baseUrl: 'http://a:1/', state: 'offline', monitor: false, lastUpdate: 5, reason: 'failed' };
    const withBy: Extended = { ...base, by: 'http://b:1/', downAt: 7 };
    expect(entryKey(asEntry(withBy))).toBe(
      '"baseUrl":"http://a:1/","by":"http://b:1/","downAt":7,"lastUpdate":5,"monitor":false,"reason":"failed","state":"offline"',
    );
    expect(entryKey(asEntry({ ...base, state: 'suspect' }))).toContain('"state":"suspect"');
  });

  it('equals a plain reference encoding for any mix of known, unknown and undefined fields', () => {
    const reference = (o: Record<string, unknown>): string =>
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => JSON.stringify(k) + ':' + JSON.stringify(o[k]))
        .join(',');
    const value = fc.oneof(
      fc.constant(undefined),
      anyString(12),
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double(),
      fc.boolean(),
    );
    const name = fc.constantFrom('baseUrl', 'by', 'downAt', 'lastUpdate', 'monitor', 'reason', 'state', 'zeta', 'alpha', 'incarnation');
    fc.assert(
      fc.property(fc.dictionary(name, value), anyString(30), (extra, url) => {
        const o = { baseUrl: url, ...extra };
        expect(entryKey(asEntry(o))).toBe(reference(o));
      }),
      { numRuns: 500 },
    );
  });

  it('cannot be confused by separators inside values', () => {
    const a = asEntry({ baseUrl: 'http://a:1/","lastUpdate":1', state: 'online', monitor: false, lastUpdate: 2 });
    const b = asEntry({ baseUrl: 'http://a:1/', lastUpdate: 1, state: 'online', monitor: false, x: 2 });
    expect(entryKey(a)).not.toBe(entryKey(b));
  });
});

describe('TableDigest', () => {
  it('of an empty table is zero with count 0', () => {
    expect(new TableDigest().toString()).toBe('0000000000000000:0');
    expect(TableDigest.of([]).count).toBe(0);
  });

  it('has the format <16 hex>:<count>', () => {
    const d = TableDigest.of([{ baseUrl: 'http://a:1/', state: 'online', monitor: false, lastUpdate: 1 }]);
    expect(d.toString()).toMatch(/^[0-9a-f]{16}:1$/);
    expect(d.count).toBe(1);
  });

  it('does not depend on the order entries were added in', () => {
    fc.assert(
      fc.property(
        tableArb.chain((t) => fc.tuple(fc.constant(t), fc.shuffledSubarray(t, { minLength: t.length, maxLength: t.length }))),
        ([t, shuffled]) => {
          expect(TableDigest.of(shuffled).toString()).toBe(TableDigest.of(t).toString());
        },
      ),
    );
  });

  it('add then remove restores the previous digest', () => {
    fc.assert(
      fc.property(tableArb, fc.array(entryArb, { minLength: 1, maxLength: 20 }), (t, extra) => {
        const d = TableDigest.of(t);
        const before = d.toString();
        for (const e of extra) d.add(e);
        expect(d.count).toBe(t.length + extra.length);
        // The count is part of the text: a cached text must not outlive a change.
        expect(d.toString()).not.toBe(before);
        expect(d.clone().toString()).toBe(d.toString());
        for (const e of [...extra].reverse()) d.remove(e);
        expect(d.toString()).toBe(before);
      }),
    );
  });

  it('removing from a zero digest wraps around modulo 2^64 and back', () => {
    const e: MemberEntry = { baseUrl: 'http://a:1/', state: 'online', monitor: false, lastUpdate: 1 };
    const d = new TableDigest();
    d.remove(e);
    expect(d.toString()).toMatch(/^[0-9a-f]{16}:-1$/);
    d.add(e);
    expect(d.toString()).toBe('0000000000000000:0');
  });

  it('replacing an entry (remove old, add new) equals building the new table', () => {
    fc.assert(
      fc.property(tableArb.filter((t) => t.length > 0), fc.nat(), fc.integer({ min: 1, max: 1000 }), (t, i, bump) => {
        const idx = i % t.length;
        const old = t[idx]!;
        const updated: MemberEntry = { ...old, lastUpdate: old.lastUpdate + bump };
        const d = TableDigest.of(t);
        d.remove(old);
        d.add(updated);
        const next = t.slice();
        next[idx] = updated;
        expect(d.toString()).toBe(TableDigest.of(next).toString());
      }),
    );
  });

  it('changes when any single field of an entry changes', () => {
    const others: MemberEntry[] = [
      { baseUrl: 'http://b:1/', state: 'online', monitor: true, lastUpdate: 100 },
      { baseUrl: 'http://c:1/', state: 'offline', monitor: false, lastUpdate: 90, reason: 'left' },
    ];
    const base: Extended = { baseUrl: 'http://a:1/', state: 'offline', monitor: false, lastUpdate: 1000, reason: 'failed', by: 'http://b:1/', downAt: 990 };
    const variants: Extended[] = [
      { ...base, baseUrl: 'http://a:2/' },
      { ...base, state: 'online' },
      asEntry({ ...base, state: 'suspect' }) as Extended,
      { ...base, monitor: true },
      { ...base, lastUpdate: 1001 },
      { ...base, reason: 'admin' },
      { ...base, reason: undefined },
      { ...base, by: 'http://c:1/' },
      { ...base, by: undefined },
      { ...base, downAt: 991 },
      { ...base, downAt: undefined },
    ];
    const digest = (e: Extended) => TableDigest.of([...others, asEntry(e)]).toString();
    const seen = new Set([digest(base)]);
    for (const v of variants) {
      const d = digest(v);
      expect(seen.has(d), JSON.stringify(v)).toBe(false);
      seen.add(d);
    }
  });

  it('equal tables give equal digests even when built from different objects', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        const copy = t.map((e) => JSON.parse(JSON.stringify(e)) as MemberEntry);
        expect(TableDigest.of(copy).toString()).toBe(TableDigest.of(t).toString());
      }),
    );
  });

  it('100k adds and removes (sanity check, printed not asserted)', () => {
    const entries: MemberEntry[] = Array.from({ length: 100_000 }, (_, i) => ({
      baseUrl: `https://server-${i}.example.internal:8443/`,
      state: i % 7 === 0 ? 'offline' : 'online',
      monitor: i % 50 === 0,
      lastUpdate: 1_700_000_000_000 + i,
    }));
    const d = new TableDigest();
    const start = performance.now();
    for (const e of entries) d.add(e);
    for (const e of entries) d.remove(e);
    const ms = performance.now() - start;
    expect(d.toString()).toBe('0000000000000000:0');
    console.log(`TableDigest: 100k add + 100k remove in ${ms.toFixed(1)} ms`);
  });
});
