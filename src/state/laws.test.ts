/**
 * The lattice laws of every state type, with fast-check: merge is
 * commutative, associative and idempotent, a sequence of op deltas applied
 * one by one equals the merge of the states built from them in any grouping,
 * and the codec round-trips. Small arbitraries (3 replicas, times 0-8, a few
 * values) so that equal versions, duplicates and ties happen often.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCounter, decodeKeyState, decodeKeyStates, encodeCounter, encodeKeyState, encodeKeyStates } from './codec.js';
import { type CounterState, counterEquals, decrementDelta, incrementDelta, mergeCounter } from './counter-state.js';
import { MapDigest } from './map-digest.js';
import { MapState } from './map-state.js';
import { EMPTY_KEY, type KeyState, type Write, deleteDelta, keyStateEquals, mergeKey, normalise, setDelta, updateDelta, visible } from './register.js';
import type { JsonValue, Version } from './types.js';
import { jsonBytes } from './utf8.js';

const RUNS = { numRuns: 10_000 };
const REPLICAS = ['a', 'b', 'c'] as const;
const KEYS = ['k1', 'k2', 'k3'] as const;

const versionArb: fc.Arbitrary<Version> = fc.record({ t: fc.integer({ min: 0, max: 8 }), replica: fc.constantFrom(...REPLICAS) });
const valueArb: fc.Arbitrary<JsonValue> = fc.constantFrom<JsonValue>(0, 1, 'x', 'ÿ', null, [1], { a: 1 });

const writeArb: fc.Arbitrary<Write> = fc
  .tuple(versionArb, fc.option(versionArb, { nil: undefined }), valueArb)
  .map(([v, base, value]) => (base === undefined ? { v, value, bytes: jsonBytes(value) } : { v, base, value, bytes: jsonBytes(value) }));

/** Any normalised key state (reachable or not: bases may even be newer than their write). */
const keyStateArb: fc.Arbitrary<KeyState> = fc
  .tuple(fc.array(writeArb, { maxLength: 4 }), fc.option(fc.tuple(versionArb, versionArb), { nil: undefined }))
  .map(([writes, d]) => (d === undefined ? { writes: normalise(writes) } : { writes: normalise(writes, d[0]), del: d[0], delAt: d[1] }));

/** An operation on one key, made against the state of the replica that makes it. */
type KeyOp = { kind: 'set' | 'update' | 'delete'; v: Version; value: JsonValue };
const keyOpArb: fc.Arbitrary<KeyOp> = fc.record({ kind: fc.constantFrom('set', 'update', 'delete'), v: versionArb, value: valueArb });

/** The delta of `op` made on a replica holding `current` (undefined: no delta, e.g. deleting an absent key). */
function opDelta(current: KeyState, op: KeyOp): KeyState | undefined {
  const seen = visible(current);
  if (op.kind === 'set') return setDelta(op.v, op.value, jsonBytes(op.value));
  if (op.kind === 'update') return seen === undefined ? undefined : updateDelta(op.v, seen.v, op.value, jsonBytes(op.value));
  return deleteDelta(current, op.v);
}

/** Deltas of a sequence of ops made one after the other on one replica, and the state they build. */
function runOps(ops: readonly KeyOp[]): { deltas: KeyState[]; state: KeyState } {
  let state: KeyState = EMPTY_KEY;
  const deltas: KeyState[] = [];
  for (const op of ops) {
    const d = opDelta(state, op);
    if (d === undefined) continue;
    deltas.push(d);
    state = mergeKey(state, d);
  }
  return { deltas, state };
}

/** A grouping of n items into 4 groups (any membership), and an order of the groups. */
const groupingArb = (n: number) =>
  fc.tuple(fc.array(fc.nat(3), { minLength: n, maxLength: n }), fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }));

/** Folds `items` per group with `merge`, then merges the groups' results in `order`. */
function regroup<S>(items: readonly S[], groups: readonly number[], order: readonly number[], empty: S, merge: (a: S, b: S) => S): S {
  const built = [empty, empty, empty, empty];
  items.forEach((x, i) => (built[groups[i]!] = merge(built[groups[i]!]!, x)));
  return order.reduce((acc, g) => merge(acc, built[g]!), empty);
}

