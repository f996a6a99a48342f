/** The replicated state's rules end to end, on virtual time (src/state/test-replicas.ts). */
import { describe, expect, it } from 'vitest';
import { bench } from './test-replicas.js';
import { memoryStateStore } from './store.js';
import type { StateMap } from './types.js';

/** The contents of a map, as sorted [key, value] pairs. */
const dump = (m: StateMap): Array<[string, unknown]> => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

describe('replicated state', () => {
  it('a write on one replica reaches the others, and all become ready', async () => {
    const b = bench(3);
    const rs = [0, 1, 2].map((i) => b.start(i));
    await b.run(100);
    expect(rs.every((r) => r.ready())).toBe(true);
    const maps = rs.map((r) => r.map('kv'));
    const res = await maps[0]!.set('a', { n: 1 });
    expect(res.version?.replica.startsWith(b.url(0))).toBe(true);
    await b.run(100);
    for (const m of maps) expect(m.get('a')).toEqual({ n: 1 });
    expect(maps[2]!.getEntry('a')?.writer).toBe(b.url(0));
  });

  it('concurrent conflicting writes converge to one value everywhere', async () => {
    const b = bench(3, 7);
    const rs = [0, 1, 2].map((i) => b.start(i));
    await b.run(100);
    const maps = rs.map((r) => r.map('kv'));
    await maps[0]!.set('k', 0);
    await b.run(100);
    b.partition([0], [1, 2]);
    await Promise.all([maps[0]!.update('k', () => 'from-0'), maps[1]!.update('k', () => 'from-1')]);
    await b.run(50);
    b.heal();
    await b.run(5_000);
    const values = maps.map((m) => m.get('k'));
    expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(1);
    expect(['from-0', 'from-1']).toContain(values[0]);
  });

  it('a delete wins over a late update from a replica that had not seen it', async () => {
    const b = bench(3, 3);
    const rs = [0, 1, 2].map((i) => b.start(i));
    await b.run(100);
    const maps = rs.map((r) => r.map('todos'));
    await maps[0]!.set('t1', { text: 'x' });
    await b.run(100);
    b.partition([2], [0, 1]);
    await maps[0]!.delete('t1');
    await b.clock.advance(10); // the partitioned update is newer than the delete
    await maps[2]!.update('t1', (t) => ({ ...(t as object), done: true }));
    b.heal();
    await b.run(5_000);
    for (const m of maps) expect(m.has('t1')).toBe(false);
    // set after a delete is a new write
    await maps[1]!.set('t1', { text: 'again' });
    await b.run(200);
    for (const m of maps) expect(m.get('t1')).toEqual({ text: 'again' });
  });

  it('majority writes gather acknowledgements; cut off, they time out and are not rolled back', async () => {
    const b = bench(5, 5);
    const rs = [0, 1, 2, 3, 4].map((i) => b.start(i));
    await b.run(100);
    const m0 = rs[0]!.map('kv');
    const majority = m0.set('a', 1, { consistency: 'majority' });
    const all = m0.set('b', 1, { consistency: 'all' });
    await b.run(100);
    expect((await majority).acks).toBeGreaterThanOrEqual(3);
    expect((await all).acks).toBe(5);
    // Peers listed up but unreachable (as before suspicion): the write cannot gather 3 acknowledgements.
    b.isolate(0);
    const outcome = m0.set('c', 1, { consistency: 'majority', timeoutMs: 300 }).then(() => 'resolved', (e: unknown) => e);
    await b.run(400);
    expect(await outcome).toMatchObject({ code: 'WRITE_TIMEOUT', status: 503, acks: 1, needed: 3 });
    expect(m0.get('c')).toBe(1); // not rolled back
    b.heal();
    await b.run(20_000); // anti-entropy brings it (a digest every 5 s)
    expect(rs[4]!.map('kv').get('c')).toBe(1);
    // A minority that no longer lists the others up still counts them: it cannot acknowledge a majority write.
    b.partition([0, 1], [2, 3, 4]);
    const minority = m0.set('d', 1, { consistency: 'majority', timeoutMs: 300 }).then(() => 'resolved', (e: unknown) => e);
    const majoritySide = rs[2]!.map('kv').set('e', 1, { consistency: 'majority', timeoutMs: 300 });
    await b.run(400);
    expect(await minority).toMatchObject({ code: 'WRITE_TIMEOUT', acks: 2, needed: 3 });
    expect((await majoritySide).acks).toBe(3);
  });

  it('a new replica syncs a large map in chunks from several peers before it is ready', async () => {
    const b = bench(4, 11);
    const rs = [0, 1, 2].map((i) => b.start(i));
    await b.run(100);
    const m0 = rs[0]!.map('big', { maxKeys: 10_000 });
    for (let i = 0; i < 3_000; i++) await m0.set(`k${i}`, 'v'.repeat(200));
    await b.run(10_000);
    expect(rs[2]!.map('big').size).toBe(3_000);
    const late = b.start(3);
    expect(late.ready()).toBe(false);
    await b.run(3_000);
    expect(late.ready()).toBe(true);
    expect(late.joiner.stats.chunks).toBeGreaterThan(2);
    expect(late.joiner.stats.outcome).toBe('synced');
    expect(dump(late.map('big'))).toEqual(dump(m0));
  });

  it('a restart with its store keeps its identity and data; without, it is a new replica', async () => {
    const b = bench(2, 13);
    const store = memoryStateStore();
    const r0 = b.start(0, { store });
    b.start(1);
    await b.run(100);
    await r0.map('kv').set('x', 1);
    const c = r0.counter('hits');
    await c.increment(5);
    const identity = r0.replica;
    await b.kill(0);
    const again = b.start(0, { store });
    await b.run(2_000);
    expect(again.replica).toBe(identity);
    expect(again.map('kv').get('x')).toBe(1);
    expect(again.counter('hits').value()).toBe(5);
    await b.kill(0);
    const fresh = b.start(0);
    await b.run(2_000);
    expect(fresh.replica).not.toBe(identity);
    expect(fresh.map('kv').get('x')).toBe(1); // synced back from replica 1
    expect(fresh.counter('hits').value()).toBe(5);
    await fresh.counter('hits').increment(1);
    await b.run(500);
    expect(b.replicas[1]!.counter('hits').value()).toBe(6);
  });

  it('join sync resumes an interrupted range with another peer', async () => {
    const b = bench(4, 31);
    const rs = [0, 1, 2].map((i) => b.start(i, { settings: { chunkBytes: 16_384 } })); // small chunks: many per range
    await b.run(100);
    const m0 = rs[0]!.map('big', { maxKeys: 10_000 });
    for (let i = 0; i < 3_000; i++) await m0.set(`k${i}`, 'v'.repeat(200));
    await b.run(10_000);
    // Every holder drops off after serving two chunks: each range must move on, from where it stopped.
    for (const i of [0, 1, 2]) {
      const r = rs[i]!;
      const serve = r.onRequest.bind(r);
      let chunks = 0;
      r.onRequest = (section, from, kind) => {
        if (typeof section === 'object' && section !== null && (section as { op?: string }).op === 'chunk' && ++chunks > 2 && i !== 0) b.isolate(i);
        return serve(section, from, kind);
      };
    }
    const late = b.start(3);
    await b.run(5_000);
    expect(late.joiner.stats.failedChunks).toBeGreaterThan(0);
    expect(late.joiner.stats.outcome).toBe('synced');
    expect(dump(late.map('big'))).toEqual(dump(m0));
  });

  it('a replica restarted with its store syncs only what it missed, and pushes nothing it restored', async () => {
    const b = bench(3, 23);
    const store = memoryStateStore();
    const rs = [b.start(0, { store }), b.start(1), b.start(2)];
    await b.run(100);
    for (let i = 0; i < 1_000; i++) await rs[1]!.map('kv', { maxKeys: 5_000 }).set(`k${i}`, i);
    await b.run(5_000);
    expect(rs[0]!.map('kv').size).toBe(1_000);
    await b.kill(0);
    for (let i = 0; i < 10; i++) await rs[1]!.map('kv').set(`new${i}`, i);
    await b.run(1_000);
    const sentBefore = b.traffic.bytes;
    const again = b.start(0, { store });
    await b.run(3_000);
    expect(again.ready()).toBe(true);
    expect(again.map('kv').size).toBe(1_010);
    expect(again.joiner.stats.chunks).toBe(0); // nothing pulled whole
    expect(again.repairer.stats.keysReceived).toBeGreaterThanOrEqual(10);
    expect(again.repairer.stats.keysReceived).toBeLessThan(100); // only the differing leaves
    expect(again.spread.sent).toBe(0); // what it restored is not pushed back
    expect(b.traffic.bytes - sentBefore).toBeLessThan(100_000);
  });

  it('a tombstone is collected once every member has synced after it; with a member away, only after 24 h', async () => {
    const b = bench(3, 29);
    const rs = [0, 1, 2].map((i) => b.start(i));
    await b.run(100);
    const m = rs.map((r) => r.map('kv'));
    await m[0]!.set('gone', 1);
    await m[0]!.set('kept', 1);
    await b.run(200);
    await m[1]!.delete('gone');
    await b.run(200);
    for (const r of rs) expect(r.info().maps[0]).toMatchObject({ keys: 1, tombstones: 1 });
    await b.run(60_000); // past the 30 s settle time, with digests compared every few seconds
    for (const r of rs) expect(r.info().maps[0]).toMatchObject({ keys: 1, tombstones: 0 });
    expect(rs[0]!.info().collected).toBe(1);
    // A member away holds collection back; the 24 h bound still collects.
    await b.kill(2);
    await m[0]!.delete('kept');
    await b.run(120_000);
    expect(rs[0]!.info().maps[0]).toMatchObject({ keys: 0, tombstones: 1 });
    await b.run(86_400_000);
    expect(rs[0]!.info().maps[0]).toMatchObject({ keys: 0, tombstones: 0 });
  });

  it('a delete or update called while the store opens acts on what the caller saw, not on what is restored meanwhile', async () => {
    const b = bench(1, 37);
    const store = memoryStateStore();
    const first = b.start(0, { store });
    await b.run(10);
    await first.map('kv').set('x', 'kept');
    await b.kill(0);
    // A slow store: its load resolves 1 s of clock later.
    const slow = { ...store, load: () => new Promise<Awaited<ReturnType<typeof store.load>>>((resolve) => b.clock.setTimer(1_000, () => resolve(store.load()))) };
    const again = b.start(0, { store: slow });
    const m = again.map('kv');
    expect(m.has('x')).toBe(false); // not restored yet: the caller sees no x
    const del = m.delete('x');
    const upd = m.update('x', () => 'changed').then(() => 'resolved', (e: { code?: string }) => e.code);
    await b.run(2_000);
    expect((await del).version).toBeUndefined();
    expect(await upd).toBe('NOT_FOUND');
    expect(m.get('x')).toBe('kept');
  });

  it('limits reject a write at the call and change nothing', async () => {
    const b = bench(1);
    const r = b.start(0);
    await b.run(10);
    const m = r.map('small', { maxKeys: 2, maxValueBytes: 10, maxTotalBytes: 40 });
    await m.set('a', 1);
    await m.set('b', 2);
    await expect(m.set('c', 3)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxKeys', status: 413 });
    await expect(m.set('a', 'x'.repeat(20))).rejects.toMatchObject({ limit: 'maxValueBytes' });
    await expect(m.update('zz', (v) => v)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(dump(m)).toEqual([['a', 1], ['b', 2]]);
  });

  it('session tokens: a read waits until this replica holds the write', async () => {
    const b = bench(2, 17);
    const rs = [0, 1].map((i) => b.start(i));
    await b.run(100);
    b.partition([0], [1]);
    const { token } = await rs[0]!.map('kv').set('s', 'mine');
    const read = rs[1]!.map('kv').get('s', { atLeast: token, timeoutMs: 5_000 });
    await b.run(100);
    b.heal();
    await b.run(3_000);
    await expect(read).resolves.toBe('mine');
    await expect(rs[1]!.map('kv').get('s', { atLeast: 'not a token!' })).rejects.toMatchObject({ code: 'MALFORMED' });
    // A wait pending when the replica stops rejects at once (its timers are gone).
    b.partition([0], [1]);
    const { token: later } = await rs[0]!.map('kv').set('s', 'newer');
    const pending = rs[1]!.map('kv').get('s', { atLeast: later, timeoutMs: 60_000 }).then(() => 'resolved', (e: { code?: string }) => e.code);
    await b.kill(1);
    expect(await pending).toBe('STOPPED');
  });

  it('a throwing change listener never stops replication; malformed sections are ignored', async () => {
    const b = bench(2, 19);
    const rs = [0, 1].map((i) => b.start(i));
    await b.run(100);
    let seen = 0;
    rs[1]!.map('kv').on('change', () => {
      seen++;
      throw new Error('listener bug');
    });
    await rs[0]!.map('kv').set('a', 1);
    await b.run(100);
    await rs[0]!.map('kv').set('b', 2);
    await b.run(100);
    expect(seen).toBe(2);
    expect(rs[1]!.map('kv').get('b')).toBe(2);
    for (const bad of [1, 'x', [], { c: 5 }, { c: { m: { kv: { r: 7 } } } }, { op: 'chunk', map: '../x', from: -1 }, { d: 42 }]) {
      expect(() => rs[1]!.onRequest(bad, b.url(0), 'direct')).not.toThrow();
    }
    expect(rs[1]!.map('kv').size).toBe(2);
  });
});
