import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { MemberEntry } from './entry.js';
import { MembershipTable, isExpiredTombstone } from './table.js';
import { seededRandom } from '../core/random.js';

const SELF = 'http://self:1/';
const B = 'http://b:1/';
const C = 'http://c:1/';
const DAY = 24 * 3600_000;
const T0 = 1_700_000_000_000;

function online(baseUrl: string, lastUpdate: number, monitor = false): MemberEntry {
  return { baseUrl, state: 'online', monitor, lastUpdate };
}

describe('MembershipTable: views', () => {
  it('starts empty, without self', () => {
    const t = new MembershipTable(SELF);
    expect(t.size).toBe(0);
    expect(t.has(SELF)).toBe(false);
    expect(t.self()).toBeUndefined();
    expect(t.entries()).toEqual([]);
    expect(t.version).toBe(0);
    expect(t.selfUrl).toBe(SELF);
  });

  it('lists entries sorted by baseUrl and splits online, offline and peers', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'online', monitor: false }, T0);
    t.apply([online(C, T0 + 5), online(B, T0 + 1), { baseUrl: 'http://a:1/', state: 'offline', monitor: true, lastUpdate: T0 }]);
    expect(t.entries().map((e) => e.baseUrl)).toEqual(['http://a:1/', B, C, SELF]);
    expect(t.online().map((e) => e.baseUrl)).toEqual([B, C, SELF]);
    expect(t.offline().map((e) => e.baseUrl)).toEqual(['http://a:1/']);
    expect([...t.upPeerUrls()].sort()).toEqual([B, C]);
    expect(t.size).toBe(4);
    expect(t.get(B)).toEqual(online(B, T0 + 1));
    expect(t.get('http://nope:1/')).toBeUndefined();
  });

  it('keeps entries() sorted and current through every kind of change (property)', () => {
    const url = fc.integer({ min: 0, max: 30 }).map((i) => `http://h${i}:1/`);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('apply' as const), baseUrl: url, lastUpdate: fc.integer({ min: 0, max: 50 }), offline: fc.boolean() }),
      fc.record({ kind: fc.constant('self' as const), offline: fc.boolean() }),
      fc.record({ kind: fc.constant('claim' as const), baseUrl: url }),
      fc.record({ kind: fc.constant('prune' as const), now: fc.integer({ min: 0, max: 100 }) }),
      fc.constant({ kind: 'load' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let t = new MembershipTable(SELF);
        for (const o of ops) {
          if (o.kind === 'apply') t.apply([{ baseUrl: o.baseUrl, state: o.offline ? 'offline' : 'online', monitor: false, lastUpdate: o.lastUpdate }]);
          else if (o.kind === 'self') t.setSelf({ state: o.offline ? 'offline' : 'online', monitor: false }, 10);
          else if (o.kind === 'claim') t.claimFailure(o.baseUrl, 'suspect', SELF, 20);
          else if (o.kind === 'prune') t.prune(o.now, 10);
          else {
            const copy = new MembershipTable(SELF);
            expect(copy.entries()).toEqual([]);
            copy.load(t.values());
            t = copy;
          }
          const listed = t.entries();
          expect(listed).toEqual([...t.values()].sort((a, b) => (a.baseUrl < b.baseUrl ? -1 : 1)));
          listed.reverse(); // the caller's array: changing it changes nothing in the table
          expect(t.entries().map((e) => e.baseUrl)).toEqual([...t.values()].map((e) => e.baseUrl).sort());
        }
      }),
    );
  });

  it('exposes isExpiredTombstone as a static too', () => {
    expect(MembershipTable.isExpiredTombstone).toBe(isExpiredTombstone);
  });
});