describe('key state', () => {
  const eq = (a: KeyState, b: KeyState): void => {
    expect(keyStateEquals(a, b), JSON.stringify([a, b])).toBe(true);
  };

  it('merge is commutative', () => {
    fc.assert(fc.property(keyStateArb, keyStateArb, (a, b) => eq(mergeKey(a, b), mergeKey(b, a))), RUNS);
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(keyStateArb, keyStateArb, keyStateArb, (a, b, c) => eq(mergeKey(mergeKey(a, b), c), mergeKey(a, mergeKey(b, c)))),
      RUNS,
    );
  });

  it('merge is idempotent, and returns the state itself when nothing changes', () => {
    fc.assert(
      fc.property(keyStateArb, keyStateArb, (a, b) => {
        expect(mergeKey(a, a)).toBe(a);
        const ab = mergeKey(a, b);
        expect(mergeKey(ab, b)).toBe(ab);
        expect(mergeKey(ab, a)).toBe(ab);
      }),
      RUNS,
    );
  });

  it('op deltas applied one by one equal their merge in any grouping', () => {
    const arb = fc.array(keyOpArb, { maxLength: 8 }).chain((ops) => {
      const { deltas, state } = runOps(ops);
      return fc.tuple(fc.constant(deltas), fc.constant(state), groupingArb(deltas.length));
    });
    fc.assert(
      fc.property(arb, ([deltas, state, [groups, order]]) => eq(regroup(deltas, groups, order, EMPTY_KEY as KeyState, mergeKey), state)),
      RUNS,
    );
  });

  it('codec round-trips (batch and single, through JSON text)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...KEYS), keyStateArb), { maxLength: 3 }), (items) => {
        const unique = [...new Map(items)];
        const limits = { maxItems: 10, maxKeyBytes: 10, maxValueBytes: 100 };
        expect(decodeKeyStates(JSON.parse(JSON.stringify(encodeKeyStates(unique))), limits)).toEqual(unique);
        for (const [, s] of unique) expect(decodeKeyState(JSON.parse(JSON.stringify(encodeKeyState(s))), limits)).toEqual(s);
      }),
      RUNS,
    );
  });
});

type MapOp = KeyOp & { key: string };
const mapOpArb: fc.Arbitrary<MapOp> = fc.tuple(keyOpArb, fc.constantFrom(...KEYS)).map(([op, key]) => ({ ...op, key }));

/** A map state built from key states, as a list (MapState is mutable; each law builds fresh ones). */
const mapItemsArb = fc.array(fc.tuple(fc.constantFrom(...KEYS), keyStateArb), { maxLength: 5 });
type Items = ReadonlyArray<readonly [string, KeyState]>;

function build(...parts: Items[]): MapState {
  const m = new MapState();
  for (const items of parts) for (const [key, s] of items) m.apply(key, s);
  return m;
}

/** What differs between two maps (content, counts, bytes, digests), or "" if nothing. */
function mapDifference(a: MapState, b: MapState): string {
  for (const [k] of a.entries()) if (b.get(k) === undefined) return `key ${k} only in the first`;
  for (const [k, s] of b.entries()) if (!keyStateEquals(a.get(k) ?? EMPTY_KEY, s)) return `key ${k} differs`;
  const sa = [a.size, a.liveCount, a.tombstoneCount, a.storedBytes].join();
  const sb = [b.size, b.liveCount, b.tombstoneCount, b.storedBytes].join();
  if (sa !== sb) return `counts ${sa} vs ${sb}`;
  if (a.digest.root() !== b.digest.root()) return 'digest roots differ';
  return '';
}

/** Asserts equal maps, and that `a`'s incremental digest equals one made from scratch. */
function expectSameMap(a: MapState, b: MapState): void {
  let diff = mapDifference(a, b);
  if (diff === '') {
    const scratch = new MapDigest();
    for (const [k, s] of a.entries()) scratch.add(k, s);
    if (scratch.root() !== a.digest.root() || scratch.level1().join() !== a.digest.level1().join()) diff = 'incremental digest differs from scratch';
  }
  if (diff !== '') expect.fail(`${diff}: ${JSON.stringify([[...a.entries()], [...b.entries()]])}`);
}

