import { describe, expect, it } from 'vitest';
import { canonicalDump, compareVersions, judge, type Dump, type DumpEntry, type OpRecord, type Version } from './state-check-verdict.js';

const v = (t: number, replica = 'r1'): Version => ({ t, replica });
let clock = 1_000;
/** An operation with defaults: acked, on s1, a fresh time. */
const op = (fields: Partial<OpRecord> & Pick<OpRecord, 'id' | 'op'>): OpRecord => {
  clock += 10;
  return { node: 's1', start: clock, end: clock + 5, outcome: 'acked', ...fields };
};
const entry = (key: string, value: string, version: Version): DumpEntry => ({ key, value, version, writer: 'http://a/', time: 1 });
const dump = (entries: DumpEntry[], counter = 0): Dump => ({ size: entries.length, counter, entries });
/** Five replicas holding the same dump. */
const everywhere = (d: Dump): Map<string, Dump | string> => new Map(['s1', 's2', 's3', 's4', 's5'].map((n) => [n, d]));

describe('compareVersions', () => {
  it('orders by t, then by replica', () => {
    expect(compareVersions(v(1), v(2))).toBeLessThan(0);
    expect(compareVersions(v(2, 'a'), v(2, 'b'))).toBeLessThan(0);
    expect(compareVersions(v(2, 'b'), v(2, 'a'))).toBeGreaterThan(0);
    expect(compareVersions(v(2, 'a'), v(2, 'a'))).toBe(0);
  });
});