describe('MembershipTable.apply', () => {
  it('returns the changes of the CRDT merge and bumps version per change', () => {
    const t = new MembershipTable(SELF);
    const b1 = online(B, 10);
    expect(t.apply([b1])).toEqual([{ before: undefined, after: b1 }]);
    expect(t.version).toBe(1);
    // Stale and equal entries change nothing.
    expect(t.apply([online(B, 9), online(B, 10)])).toEqual([]);
    expect(t.version).toBe(1);
    const bOff: MemberEntry = { baseUrl: B, state: 'offline', monitor: false, lastUpdate: 10, reason: 'failed' };
    const c1 = online(C, 1);
    expect(t.apply([bOff, c1])).toEqual([
      { before: b1, after: bOff },
      { before: undefined, after: c1 },
    ]);
    expect(t.version).toBe(3);
  });

  it('records incoming self versions, even those that lose', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'online', monitor: false }, 100);
    // Equal version: offline wins the tie, so this one does change the table.
    t.apply([{ baseUrl: SELF, state: 'offline', monitor: false, lastUpdate: 100, reason: 'failed' }]);
    expect(t.self()?.state).toBe('offline');
    expect(t.highestSeenSelfVersion).toBe(100);
    // Refute; then a stale self entry arrives with a version that loses.
    t.setSelf({ state: 'online', monitor: false }, 50);
    expect(t.self()?.lastUpdate).toBe(101);
    t.apply([online(SELF, 90)]);
    expect(t.highestSeenSelfVersion).toBe(101);
  });
});

describe('MembershipTable.setSelf', () => {
  it('stamps nextVersion(now, highest seen) and keeps reason only when offline', () => {
    const t = new MembershipTable(SELF);
    const e = t.setSelf({ state: 'online', monitor: true, reason: 'left' }, T0);
    expect(e).toEqual({ baseUrl: SELF, state: 'online', monitor: true, lastUpdate: T0 });
    expect('reason' in e).toBe(false);
    expect(t.self()).toBe(e);
    expect(t.version).toBe(1);
    const off = t.setSelf({ state: 'offline', monitor: true, reason: 'left' }, T0 + 10);
    expect(off).toEqual({ baseUrl: SELF, state: 'offline', monitor: true, lastUpdate: T0 + 10, reason: 'left' });
  });

  it('never goes backwards when the clock goes backwards', () => {
    const t = new MembershipTable(SELF);
    const a = t.setSelf({ state: 'online', monitor: false }, T0);
    const b = t.setSelf({ state: 'online', monitor: false }, T0 - 60_000);
    const c = t.setSelf({ state: 'online', monitor: false }, T0 - 60_000);
    expect(a.lastUpdate).toBe(T0);
    expect(b.lastUpdate).toBe(T0 + 1);
    expect(c.lastUpdate).toBe(T0 + 2);
  });

  it('beats a higher self version seen from a peer whose clock runs ahead', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'online', monitor: false }, T0);
    const claim: MemberEntry = { baseUrl: SELF, state: 'offline', monitor: false, lastUpdate: T0 + 3_600_000, reason: 'failed' };
    t.apply([claim]);
    expect(t.self()).toBe(claim);
    const refuted = t.setSelf({ state: 'online', monitor: false }, T0 + 1);
    expect(refuted.lastUpdate).toBe(T0 + 3_600_001);
    expect(t.self()).toBe(refuted);
  });

  it('beats self versions that lost the merge', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'offline', monitor: false, reason: 'left' }, T0 + 1000);
    // An online self entry at the same version loses the tie but is still seen.
    t.apply([online(SELF, T0 + 1000)]);
    t.apply([online(SELF, T0 + 999)]);
    const e = t.setSelf({ state: 'online', monitor: false }, T0);
    expect(e.lastUpdate).toBe(T0 + 1001);
  });

  it('is strictly increasing over any mix of clock readings and incoming self entries', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), now: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('seen' as const), v: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const t = new MembershipTable(SELF);
        let maxSeen = -Infinity;
        for (const s of steps) {
          if (s.kind === 'seen') {
            t.apply([online(SELF, s.v)]);
            maxSeen = Math.max(maxSeen, s.v);
          } else {
            const e = t.setSelf({ state: 'online', monitor: false }, s.now);
            expect(e.lastUpdate).toBeGreaterThan(maxSeen);
            expect(e.lastUpdate).toBeGreaterThanOrEqual(s.now);
            expect(t.self()).toBe(e);
            maxSeen = e.lastUpdate;
          }
        }
      }),
    );
  });
});

