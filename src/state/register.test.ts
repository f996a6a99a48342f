import { describe, expect, it } from 'vitest';
import {
  EMPTY_KEY,
  type KeyState,
  type Write,
  deleteDelta,
  isKilled,
  isTombstone,
  keyStateEquals,
  mergeKey,
  normalise,
  setDelta,
  storedBytes,
  updateDelta,
  visible,
} from './register.js';
import type { Version } from './types.js';
import { jsonBytes } from './utf8.js';

const ver = (t: number, replica = 'a'): Version => ({ t, replica });
const set = (t: number, value: unknown = `s${t}`, replica = 'a'): Write => ({ v: ver(t, replica), value: value as never, bytes: jsonBytes(value as never) });
const upd = (t: number, baseT: number, value: unknown = `u${t}`, replica = 'a'): Write => ({
  v: ver(t, replica),
  base: ver(baseT, 'a'),
  value: value as never,
  bytes: jsonBytes(value as never),
});
/** A delete that observed `seen` and happened at `at`. */
const del = (seen: number, at: number, replica = 'a'): KeyState => ({ writes: [], del: ver(seen, 'a'), delAt: ver(at, replica) });
const only = (w: Write): KeyState => ({ writes: [w] });
const mergeAll = (...xs: KeyState[]): KeyState => xs.reduce((a, b) => mergeKey(a, b), EMPTY_KEY as KeyState);
const versionsOf = (s: KeyState): number[] => s.writes.map((w) => w.v.t);

describe('kill rule', () => {
  const cases: Array<[string, Write, Version | undefined, boolean]> = [
    ['no delete', set(5), undefined, false],
    ['set seen by the delete', set(5), ver(5), true],
    ['set newer than what the delete saw', set(5), ver(4), false],
    ['same time, delete saw a smaller replica', set(5, 'x', 'b'), ver(5, 'a'), false],
    ['same time, delete saw a greater replica', set(5, 'x', 'a'), ver(5, 'b'), true],
    ['update whose base the delete saw, update newer', upd(7, 2), ver(3), true],
    ['update whose base is exactly what the delete saw', upd(7, 2), ver(2), true],
    ['update whose base the delete did not see', upd(7, 2), ver(1), false],
  ];
  for (const [name, w, d, killed] of cases) {
    it(name, () => {
      expect(isKilled(w, d)).toBe(killed);
      expect(normalise([w], d).length).toBe(killed ? 0 : 1);
    });
  }
});

describe('dominance', () => {
  const cases: Array<[string, Write[], number[]]> = [
    ['a newer set drops an older set', [set(5), set(7)], [7]],
    ['an older set survives a newer update of an older base', [set(5), upd(7, 2)], [5, 7]],
    ['an update of the set it read dominates it', [set(5), upd(9, 5)], [9]],
    ['a newer set dominates an update', [upd(7, 2), set(9)], [9]],
    ['an update of an older base does not dominate a newer-based one', [upd(7, 6), upd(9, 3)], [7, 9]],
    ['input order does not matter', [upd(9, 3), set(1), upd(7, 6), set(5)], [7, 9]],
  ];
  for (const [name, writes, expected] of cases) {
    it(name, () => {
      const n = normalise(writes);
      expect(versionsOf({ writes: n })).toEqual(expected);
      expect(visible({ writes: n })?.v.t).toBe(expected[expected.length - 1]);
    });
  }

  it('frontier thresholds strictly decrease as versions increase', () => {
    const n = normalise([set(5), upd(7, 4), upd(8, 3), upd(9, 3), set(2)]);
    expect(versionsOf({ writes: n })).toEqual([5, 7, 9]);
  });
});

describe('scenarios', () => {
  it('a delete then a late update of the version it saw: stays deleted, whatever the order', () => {
    const s = only(set(5));
    const d = deleteDelta(s, ver(6))!;
    const u = updateDelta(ver(7, 'b'), ver(5), 'late', 6);
    for (const order of [[s, d, u], [s, u, d], [u, d, s], [d, u, s]]) {
      const r = mergeAll(...order);
      expect(visible(r)).toBeUndefined();
      expect(isTombstone(r)).toBe(true);
    }
  });

  it('a set after a delete: the new write survives', () => {
    const s = only(set(5));
    const t = mergeAll(s, deleteDelta(s, ver(6))!);
    expect(isTombstone(t)).toBe(true);
    const r = mergeKey(t, setDelta(ver(8), 'again', 7));
    expect(visible(r)?.value).toBe('again');
    expect(r.del).toEqual(ver(5));
  });

  it('a set concurrent with a delete survives (add-wins), even if older than the delete', () => {
    const s = only(set(5));
    const d = deleteDelta(s, ver(9))!; // saw @5, happened @9
    const concurrent = setDelta(ver(7, 'b'), 'mine', 6); // not seen by the delete
    expect(visible(mergeAll(s, d, concurrent))?.value).toBe('mine');
    expect(visible(mergeAll(concurrent, d, s))?.value).toBe('mine');
  });

  it('an update based on a version the delete did not see survives', () => {
    const s = only(set(5));
    const s2 = setDelta(ver(6, 'b'), 'b6', 4);
    const d = deleteDelta(s, ver(7))!; // saw only @5
    const u = updateDelta(ver(8, 'b'), ver(6, 'b'), 'b8', 4);
    expect(visible(mergeAll(s, s2, d, u))?.value).toBe('b8');
  });

  it('a delete of an absent key is no delta; a delete observes the newest write', () => {
    expect(deleteDelta(EMPTY_KEY, ver(1))).toBeUndefined();
    expect(deleteDelta(mergeAll(only(set(5)), del(5, 6)), ver(7))).toBeUndefined();
    const s = mergeAll(only(set(5)), only(upd(7, 2)));
    expect(deleteDelta(s, ver(9))).toEqual({ writes: [], del: ver(7), delAt: ver(9) });
  });
});

