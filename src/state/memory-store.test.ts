/**
 * The StateStore contract, run against memoryStateStore and the file store
 * (so that the simulator's store behaves like the real one), plus what is
 * particular to the memory store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileStateStore } from './file-store.js';
import { memoryStateStore, type StateStore, type StoredMeta, type StoredRecord } from './store.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fileStore(): Promise<StateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'shazbot-store-'));
  const store = await openFileStateStore(dir, { sync: 'none' });
  cleanups.push(() => rm(dir, { recursive: true, force: true }), () => store.close());
  return store;
}

const meta = (hlc: number): StoredMeta => ({ replica: 'http://a:1#x', hlc, savedAt: hlc });
const key = (map: string, k: string, state: unknown): StoredRecord => ({ type: 'key', map, key: k, state });
const counter = (name: string, state: unknown): StoredRecord => ({ type: 'counter', name, state });
const sorted = (records: readonly StoredRecord[] | undefined) =>
  [...(records ?? [])].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe.each([
  ['memoryStateStore', async () => memoryStateStore()],
  ['openFileStateStore', fileStore],
])('StateStore contract: %s', (_name, make: () => Promise<StateStore>) => {
  it('is empty at first', async () => {
    const store = await make();
    expect(await store.load()).toBeUndefined();
    expect(store.logBytes).toBe(0);
    await store.append(meta(1), []);
    expect(await store.load()).toEqual({ meta: meta(1), records: [] });
  });

  it('keeps the last record per identity; null removes', async () => {
    const store = await make();
    await store.append(meta(1), [key('m', 'a', 1), key('n', 'a', 'n'), counter('a', 1), counter('b', 1)]);
    await store.append(meta(2), [key('m', 'a', { v: 2 }), counter('b', null), key('n', 'a', null), key('n', 'a', 'again')]);
    const loaded = await store.load();
    expect(loaded?.meta).toEqual(meta(2));
    expect(sorted(loaded?.records)).toEqual(sorted([key('m', 'a', { v: 2 }), key('n', 'a', 'again'), counter('a', 1)]));
  });

  it('copies what it is given at call time, and strips unknown fields', async () => {
    const store = await make();
    const state = { list: [1] };
    const record = { ...key('m', 'a', state), extra: 'dropped' };
    const written = store.append(meta(1), [record]);
    state.list.push(2);
    await written;
    expect((await store.load())?.records).toEqual([key('m', 'a', { list: [1] })]);
  });

  it('compaction replaces everything; later appends apply on top', async () => {
    const store = await make();
    await store.append(meta(1), [key('m', 'a', 1), key('m', 'b', 1)]);
    const before = store.logBytes;
    expect(before).toBeGreaterThan(0);
    await store.compact(meta(2), new Set([key('m', 'b', 2), key('m', 'c', null), counter('n', 3)]));
    expect(store.logBytes).toBe(0);
    await store.append(meta(3), [key('m', 'b', null), key('m', 'd', 4)]);
    expect(store.logBytes).toBeGreaterThan(0);
    const loaded = await store.load();
    expect(loaded?.meta).toEqual(meta(3));
    expect(sorted(loaded?.records)).toEqual(sorted([counter('n', 3), key('m', 'd', 4)]));
  });

  it('rejects malformed metas and records', async () => {
    const store = await make();
    await expect(store.append({ replica: 1 } as unknown as StoredMeta, [])).rejects.toBeInstanceOf(TypeError);
    await expect(store.append(meta(1), [key('m', 'a', undefined)])).rejects.toBeInstanceOf(TypeError);
    await expect(store.compact(meta(1), [{ type: 'nope' } as unknown as StoredRecord])).rejects.toBeInstanceOf(TypeError);
    expect(await store.load()).toBeUndefined();
  });
});

describe('memoryStateStore', () => {
  it('stays usable after close, like a directory a restarted replica reopens', async () => {
    const store = memoryStateStore();
    await store.append(meta(1), [key('m', 'a', 1)]);
    await store.close();
    await store.close();
    expect((await store.load())?.records).toEqual([key('m', 'a', 1)]);
    await store.append(meta(2), [key('m', 'b', 2)]);
    expect((await store.load())?.records).toHaveLength(2);
  });
});
