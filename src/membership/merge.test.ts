import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { MemberEntry, OfflineReason } from './entry.js';
import { compareEntries, mergeEntry, mergeInto, mergeTables } from './merge.js';

const URLS = ['http://a:1/', 'http://b:1/', 'http://c:1/', 'http://d:1/'] as const;
const A = URLS[0];

function entry(
  state: MemberEntry['state'],
  lastUpdate: number,
  opts: { monitor?: boolean; reason?: OfflineReason; baseUrl?: string } = {},
): MemberEntry {
  const base = { baseUrl: opts.baseUrl ?? A, state, monitor: opts.monitor ?? false, lastUpdate };
  return opts.reason === undefined ? base : { ...base, reason: opts.reason };
}

// Small pools so that same-key collisions and version ties are frequent.
const entryArb: fc.Arbitrary<MemberEntry> = fc
  .record({
    baseUrl: fc.constantFrom(...URLS),
    state: fc.constantFrom<MemberEntry['state']>('online', 'suspect', 'offline'),
    monitor: fc.boolean(),
    lastUpdate: fc.integer({ min: 0, max: 3 }),
    reason: fc.option(fc.constantFrom<OfflineReason>('left', 'admin', 'failed'), { nil: undefined }),
    // Failure claims: who raised them and when, from small pools so ties happen.
    claim: fc.option(fc.record({ by: fc.constantFrom(...URLS), downAt: fc.integer({ min: 0, max: 2 }) }), { nil: undefined }),
  })
  .map(({ baseUrl, state, monitor, lastUpdate, reason, claim }) => {
    const e = state === 'offline'
      ? entry('offline', lastUpdate, { baseUrl, monitor, ...(reason === undefined ? {} : { reason }) })
      : entry(state, lastUpdate, { baseUrl, monitor });
    return state !== 'online' && claim !== undefined ? { ...e, ...claim } : e;
  });

const listArb = fc.array(entryArb, { maxLength: 12 });

function tableOf(entries: readonly MemberEntry[]): Map<string, MemberEntry> {
  const t = new Map<string, MemberEntry>();
  mergeInto(t, entries);
  return t;
}
const tableArb = listArb.map(tableOf);

/** Canonical form for comparing tables: entries sorted by key. */
function canon(t: ReadonlyMap<string, MemberEntry>): [string, MemberEntry][] {
  return [...t.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

function sameFields(a: MemberEntry, b: MemberEntry): boolean {
  return (
    a.baseUrl === b.baseUrl &&
    a.state === b.state &&
    a.monitor === b.monitor &&
    a.lastUpdate === b.lastUpdate &&
    a.reason === b.reason &&
    a.by === b.by &&
    a.downAt === b.downAt
  );
}

describe('compareEntries: the tie rule', () => {
  // Each row: `winner` must beat `loser`, whichever side it is on.
  it.each<{ name: string; winner: MemberEntry; loser: MemberEntry }>([
    { name: 'higher version beats offline', winner: entry('online', 2), loser: entry('offline', 1, { reason: 'left' }) },
    { name: 'higher version beats monitor', winner: entry('offline', 2), loser: entry('offline', 1, { monitor: true }) },
    { name: 'offline beats online at equal version', winner: entry('offline', 1), loser: entry('online', 1) },
    { name: 'suspect beats online at equal version', winner: entry('suspect', 1), loser: entry('online', 1) },
    { name: 'offline beats suspect at equal version', winner: entry('offline', 1, { reason: 'failed' }), loser: entry('suspect', 1) },
    { name: 'a refutation (higher version) beats suspect', winner: entry('online', 2), loser: entry('suspect', 1) },
    {
      name: 'the later of two equal suspicions wins',
      winner: { ...entry('suspect', 1), by: 'http://b:1/', downAt: 5 },
      loser: { ...entry('suspect', 1), by: 'http://c:1/', downAt: 4 },
    },
    {
      name: 'equal suspicions at the same time: the greater claimant wins',
      winner: { ...entry('suspect', 1), by: 'http://c:1/', downAt: 5 },
      loser: { ...entry('suspect', 1), by: 'http://b:1/', downAt: 5 },
    },
    {
      name: 'offline without reason beats online monitor',
      winner: entry('offline', 1),
      loser: entry('online', 1, { monitor: true }),
    },
    { name: 'failed beats no reason', winner: entry('offline', 1, { reason: 'failed' }), loser: entry('offline', 1) },
    {
      name: 'admin beats failed',
      winner: entry('offline', 1, { reason: 'admin' }),
      loser: entry('offline', 1, { reason: 'failed' }),
    },
    {
      name: 'left beats admin',
      winner: entry('offline', 1, { reason: 'left' }),
      loser: entry('offline', 1, { reason: 'admin' }),
    },
    {
      name: 'reason beats monitor',
      winner: entry('offline', 1, { reason: 'failed' }),
      loser: entry('offline', 1, { monitor: true }),
    },
    { name: 'monitor beats non-monitor (online)', winner: entry('online', 1, { monitor: true }), loser: entry('online', 1) },
    {
      name: 'monitor beats non-monitor (offline, same reason)',
      winner: entry('offline', 1, { reason: 'left', monitor: true }),
      loser: entry('offline', 1, { reason: 'left' }),
    },
    {
      name: 'baseUrl decides only when all else is equal',
      winner: entry('online', 1, { baseUrl: 'http://b:1/' }),
      loser: entry('online', 1, { baseUrl: 'http://a:1/' }),
    },
  ])('$name', ({ winner, loser }) => {
    expect(compareEntries(winner, loser)).toBeGreaterThan(0);
    expect(compareEntries(loser, winner)).toBeLessThan(0);
    expect(mergeEntry(winner, loser)).toBe(winner);
    expect(mergeEntry(loser, winner)).toBe(winner);
  });

  it('is 0 for entries with the same fields, and mergeEntry then returns the first', () => {
    const a = entry('offline', 3, { reason: 'admin', monitor: true });
    const b = { ...a };
    expect(compareEntries(a, b)).toBe(0);
    expect(mergeEntry(a, b)).toBe(a);
    expect(mergeEntry(b, a)).toBe(b);
  });

  it('is a total order: antisymmetric, 0 only on equal fields, transitive', () => {
    fc.assert(
      fc.property(entryArb, entryArb, entryArb, (a, b, c) => {
        expect(Math.sign(compareEntries(a, b)) + Math.sign(compareEntries(b, a))).toBe(0);
        expect(compareEntries(a, b) === 0).toBe(sameFields(a, b));
        if (compareEntries(a, b) >= 0 && compareEntries(b, c) >= 0) {
          expect(compareEntries(a, c)).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('mergeTables', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        expect(canon(mergeTables(a, b))).toEqual(canon(mergeTables(b, a)));
      }),
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(tableArb, tableArb, tableArb, (a, b, c) => {
        expect(canon(mergeTables(mergeTables(a, b), c))).toEqual(canon(mergeTables(a, mergeTables(b, c))));
      }),
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        expect(canon(mergeTables(a, a))).toEqual(canon(a));
        const ab = mergeTables(a, b);
        expect(canon(mergeTables(ab, b))).toEqual(canon(ab));
      }),
    );
  });

  it('leaves its inputs untouched and keeps the greater entry of each key', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        const before = [canon(a), canon(b)];
        const m = mergeTables(a, b);
        expect([canon(a), canon(b)]).toEqual(before);
        expect(m).not.toBe(a);
        expect(new Set(m.keys())).toEqual(new Set([...a.keys(), ...b.keys()]));
        for (const [k, e] of m) {
          for (const side of [a.get(k), b.get(k)]) {
            if (side !== undefined) expect(compareEntries(e, side)).toBeGreaterThanOrEqual(0);
          }
        }
      }),
    );
  });
});