describe('MembershipTable.claimFailure', () => {
  it('raises suspect, then failed, at the version the claim is about, with claimant and time', () => {
    const t = new MembershipTable(SELF);
    const b = online(B, T0 + 5000, true);
    t.apply([b]);
    const v0 = t.version;
    const suspect = t.claimFailure(B, 'suspect', C, T0 + 9, T0 + 5000);
    expect(suspect).toEqual({ before: b, after: { baseUrl: B, state: 'suspect', monitor: true, lastUpdate: T0 + 5000, by: C, downAt: T0 + 9 } });
    expect(t.claimFailure(B, 'suspect', SELF, T0 + 10)).toBeUndefined(); // already suspect
    const failed = t.claimFailure(B, 'offline', SELF, T0 + 20, T0 + 5000);
    expect(failed?.after).toEqual({ baseUrl: B, state: 'offline', monitor: true, lastUpdate: T0 + 5000, reason: 'failed', by: SELF, downAt: T0 + 20 });
    expect(t.get(B)).toBe(failed?.after);
    expect(t.version).toBe(v0 + 2);
    // The server's own refutation (a higher version) beats the claim.
    expect(t.apply([online(B, T0 + 5001)])).toHaveLength(1);
  });

  it('changes nothing for unknown entries, self, offline entries or a version that moved on', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'online', monitor: false }, T0);
    const off: MemberEntry = { baseUrl: C, state: 'offline', monitor: false, lastUpdate: 1, reason: 'left' };
    t.apply([online(B, T0 + 5), off]);
    const v0 = t.version;
    expect(t.claimFailure('http://unknown:1/', 'suspect', C, T0)).toBeUndefined();
    expect(t.claimFailure(SELF, 'suspect', C, T0)).toBeUndefined();
    expect(t.claimFailure(C, 'offline', SELF, T0)).toBeUndefined();
    expect(t.claimFailure(B, 'suspect', C, T0, T0 + 4)).toBeUndefined();
    expect(t.get(C)).toBe(off);
    expect(t.version).toBe(v0);
  });
});

describe('MembershipTable.prune and isExpiredTombstone', () => {
  const now = T0 + 2 * DAY;
  const off = (baseUrl: string, lastUpdate: number): MemberEntry => ({
    baseUrl,
    state: 'offline',
    monitor: false,
    lastUpdate,
    reason: 'left',
  });

  it('expires offline entries strictly older than the horizon, at exactly 24 h', () => {
    expect(isExpiredTombstone(off(B, now - DAY), now, DAY)).toBe(false);
    expect(isExpiredTombstone(off(B, now - DAY - 1), now, DAY)).toBe(true);
    expect(isExpiredTombstone(off(B, now - DAY + 1), now, DAY)).toBe(false);
    expect(isExpiredTombstone(online(B, now - 10 * DAY), now, DAY)).toBe(false);
  });

  it('removes old offline entries but never self or online ones, and returns them', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'offline', monitor: false, reason: 'admin' }, now - 3 * DAY);
    const edge = off(B, now - DAY);
    const old = off(C, now - DAY - 1);
    const older = off('http://a:1/', now - 5 * DAY);
    const oldOnline = online('http://d:1/', now - 5 * DAY);
    t.apply([edge, old, older, oldOnline]);
    const v0 = t.version;
    expect(t.prune(now, DAY)).toEqual([older, old]);
    expect(t.entries().map((e) => e.baseUrl)).toEqual([B, 'http://d:1/', SELF]);
    expect(t.version).toBe(v0 + 2);
    // One ms later the boundary entry goes too; nothing else does.
    expect(t.prune(now + 1, DAY)).toEqual([edge]);
    expect(t.prune(now + 1, DAY)).toEqual([]);
    expect(t.version).toBe(v0 + 3);
  });

  it('keeps the self version high after the clock runs back past a pruned horizon', () => {
    const t = new MembershipTable(SELF);
    t.setSelf({ state: 'online', monitor: false }, now);
    t.apply([off(B, now - 2 * DAY)]);
    t.prune(now, DAY);
    expect(t.setSelf({ state: 'online', monitor: false }, now - DAY).lastUpdate).toBe(now + 1);
  });
});

