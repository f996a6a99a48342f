/**
 * A model test of the replicated state: 5 replicas with skewed clocks make
 * random operations and merge pairwise in random orders; once everything is
 * merged everywhere, every replica holds the same state, the counter holds
 * the sum of every increment minus every decrement, and the last operation
 * of a key decides it whenever its replica had seen every earlier operation
 * of that key.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CounterState, counterEquals, counterValue, decrementDelta, incrementDelta, mergeCounter } from './counter-state.js';
import { MapState } from './map-state.js';
import { EMPTY_KEY, type KeyState, deleteDelta, keyStateEquals, setDelta, updateDelta, visible } from './register.js';
import type { JsonValue, Version } from './types.js';
import { jsonBytes } from './utf8.js';
import { HybridClock, compareVersions } from './version.js';

const N = 5;
const KEYS = ['k0', 'k1', 'k2'];

type Cmd =
  | { op: 'set' | 'create' | 'update' | 'delete'; r: number; key: number; value: number }
  | { op: 'inc' | 'dec'; r: number; by: number }
  | { op: 'merge'; from: number; to: number }
  | { op: 'tick'; ms: number };

const replica = fc.nat(N - 1);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('set', 'create', 'update', 'delete'), r: replica, key: fc.nat(KEYS.length - 1), value: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('inc', 'dec'), r: replica, by: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('merge'), from: replica, to: replica }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick'), ms: fc.nat(3) }) },
) as fc.Arbitrary<Cmd>;

interface Replica {
  readonly name: string;
  readonly clock: HybridClock;
  readonly map: MapState;
  counter: CounterState;
  /** Ids of the operations this replica's state reflects. */
  readonly seen: Set<number>;
}

/** An operation of a key that changed state, in global order. */
interface KeyOp {
  readonly id: number;
  /** Whether its replica had seen every earlier operation of the key. */
  readonly sawAll: boolean;
  readonly kind: 'write' | 'delete';
  readonly value?: JsonValue;
}

function highestTime(s: KeyState): number {
  let t = Math.max(s.del?.t ?? 0, s.delAt?.t ?? 0);
  for (const w of s.writes) t = Math.max(t, w.v.t, w.base?.t ?? 0);
  return t;
}

/** Merges `from`'s whole state into `to` (what a full sync does). */
function mergeInto(to: Replica, from: Replica): void {
  if (to === from) return;
  for (const [key, s] of from.map.entries()) {
    to.clock.observe(highestTime(s));
    to.map.apply(key, s);
  }
  to.counter = mergeCounter(to.counter, from.counter);
  for (const id of from.seen) to.seen.add(id);
}