describe('mergeInto', () => {
  it('yields the same table whatever order the lists (and their entries) arrive in', () => {
    const scenario = fc
      .array(listArb, { minLength: 1, maxLength: 5 })
      .chain((lists) =>
        fc.tuple(
          fc.constant(lists),
          fc.shuffledSubarray(lists, { minLength: lists.length, maxLength: lists.length }),
          fc.shuffledSubarray(lists.flat(), { minLength: lists.flat().length, maxLength: lists.flat().length }),
        ),
      );
    fc.assert(
      fc.property(scenario, ([lists, permuted, flatShuffled]) => {
        const t1 = new Map<string, MemberEntry>();
        for (const l of lists) mergeInto(t1, l);
        const t2 = new Map<string, MemberEntry>();
        for (const l of permuted) mergeInto(t2, l);
        const t3 = tableOf(flatShuffled);
        expect(canon(t2)).toEqual(canon(t1));
        expect(canon(t3)).toEqual(canon(t1));
      }),
    );
  });

  it('reports exactly the keys that differ, once each, from original to final entry', () => {
    fc.assert(
      fc.property(tableArb, listArb, (start, incoming) => {
        const table = new Map(start);
        const changes = mergeInto(table, incoming);
        const changedKeys = changes.map((c) => c.after.baseUrl);
        expect(new Set(changedKeys).size).toBe(changedKeys.length);
        const differing = [...table.keys()].filter((k) => start.get(k) !== table.get(k));
        expect(new Set(changedKeys)).toEqual(new Set(differing));
        for (const c of changes) {
          expect(c.before).toBe(start.get(c.after.baseUrl));
          expect(c.after).toBe(table.get(c.after.baseUrl));
          if (c.before !== undefined) expect(compareEntries(c.after, c.before)).toBeGreaterThan(0);
        }
        // Nothing removed.
        for (const k of start.keys()) expect(table.has(k)).toBe(true);
      }),
    );
  });

  it('reports one change for a key that changes twice in one call', () => {
    const original = entry('online', 1);
    const table = new Map([[A, original]]);
    const mid = entry('online', 2);
    const final = entry('offline', 3, { reason: 'left' });
    const changes = mergeInto(table, [mid, entry('online', 2), final, entry('online', 3)]);
    expect(changes).toEqual([{ before: original, after: final }]);
    expect(changes[0]?.before).toBe(original);
    expect(table.get(A)).toBe(final);
  });

  it('reports new keys with before undefined and nothing for stale or equal entries', () => {
    const known = entry('online', 5);
    const table = new Map([[A, known]]);
    const fresh = entry('online', 1, { baseUrl: 'http://b:1/' });
    const changes = mergeInto(table, [entry('online', 4), { ...known }, fresh]);
    expect(changes).toEqual([{ before: undefined, after: fresh }]);
    expect(table.get(A)).toBe(known);
  });

  it('accepts any iterable, including a one-shot generator', () => {
    const table = new Map<string, MemberEntry>();
    function* gen(): Generator<MemberEntry> {
      yield entry('online', 1);
      yield entry('offline', 1, { reason: 'failed' });
    }
    const changes = mergeInto(table, gen());
    expect(changes).toHaveLength(1);
    expect(table.get(A)).toEqual(entry('offline', 1, { reason: 'failed' }));
  });
});