describe('judge', () => {
  it('passes a clean history: the newest acked write holds each key, deleted keys are absent', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'b', op: 'update', key: 'k1', version: v(20), based: v(10) }),
      op({ id: 'c', op: 'create', key: 'k2', version: v(15), created: true }),
      op({ id: 'd', op: 'delete', key: 'k2', version: v(30), observed: v(15) }),
      op({ id: 'e', op: 'create', key: 'k1', version: v(20), created: false }),
      op({ id: 'i1', op: 'increment', by: 3 }),
      op({ id: 'i2', op: 'decrement', by: 1 }),
    ];
    const verdict = judge(history, everywhere(dump([entry('k1', 'b', v(20))], 2)));
    expect(verdict).toMatchObject({
      ackedWrites: 3, ackedDeletes: 1, ackedCounterOps: 2,
      lostAckedWrites: 0, resurrections: 0, valueMismatches: 0, blindDeletes: 0, counterViolations: 0, divergedReplicas: 0,
      counter: { lower: 2, upper: 2, final: 2 },
    });
    expect(verdict.details).toEqual([]);
  });

  it('flags an acked write whose key is absent with no delete that saw it', () => {
    const history = [op({ id: 'a', op: 'set', key: 'k1', version: v(10) })];
    const verdict = judge(history, everywhere(dump([])));
    expect(verdict.lostAckedWrites).toBe(1);
    expect(verdict.details[0]).toMatch(/^lost acked write: a set k1/);
  });

  it('flags an acked write replaced by an older version', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'b', op: 'set', key: 'k1', version: v(20) }),
    ];
    expect(judge(history, everywhere(dump([entry('k1', 'a', v(10))]))).lostAckedWrites).toBe(1);
  });

  it('excuses an absent key when any delete, even an unacknowledged one, observed the write', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', observed: v(10), outcome: 'indeterminate', code: 'WRITE_TIMEOUT' }),
    ];
    expect(judge(history, everywhere(dump([]))).lostAckedWrites).toBe(0);
  });

  it('does not excuse a write newer than what the delete observed (add-wins)', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'b', op: 'set', key: 'k1', version: v(20) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(25), observed: v(10) }),
    ];
    expect(judge(history, everywhere(dump([]))).lostAckedWrites).toBe(1);
  });

  it('excuses an update whose base a delete observed, even if the update is newer (the delete wins)', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'u', op: 'update', key: 'k1', version: v(30), based: v(10), node: 's2' }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: v(10) }),
    ];
    const verdict = judge(history, everywhere(dump([])));
    expect(verdict.lostAckedWrites).toBe(0);
    expect(verdict.resurrections).toBe(0);
  });

  it('ignores a delete that never reached the map, or found the key absent', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd1', op: 'delete', key: 'k1', outcome: 'failed', code: 'ECONNREFUSED' }),
      op({ id: 'd2', op: 'delete', key: 'k1', observed: null }),
    ];
    expect(judge(history, everywhere(dump([]))).lostAckedWrites).toBe(1);
  });

  it('flags a blind delete: one that removed something although the key was absent when called', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: null, node: 's4' }),
      op({ id: 'e', op: 'delete', key: 'k2', observed: null }),
    ];
    const verdict = judge(history, everywhere(dump([])));
    expect(verdict.blindDeletes).toBe(1);
    expect(verdict.lostAckedWrites).toBe(1);
    expect(verdict.details).toContainEqual(expect.stringMatching(/^blind delete: d delete k1 on s4/));
    expect(verdict.details).toContainEqual(expect.stringMatching(/^lost acked write: a .*; blind deletes of k1: d delete k1/));
  });

  it('flags a resurrection: a value an acked delete observed is back', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: v(10) }),
    ];
    const verdict = judge(history, everywhere(dump([entry('k1', 'a', v(10))])));
    expect(verdict.resurrections).toBe(1);
    expect(verdict.lostAckedWrites).toBe(0);
    expect(verdict.details[0]).toMatch(/^resurrection: k1/);
  });

  it('flags a resurrection of an older concurrent write the delete did not see but outranks', () => {
    const history = [
      op({ id: 'x', op: 'set', key: 'k1', version: v(5, 'skewed'), outcome: 'indeterminate', code: 'WRITE_TIMEOUT' }),
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: v(10) }),
    ];
    expect(judge(history, everywhere(dump([entry('k1', 'x', v(5, 'skewed'))]))).resurrections).toBe(1);
  });

  it('flags an update that won over an acked delete that had seen its base', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: v(10) }),
      op({ id: 'u', op: 'update', key: 'k1', version: v(30), based: v(10), outcome: 'indeterminate', code: 'WRITE_TIMEOUT' }),
    ];
    const verdict = judge(history, everywhere(dump([entry('k1', 'u', v(30))])));
    expect(verdict.resurrections).toBe(1);
    expect(verdict.details[0]).toMatch(/through an update based on a version/);
  });

  it('does not call a newer write after an acked delete a resurrection', () => {
    const history = [
      op({ id: 'a', op: 'set', key: 'k1', version: v(10) }),
      op({ id: 'd', op: 'delete', key: 'k1', version: v(20), observed: v(10) }),
      op({ id: 'c', op: 'create', key: 'k1', version: v(30), created: true }),
    ];
    const verdict = judge(history, everywhere(dump([entry('k1', 'c', v(30))])));
    expect(verdict.resurrections).toBe(0);
    expect(verdict.lostAckedWrites).toBe(0);
  });

  it('flags a counter outside [acked increments − attempted decrements, attempted increments − acked decrements]', () => {
    const history = [
      op({ id: 'i1', op: 'increment', by: 5 }),
      op({ id: 'i2', op: 'increment', by: 2, outcome: 'indeterminate', code: 'WRITE_TIMEOUT' }),
      op({ id: 'i3', op: 'increment', by: 100, outcome: 'failed', code: 'ECONNREFUSED' }),
      op({ id: 'd1', op: 'decrement', by: 1 }),
      op({ id: 'd2', op: 'decrement', by: 3, outcome: 'indeterminate' }),
    ];
    // lower = 5 − (1 + 3) = 1, upper = (5 + 2) − 1 = 6
    for (const [value, violations] of [[0, 5], [1, 0], [6, 0], [7, 5], [105, 5]] as const) {
      const verdict = judge(history, everywhere(dump([], value)));
      expect(verdict.counter).toMatchObject({ lower: 1, upper: 6 });
      expect(verdict.counterViolations, `counter ${value}`).toBe(violations);
    }
  });

  it('counts replicas that differ from the majority, or gave no dump', () => {
    const history = [op({ id: 'a', op: 'set', key: 'k1', version: v(10) })];
    const good = dump([entry('k1', 'a', v(10))]);
    const dumps = new Map<string, Dump | string>([['s1', good], ['s2', good], ['s3', good], ['s4', dump([])], ['s5', 'timed out']]);
    const verdict = judge(history, dumps);
    expect(verdict.divergedReplicas).toBe(2);
    expect(verdict.agreeing).toEqual(['s1', 's2', 's3']);
    expect(verdict.lostAckedWrites).toBe(0);
    expect(verdict.details.filter((d) => d.startsWith('diverged'))).toHaveLength(2);
  });

  it('flags a value that is not what its operation wrote', () => {
    const history = [op({ id: 'a', op: 'set', key: 'k1', version: v(10) })];
    expect(judge(history, everywhere(dump([entry('k1', 'a', v(11))]))).valueMismatches).toBe(1);
    expect(judge(history, everywhere(dump([entry('k1', 'zz', v(11))]))).valueMismatches).toBe(1);
    expect(judge(history, everywhere(dump([entry('k2', 'a', v(10)), entry('k1', 'a', v(10))]))).valueMismatches).toBe(1);
  });

  it('compares dumps regardless of entry order', () => {
    const a = entry('a', 'x', v(1));
    const b = entry('b', 'y', v(2));
    expect(canonicalDump(dump([a, b]))).toBe(canonicalDump(dump([b, a])));
    expect(canonicalDump(dump([a, b]))).not.toBe(canonicalDump(dump([a, b], 1)));
  });
});