function run(cmds: readonly Cmd[], skews: readonly number[]): Replica[] {
  let now = 1_700_000_000_000;
  const replicas: Replica[] = skews.map((skew, i) => ({
    name: `http://10.0.0.${i}:3000#x${i}`,
    clock: new HybridClock(() => now + skew),
    map: new MapState(),
    counter: new Map(),
    seen: new Set(),
  }));
  const ops = new Map<string, KeyOp[]>(KEYS.map((k) => [k, []]));
  let nextId = 0;
  let counterTotal = 0;
  /** Every update made, and the version every delete observed, per key, with their op ids. */
  const updates = new Map<string, Array<{ id: number; v: Version; base: Version }>>(KEYS.map((k) => [k, []]));
  const observed = new Map<string, Array<{ id: number; del: Version }>>(KEYS.map((k) => [k, []]));
  /** A delete that had seen the version an update started from removes the update wherever both arrived. */
  const checkKills = (r: Replica): void => {
    for (const [key, us] of updates) {
      const frontier = (r.map.get(key) ?? EMPTY_KEY).writes;
      for (const u of us) {
        if (!r.seen.has(u.id)) continue;
        if (!observed.get(key)!.some((d) => r.seen.has(d.id) && compareVersions(d.del, u.base) >= 0)) continue;
        expect(frontier.some((w) => compareVersions(w.v, u.v) === 0)).toBe(false);
      }
    }
  };

  for (const c of cmds) {
    if (c.op === 'tick') {
      now += c.ms;
      continue;
    }
    if (c.op === 'merge') {
      mergeInto(replicas[c.to]!, replicas[c.from]!);
      checkKills(replicas[c.to]!);
      continue;
    }
    const r = replicas[c.r]!;
    if ('by' in c) {
      const d = (c.op === 'inc' ? incrementDelta : decrementDelta)(r.counter, r.name, c.by);
      r.counter = mergeCounter(r.counter, d);
      counterTotal += c.op === 'inc' ? c.by : -c.by;
      continue;
    }
    const key = KEYS[c.key]!;
    const current = r.map.get(key) ?? EMPTY_KEY;
    const shown = visible(current);
    const v = (): Version => ({ t: r.clock.next(), replica: r.name });
    let delta: KeyState | undefined;
    let value: JsonValue | undefined;
    if (c.op === 'set' || (c.op === 'create' && shown === undefined)) {
      value = c.value;
      delta = setDelta(v(), value, jsonBytes(value));
    } else if (c.op === 'update' && shown !== undefined) {
      value = [shown.value, c.value];
      delta = updateDelta(v(), shown.v, value, jsonBytes(value));
    } else if (c.op === 'delete') {
      delta = deleteDelta(current, v());
    }
    if (delta === undefined) continue;
    const keyOps = ops.get(key)!;
    const id = nextId++;
    if (delta.del !== undefined) observed.get(key)!.push({ id, del: delta.del });
    const w = delta.writes[0];
    if (w?.base !== undefined) updates.get(key)!.push({ id, v: w.v, base: w.base });
    keyOps.push({ id, sawAll: keyOps.every((o) => r.seen.has(o.id)), kind: c.op === 'delete' ? 'delete' : 'write', value });
    r.map.apply(key, delta);
    r.seen.add(id);
    checkKills(r);
  }

  // Merge everything everywhere: all into replica 0, then replica 0 into all.
  for (const r of replicas) mergeInto(replicas[0]!, r);
  for (const r of replicas) mergeInto(r, replicas[0]!);

  const first = replicas[0]!;
  for (const r of replicas) {
    expect(r.map.digest.root()).toBe(first.map.digest.root());
    expect(r.map.digest.level1()).toEqual(first.map.digest.level1());
    expect([r.map.size, r.map.liveCount, r.map.tombstoneCount, r.map.storedBytes]).toEqual([
      first.map.size,
      first.map.liveCount,
      first.map.tombstoneCount,
      first.map.storedBytes,
    ]);
    for (const [key, s] of first.map.entries()) expect(keyStateEquals(r.map.get(key) ?? EMPTY_KEY, s)).toBe(true);
    expect(counterEquals(r.counter, first.counter)).toBe(true);
    expect(counterValue(r.counter)).toBe(counterTotal);
  }
  for (const [key, keyOps] of ops) {
    const last = keyOps[keyOps.length - 1];
    if (last === undefined || !last.sawAll) continue;
    // The last operation of the key, made having seen every earlier one, decides it everywhere.
    const shown = visible(first.map.get(key) ?? EMPTY_KEY);
    if (last.kind === 'delete') expect(shown).toBeUndefined();
    else expect(shown?.value).toEqual(last.value);
  }
  for (const r of replicas) checkKills(r);
  return replicas;
}

describe('model: 5 replicas, random operations and merges', () => {
  it('converge to one state that honours the last informed operation of every key', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 10, maxLength: 80, size: 'max' }), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: N, maxLength: N }), (cmds, skews) => {
        run(cmds, skews);
      }),
      { numRuns: 1_500 },
    );
  });

  it('a seeded scenario: an update racing a delete that saw its base loses everywhere', () => {
    const replicas = run(
      [
        { op: 'set', r: 0, key: 0, value: 1 },
        { op: 'merge', from: 0, to: 1 },
        { op: 'tick', ms: 1 },
        { op: 'update', r: 1, key: 0, value: 2 }, // based on replica 0's set
        { op: 'delete', r: 0, key: 0, value: 0 }, // saw the set, not the update
        { op: 'merge', from: 1, to: 2 },
        { op: 'merge', from: 0, to: 2 },
      ],
      [0, 0, 0, 0, 0],
    );
    for (const i of [0, 1, 2]) expect(replicas[i]!.map.liveCount).toBe(0);
  });
});
