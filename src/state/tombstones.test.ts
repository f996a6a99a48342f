import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TombstoneTracker } from './tombstones.js';

const OPTS = { graceMs: 1_000, maxAgeMs: 10_000, inFlightMs: 100 };
const PEERS = ['p1', 'p2'];

describe('TombstoneTracker', () => {
  it('collects an unconfirmed tombstone at delAtMs + maxAgeMs, not before', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 50, 0);
    expect(t.tick(9_999, PEERS)).toEqual([]);
    expect(t.size).toBe(1);
    expect(t.tick(10_000, PEERS)).toEqual(['k']);
    expect(t.size).toBe(0);
    expect(t.tick(20_000, PEERS)).toEqual([]);
  });

  it('confirms once every member synced at or after arrival + inFlight while young, and collects it once old', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 100, 0);
    t.synced('p1', 199);
    t.synced('p2', 300);
    expect(t.tick(400, PEERS)).toEqual([]);
    expect(t.isConfirmed('k')).toBe(false); // p1 synced 1 ms too early
    t.synced('p1', 200);
    expect(t.tick(500, PEERS)).toEqual([]);
    expect(t.isConfirmed('k')).toBe(true);
    expect(t.waiting()).toBe(0);
    expect(t.tick(999, PEERS)).toEqual([]);
    expect(t.tick(1_000, PEERS)).toEqual(['k']);
  });

  it('with collectOnConfirm, collects a tombstone at the tick that confirms it', () => {
    const t = new TombstoneTracker({ graceMs: 10_000, maxAgeMs: 10_000, inFlightMs: 100, collectOnConfirm: true });
    t.added('k', 100, 0);
    t.added('late', 400, 0);
    t.synced('p1', 250);
    expect(t.tick(300, PEERS)).toEqual([]); // p2 never synced
    t.synced('p2', 260);
    expect(t.tick(301, PEERS)).toEqual(['k']); // 'late' arrived after the syncs
    expect(t.size).toBe(1);
    t.synced('p1', 600);
    t.synced('p2', 600);
    expect(t.tick(700, PEERS)).toEqual(['late']);
  });

  it('does not confirm while a member has never synced, nor with no other member', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 0, 0);
    t.synced('p1', 500);
    expect(t.tick(600, PEERS)).toEqual([]);
    expect(t.tick(600, [])).toEqual([]);
    expect(t.isConfirmed('k')).toBe(false);
    expect(t.tick(600, ['p1'])).toEqual([]);
    expect(t.isConfirmed('k')).toBe(true);
  });

  it('does not confirm at an evaluation after the tombstone turned old, even with good syncs', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 0, 0);
    t.synced('p1', 500);
    t.synced('p2', 500);
    expect(t.tick(1_000, PEERS)).toEqual([]); // first evaluation: already old
    expect(t.isConfirmed('k')).toBe(false);
    expect(t.tick(9_999, PEERS)).toEqual([]);
    expect(t.tick(10_000, PEERS)).toEqual(['k']);
  });

  it('never confirms a tombstone that arrived already old (it never was in the digest here)', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 5_000, 0);
    t.synced('p1', 6_000);
    t.synced('p2', 6_000);
    expect(t.tick(6_000, PEERS)).toEqual([]);
    expect(t.waiting()).toBe(1);
    expect(t.tick(10_000, PEERS)).toEqual(['k']);
  });

  it('forgets dropped tombstones, and a re-added one starts afresh', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('a', 0, 0);
    t.added('b', 0, 0);
    t.dropped('a');
    t.dropped('unknown');
    t.synced('p1', 100);
    t.synced('p2', 100);
    t.tick(200, PEERS);
    expect(t.isConfirmed('b')).toBe(true);
    t.added('b', 300, 250); // deleted again after being written: new arrival
    expect(t.isConfirmed('b')).toBe(false);
    expect(t.tick(1_000, PEERS)).toEqual([]); // the first incarnation would have gone now
    expect(t.tick(10_250, PEERS)).toEqual(['b']);
    expect(t.size).toBe(0);
  });

  it('forget(peer) drops its syncs: a peer still listed must sync again', () => {
    const t = new TombstoneTracker(OPTS);
    t.added('k', 0, 0);
    t.synced('p1', 200);
    t.synced('p2', 200);
    t.forget('p2');
    t.tick(300, PEERS);
    expect(t.isConfirmed('k')).toBe(false);
    t.tick(300, ['p1']); // p2 left the cluster
    expect(t.isConfirmed('k')).toBe(true);
  });

  it('confirms the prefix of arrivals a sync covers, and keeps a sync time from going back', () => {
    const t = new TombstoneTracker(OPTS);
    for (let i = 0; i < 10; i++) t.added(`k${i}`, i * 10, 0);
    t.synced('p1', 150);
    t.synced('p1', 100); // older news
    t.tick(160, ['p1']);
    const confirmed = Array.from({ length: 10 }, (_, i) => t.isConfirmed(`k${i}`));
    expect(confirmed).toEqual([true, true, true, true, true, true, false, false, false, false]);
    expect(t.waiting()).toBe(4);
  });

  it('rejects bad options', () => {
    expect(() => new TombstoneTracker({ ...OPTS, graceMs: -1 })).toThrow(RangeError);
    expect(() => new TombstoneTracker({ ...OPTS, inFlightMs: Number.NaN })).toThrow(RangeError);
    expect(() => new TombstoneTracker({ ...OPTS, maxAgeMs: 10 })).toThrow(RangeError);
  });

  it('handles 100,000 tombstones and heavy churn', () => {
    const t = new TombstoneTracker(OPTS);
    for (let i = 0; i < 100_000; i++) t.added(`k${i}`, i % 500, 0);
    // Churn: many written again (dropped) and deleted again, leaving stale heap entries behind.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50_000; i++) t.dropped(`k${i}`);
      for (let i = 0; i < 50_000; i++) t.added(`k${i}`, 500, 0);
      expect(t.tick(550, PEERS)).toEqual([]);
    }
    expect(t.size).toBe(100_000);
    t.synced('p1', 600);
    t.synced('p2', 600);
    expect(t.tick(650, PEERS)).toEqual([]);
    expect(t.waiting()).toBe(0);
    const out = t.tick(1_000, PEERS);
    expect(out.length).toBe(100_000);
    expect(new Set(out).size).toBe(100_000);
    expect(t.size).toBe(0);
  });
});