describe('MembershipTable: shared snapshots and peer sampling', () => {
  const urls = Array.from({ length: 200 }, (_, i) => `http://n${i}.test/`);
  const snapshot: MemberEntry[] = urls.map((u) => online(u, T0));

  it('tables loaded from one snapshot share it, and the changes of each stay its own', () => {
    const a = new MembershipTable(urls[0]!);
    const b = new MembershipTable(urls[1]!);
    a.loadShared(snapshot, () => snapshot);
    b.loadShared(snapshot, () => {
      throw new Error('read only by the first table');
    });
    expect(a.size).toBe(200);
    expect(a.upPeerCount()).toBe(199);
    a.apply([{ ...online(urls[5]!, T0 + 1), state: 'offline' }]);
    expect(a.get(urls[5]!)?.state).toBe('offline');
    expect(b.get(urls[5]!)?.state).toBe('online');
    expect(a.upPeerCount()).toBe(198);
    expect(b.upPeerCount()).toBe(199);
    expect(a.upPeerUrls()).not.toContain(urls[5]);
    expect(b.upPeerUrls()).toContain(urls[5]);
    expect(a.upRing.has(urls[5]!)).toBe(false);
    expect(b.upRing.has(urls[5]!)).toBe(true);
    // The same result as an unshared load.
    const c = new MembershipTable(urls[0]!);
    c.load(snapshot);
    c.apply([{ ...online(urls[5]!, T0 + 1), state: 'offline' }]);
    expect(a.entries()).toEqual(c.entries());
    expect(a.upRing.members()).toEqual(c.upRing.members());
  });

  it('prunes only expired offline entries, including ones that came with the snapshot', () => {
    const withOffline: MemberEntry[] = [...snapshot.slice(0, 10), { ...online(urls[10]!, T0), state: 'offline' }];
    const t = new MembershipTable(urls[0]!);
    t.loadShared(withOffline, () => withOffline);
    expect(t.prune(T0 + DAY / 2, DAY)).toEqual([]);
    expect(t.prune(T0 + 2 * DAY, DAY).map((e) => e.baseUrl)).toEqual([urls[10]]);
    expect(t.size).toBe(10);
  });

  it('sampleUpPeers: distinct up peers, never self or the excluded one, as many as asked or available (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 45 }), fc.integer({ min: 0, max: 40 }), fc.integer(), (n, k, ex, seed) => {
        const members = urls.slice(0, n);
        const self = members[0] ?? 'http://self.test/';
        const t = new MembershipTable(self);
        t.load(members.map((u) => online(u, T0)));
        if (n > 3) t.apply([{ ...online(members[3]!, T0 + 1), state: 'offline' }]);
        const except = members[ex];
        const got = t.sampleUpPeers(seededRandom(seed), k, except);
        const eligible = t.upPeerUrls().filter((u) => u !== except);
        expect(got.length).toBe(Math.min(k, eligible.length));
        expect(new Set(got).size).toBe(got.length);
        for (const u of got) expect(eligible).toContain(u);
      }),
    );
  });

  it('sampleUpPeers is uniform over the eligible peers', () => {
    const t = new MembershipTable(urls[0]!);
    t.load(snapshot.slice(0, 50));
    const random = seededRandom(7);
    const counts = new Map<string, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      for (const u of t.sampleUpPeers(random, 3, urls[1])) counts.set(u, (counts.get(u) ?? 0) + 1);
    }
    expect(counts.has(urls[0]!)).toBe(false);
    expect(counts.has(urls[1]!)).toBe(false);
    expect(counts.size).toBe(48);
    const expected = (3 * draws) / 48;
    for (const c of counts.values()) {
      expect(c).toBeGreaterThan(expected * 0.85);
      expect(c).toBeLessThan(expected * 1.15);
    }
  });
});