describe('why the pairwise rule was rejected', () => {
  // The rejected rule: an update loses to a delete newer than its base, anything else is last-writer-wins.
  type Op = { kind: 'set' | 'update' | 'delete'; t: number; base?: number };
  const pairwise = (x: Op, y: Op): Op => {
    const [d, w] = x.kind === 'delete' ? [x, y] : [y, x];
    if (d.kind === 'delete' && w.kind === 'update' && d.t > w.base!) return d;
    return x.t >= y.t ? x : y;
  };
  const S: Op = { kind: 'set', t: 5 };
  const D: Op = { kind: 'delete', t: 3 };
  const U: Op = { kind: 'update', t: 7, base: 2 };

  it('is not associative: S@5, D@3, U@7 (base 2) form a cycle', () => {
    expect(pairwise(S, D)).toBe(S);
    expect(pairwise(D, U)).toBe(D);
    expect(pairwise(U, S)).toBe(U);
    expect(pairwise(pairwise(S, D), U)).not.toBe(pairwise(S, pairwise(D, U)));
  });

  it('the chosen rule resolves the same three operations identically in every order and grouping', () => {
    const s = only(set(5));
    const d: KeyState = { writes: [], del: ver(3), delAt: ver(3) };
    const u = only(upd(7, 2));
    const xs = [s, d, u];
    const results: KeyState[] = [];
    for (const [i, j, k] of [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] as const) {
      results.push(mergeKey(mergeKey(xs[i]!, xs[j]!), xs[k]!));
      results.push(mergeKey(xs[i]!, mergeKey(xs[j]!, xs[k]!)));
    }
    for (const r of results) {
      expect(keyStateEquals(r, results[0]!)).toBe(true);
      expect(versionsOf(r)).toEqual([5]); // U is killed (the delete saw its base), S survives
    }
  });
});

describe('mergeKey', () => {
  it('returns the first argument itself when nothing changes', () => {
    const a = mergeAll(only(set(5)), only(upd(7, 2)), del(1, 4));
    expect(mergeKey(a, a)).toBe(a);
    expect(mergeKey(a, only(set(3)))).toBe(a); // dominated
    expect(mergeKey(a, del(1, 2))).toBe(a); // an older delete
    expect(mergeKey(a, { writes: [{ ...a.writes[0]!, bytes: 999 }] })).toBe(a); // an equal write, another object
    expect(mergeKey(a, only(set(8)))).not.toBe(a);
  });

  it('keeps the same write for a version however the duplicates arrive', () => {
    const x = only(set(5, 'apple'));
    const y = only(set(5, 'pear'));
    expect(visible(mergeKey(x, y))?.value).toBe('pear');
    expect(visible(mergeKey(y, x))?.value).toBe('pear');
    // A set and a forged update with the same version: the set (higher threshold) is kept.
    const z = only(upd(5, 1, 'zzz'));
    expect(mergeKey(x, z).writes[0]!.base).toBeUndefined();
    expect(mergeKey(z, x).writes[0]!.base).toBeUndefined();
  });

  it('takes the maximum del and delAt independently', () => {
    const r = mergeKey(del(5, 9), del(7, 8));
    expect(r).toEqual({ writes: [], del: ver(7), delAt: ver(9) });
  });

  it('EMPTY_KEY is frozen', () => {
    expect(Object.isFrozen(EMPTY_KEY)).toBe(true);
    expect(Object.isFrozen(EMPTY_KEY.writes)).toBe(true);
  });
});

describe('equality and bytes', () => {
  it('keyStateEquals compares values, versions and deletes, not bytes', () => {
    expect(keyStateEquals(only(set(5, { a: 1, b: 2 })), only({ ...set(5, { b: 2, a: 1 }), bytes: 1 }))).toBe(true);
    expect(keyStateEquals(only(set(5, 1)), only(set(5, 2)))).toBe(false);
    expect(keyStateEquals(only(set(5)), only(set(6)))).toBe(false);
    expect(keyStateEquals(del(5, 6), del(5, 7))).toBe(false);
    expect(keyStateEquals(only(upd(7, 2)), only({ ...upd(7, 2), base: ver(3) }))).toBe(false);
  });

  it('storedBytes sums the bytes of the writes', () => {
    const s = mergeAll(only(set(5, 'héllo')), only(upd(7, 2, [1, 2])));
    expect(storedBytes(s)).toBe(8 + 5);
    expect(storedBytes(del(1, 2))).toBe(0);
  });
});