/** The rule written plainly, scanning everything: the reference for the tracker. */
class NaiveTracker {
  readonly items = new Map<string, { arrivedAt: number; delAtMs: number; confirmed: boolean }>();
  readonly syncs = new Map<string, number>();
  constructor(private readonly o: typeof OPTS) {}
  tick(now: number, members: readonly string[]): string[] {
    const ats = members.map((m) => this.syncs.get(m));
    if (members.length > 0 && ats.every((a) => a !== undefined)) {
      const min = Math.min(...(ats as number[]));
      for (const it of this.items.values()) {
        if (now < it.delAtMs + this.o.graceMs && min >= it.arrivedAt + this.o.inFlightMs) it.confirmed = true;
      }
    }
    const out: string[] = [];
    for (const [id, it] of this.items) {
      if ((it.confirmed && now >= it.delAtMs + this.o.graceMs) || now >= it.delAtMs + this.o.maxAgeMs) out.push(id);
    }
    for (const id of out) this.items.delete(id);
    return out.sort();
  }
}

describe('TombstoneTracker against the plain rule', () => {
  type Op =
    | { op: 'advance'; ms: number }
    | { op: 'added'; id: number; age: number }
    | { op: 'dropped'; id: number }
    | { op: 'synced'; peer: number }
    | { op: 'forget'; peer: number }
    | { op: 'tick'; members: number[] };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 800 }) }),
    fc.record({ op: fc.constant('added' as const), id: fc.nat(7), age: fc.integer({ min: 0, max: 1_500 }) }),
    fc.record({ op: fc.constant('dropped' as const), id: fc.nat(7) }),
    fc.record({ op: fc.constant('synced' as const), peer: fc.nat(2) }),
    fc.record({ op: fc.constant('forget' as const), peer: fc.nat(2) }),
    fc.record({ op: fc.constant('tick' as const), members: fc.subarray([0, 1, 2]) }),
  );

  it('collects the same tombstones at the same ticks', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 60, size: 'max' }), (ops) => {
        const real = new TombstoneTracker(OPTS);
        const naive = new NaiveTracker(OPTS);
        let now = 0;
        for (const o of ops) {
          if (o.op === 'advance') now += o.ms;
          else if (o.op === 'added') {
            // A tombstone arrives now; its delete happened `age` ms ago.
            real.added(`k${o.id}`, now, now - o.age);
            naive.items.set(`k${o.id}`, { arrivedAt: now, delAtMs: now - o.age, confirmed: false });
          } else if (o.op === 'dropped') {
            real.dropped(`k${o.id}`);
            naive.items.delete(`k${o.id}`);
          } else if (o.op === 'synced') {
            real.synced(`p${o.peer}`, now);
            naive.syncs.set(`p${o.peer}`, now);
          } else if (o.op === 'forget') {
            real.forget(`p${o.peer}`);
            naive.syncs.delete(`p${o.peer}`);
          } else {
            const members = o.members.map((p) => `p${p}`);
            expect(real.tick(now, members).sort()).toEqual(naive.tick(now, members));
            expect(real.size).toBe(naive.items.size);
            expect(real.waiting()).toBe([...naive.items.values()].filter((x) => !x.confirmed).length);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