describe('map state', () => {
  it('merge is commutative', () => {
    fc.assert(fc.property(mapItemsArb, mapItemsArb, (a, b) => expectSameMap(build(a, b), build(b, a))), RUNS);
  });

  it('merge is associative', () => {
    // Key by key, (a ⊔ b) ⊔ c applies a, b, c in order; a ⊔ (b ⊔ c) applies b ⊔ c's merged states to a.
    fc.assert(
      fc.property(mapItemsArb, mapItemsArb, mapItemsArb, (a, b, c) => {
        const bc = [...build(b, c).entries()];
        expectSameMap(build(a, b, c), build(a, bc));
      }),
      RUNS,
    );
  });

  it('merge is idempotent: applying a map to itself changes nothing', () => {
    fc.assert(
      fc.property(mapItemsArb, mapItemsArb, (a, b) => {
        const m = build(a, b);
        const root = m.digest.root();
        for (const [k, s] of [...m.entries()]) expect(m.apply(k, s)).toBeUndefined();
        for (const [k, s] of b) expect(m.apply(k, s)).toBeUndefined();
        expect(m.digest.root()).toBe(root);
      }),
      RUNS,
    );
  });

  it('op deltas applied one by one equal their merge in any grouping', () => {
    const arb = fc.array(mapOpArb, { maxLength: 10 }).chain((ops) => {
      const m = new MapState();
      const deltas: Array<readonly [string, KeyState]> = [];
      for (const op of ops) {
        const d = opDelta(m.get(op.key) ?? EMPTY_KEY, op);
        if (d === undefined) continue;
        deltas.push([op.key, d]);
        m.apply(op.key, d);
      }
      return fc.tuple(fc.constant(deltas), fc.constant(m), groupingArb(deltas.length));
    });
    fc.assert(
      fc.property(arb, ([deltas, m, [groups, order]]) => {
        const parts: Items[] = [[], [], [], []];
        deltas.forEach((d, i) => (parts[groups[i]!] as Array<readonly [string, KeyState]>).push(d));
        const built = parts.map((p) => [...build(p).entries()]);
        expectSameMap(build(...order.map((g) => built[g]!)), m);
      }),
      RUNS,
    );
  });

  it('codec round-trips a whole map', () => {
    fc.assert(
      fc.property(mapItemsArb, (a) => {
        const m = build(a);
        const limits = { maxItems: 10, maxKeyBytes: 10, maxValueBytes: 100 };
        expectSameMap(build(decodeKeyStates(JSON.parse(JSON.stringify(encodeKeyStates(m.entries()))), limits)), m);
      }),
      RUNS,
    );
  });
});

const counterArb: fc.Arbitrary<CounterState> = fc
  .array(fc.tuple(fc.constantFrom(...REPLICAS), fc.nat(5), fc.nat(5)), { maxLength: 3 })
  .map((xs) => new Map(xs.map(([r, p, n]) => [r, { p, n }])));

type CounterOp = { replica: string; by: number; up: boolean };
const counterOpArb: fc.Arbitrary<CounterOp> = fc.record({ replica: fc.constantFrom(...REPLICAS), by: fc.integer({ min: 1, max: 3 }), up: fc.boolean() });

describe('counter', () => {
  const eq = (a: CounterState, b: CounterState): void => {
    expect(counterEquals(a, b), JSON.stringify([[...a], [...b]])).toBe(true);
  };

  it('merge is commutative', () => {
    fc.assert(fc.property(counterArb, counterArb, (a, b) => eq(mergeCounter(a, b), mergeCounter(b, a))), RUNS);
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(counterArb, counterArb, counterArb, (a, b, c) => eq(mergeCounter(mergeCounter(a, b), c), mergeCounter(a, mergeCounter(b, c)))),
      RUNS,
    );
  });

  it('merge is idempotent, and returns the state itself when nothing changes', () => {
    fc.assert(
      fc.property(counterArb, counterArb, (a, b) => {
        expect(mergeCounter(a, a)).toBe(a);
        const ab = mergeCounter(a, b);
        expect(mergeCounter(ab, b)).toBe(ab);
        expect(mergeCounter(ab, a)).toBe(ab);
      }),
      RUNS,
    );
  });

  it('op deltas applied one by one equal their merge in any grouping', () => {
    const arb = fc.array(counterOpArb, { maxLength: 8 }).chain((ops) => {
      let state: CounterState = new Map();
      const deltas: CounterState[] = [];
      for (const { replica, by, up } of ops) {
        const d = (up ? incrementDelta : decrementDelta)(state, replica, by);
        deltas.push(d);
        state = mergeCounter(state, d);
      }
      return fc.tuple(fc.constant(deltas), fc.constant(state), groupingArb(deltas.length));
    });
    fc.assert(
      fc.property(arb, ([deltas, state, [groups, order]]) => eq(regroup(deltas, groups, order, new Map() as CounterState, mergeCounter), state)),
      RUNS,
    );
  });

  it('codec round-trips (through JSON text)', () => {
    fc.assert(
      fc.property(counterArb, (a) => eq(decodeCounter(JSON.parse(JSON.stringify(encodeCounter(a))), { maxReplicas: 3 }), a)),
      RUNS,
    );
  });
});
