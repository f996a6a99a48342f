import { describe, expect, it } from 'vitest';
import { MapDigest, hashKeyState, leafOf } from './map-digest.js';
import { MapState } from './map-state.js';
import { type KeyState, deleteDelta, setDelta, updateDelta } from './register.js';
import type { Version } from './types.js';
import { jsonBytes } from './utf8.js';

const ver = (t: number, replica = 'a'): Version => ({ t, replica });
const set = (t: number, value: string) => setDelta(ver(t), value, jsonBytes(value));
const EMPTY_ROOT = '0:0000000000000000';

/** A digest rebuilt from scratch with the same rule as MapState's default (everything counts). */
function scratchRoot(m: MapState): string {
  const d = new MapDigest();
  for (const [k, s] of m.entries()) d.add(k, s);
  return d.root();
}

describe('MapState', () => {
  it('applies deltas, reporting before and after, and undefined when nothing changed', () => {
    const m = new MapState();
    const first = m.apply('k', set(1, 'a'));
    expect(first?.before).toBeUndefined();
    expect(first?.after.writes[0]?.value).toBe('a');
    expect(m.apply('k', set(1, 'a'))).toBeUndefined();
    expect(m.apply('k', set(0, 'older'))).toBeUndefined();
    const second = m.apply('k', set(2, 'b'));
    expect(second?.before).toBe(first?.after);
    expect(m.get('k')).toBe(second?.after);
    expect(m.apply('other', { writes: [] })).toBeUndefined();
    expect(m.get('other')).toBeUndefined();
    expect(m.size).toBe(1);
  });

  it('keeps counts and bytes in step through writes, deletes, rewrites and removal', () => {
    const m = new MapState();
    m.apply('ké', set(1, 'abc')); // key 3 bytes, value "abc" 5 bytes
    m.apply('x', set(1, 'v')); // 1 + 3
    expect([m.liveCount, m.tombstoneCount, m.storedBytes]).toEqual([2, 0, 3 + 5 + 1 + 3]);
    m.apply('ké', updateDelta(ver(2), ver(1), 'abcd', jsonBytes('abcd')));
    expect(m.storedBytes).toBe(3 + 6 + 1 + 3);
    m.apply('x', deleteDelta(m.get('x')!, ver(3))!);
    expect([m.liveCount, m.tombstoneCount, m.storedBytes]).toEqual([1, 1, 3 + 6 + 1]);
    m.apply('x', set(4, 'back'));
    expect([m.liveCount, m.tombstoneCount, m.storedBytes]).toEqual([2, 0, 3 + 6 + 1 + 6]);
    m.apply('x', deleteDelta(m.get('x')!, ver(5))!);
    expect(m.remove('x')?.writes).toEqual([]);
    expect(m.remove('x')).toBeUndefined();
    expect([m.size, m.liveCount, m.tombstoneCount, m.storedBytes]).toEqual([1, 1, 0, 3 + 6]);
    expect(m.digest.root()).toBe(scratchRoot(m));
    m.remove('ké');
    expect([m.size, m.storedBytes, m.digest.root()]).toEqual([0, 0, EMPTY_ROOT]);
  });

  it('remembers a tombstone for a key it never held (a late write stays dead)', () => {
    const m = new MapState();
    const tomb: KeyState = { writes: [], del: ver(5, 'b'), delAt: ver(6, 'b') };
    expect(m.apply('k', tomb)?.after).toEqual(tomb);
    expect(m.apply('k', set(5, 'late'))).toBeUndefined();
    expect(m.tombstoneCount).toBe(1);
  });

  it('lists the keys of a leaf', () => {
    const m = new MapState();
    for (let i = 0; i < 10_000; i++) m.apply(`k${i}`, set(1, 'v'));
    const leaf = leafOf('k123');
    const keys = m.leafEntries(leaf).map(([k]) => k);
    expect(keys).toContain('k123');
    expect(keys.every((k) => leafOf(k) === leaf)).toBe(true);
    expect(keys.length).toBe([...m.entries()].filter(([k]) => leafOf(k) === leaf).length);
    m.remove('k123');
    expect(m.leafEntries(leaf).map(([k]) => k)).not.toContain('k123');
    expect(m.leafEntries(-1)).toEqual([]);
  });

  describe('the young predicate', () => {
    it('leaves old tombstones out of the digest and hashes live keys without old delete info', () => {
      const young = new Set<string>(['t']);
      const m = new MapState({ young: (s) => young.has(String(s.writes[0]?.value ?? 't')) });
      m.apply('a', set(1, 'v'));
      const aloneRoot = m.digest.root();
      m.apply('b', set(1, 't'));
      m.apply('b', deleteDelta(m.get('b')!, ver(2))!);
      expect(m.inDigest('b')).toBe(true);
      expect(m.digest.count).toBe(2);
      young.clear();
      expect(m.refreshDigest('b')).toBe(true);
      expect(m.refreshDigest('b')).toBe(false);
      expect(m.inDigest('b')).toBe(false);
      expect(m.digest.root()).toBe(aloneRoot);
      expect(m.tombstoneCount).toBe(1);
      // A live key with an old delete hashes as if it had none.
      m.apply('b', set(3, 'w'));
      const other = new MapState();
      other.apply('a', set(1, 'v'));
      other.apply('b', set(3, 'w'));
      expect(m.digest.root()).toBe(other.digest.root());
      expect(m.refreshDigest('missing')).toBe(false);
    });

    it('is asked only about states with delete info', () => {
      const asked: KeyState[] = [];
      const m = new MapState({ young: (s) => (asked.push(s), true) });
      m.apply('a', set(1, 'v'));
      expect(asked).toEqual([]);
      m.apply('a', deleteDelta(m.get('a')!, ver(2))!);
      expect(asked).toHaveLength(1);
      expect(m.digest.root()).toBe(scratchRoot(m));
      const d = new MapDigest();
      d.addHash(leafOf('a'), hashKeyState('a', m.get('a')!, true));
      expect(m.digest.root()).toBe(d.root());
    });
  });
});
