/**
 * The file store on real files under os.tmpdir(): round trips, last record
 * wins, compaction at every crash point, torn tails, corruption, the lock,
 * group commit, and a real SIGKILL of a child process appending with
 * sync 'always'. Every directory and store is removed or closed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openFileStateStore, StoreCorruptError, StoreLockedError, type FileStateStore } from './file-store.js';
import type { StoredMeta, StoredRecord } from './store.js';

const here = dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
const stores: FileStateStore[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shazbot-store-'));
  dirs.push(dir);
  return join(dir, 'state');
}

async function openStore(dir: string, options?: Parameters<typeof openFileStateStore>[1]): Promise<FileStateStore> {
  const store = await openFileStateStore(dir, options);
  stores.push(store);
  return store;
}

/** Closes and reopens, returning the new store and what it loads. */
async function reopen(store: FileStateStore) {
  await store.close();
  const again = await openStore(store.dir);
  return { store: again, loaded: await again.load() };
}

const meta = (hlc: number): StoredMeta => ({ replica: 'http://10.0.0.1:3000#k3x9q2m1', hlc, savedAt: 1_700_000_000_000 + hlc });
const key = (map: string, k: string, state: unknown): StoredRecord => ({ type: 'key', map, key: k, state });
const counter = (name: string, state: unknown): StoredRecord => ({ type: 'counter', name, state });
const sorted = (records: readonly StoredRecord[] | undefined) =>
  [...(records ?? [])].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('openFileStateStore', () => {
  it('round-trips opaque JSON states, odd names and the meta', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    expect(await store.load()).toBeUndefined();
    expect(store.lastLoadWarnings).toEqual([]);
    const records = [
      key('users', 'a', { nested: [1, 'two', null, { deep: true }], n: 1.5e300 }),
      key('line\nbreak "quoted"', 'k\u0000\u2028\ud800é😀', 'text'),
      key('', '', 0),
      counter('hits', { p: { a: 3 }, n: {} }),
      counter('x\r\n', [false]),
    ];
    await store.append(meta(1), records.slice(0, 2));
    await store.append(meta(2), records.slice(2));
    expect(store.logBytes).toBeGreaterThan(0);
    const bytes = store.logBytes;
    const { store: again, loaded } = await reopen(store);
    expect(loaded?.meta).toEqual(meta(2));
    expect(sorted(loaded?.records)).toEqual(sorted(records));
    expect(again.logBytes).toBe(bytes);
    if (process.platform !== 'win32') expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('keeps the last record per identity and omits removed ones', async () => {
    const store = await openStore(await tempDir());
    await store.append(meta(1), [key('m', 'a', 1), key('m', 'b', 1), key('n', 'a', 1), counter('c', 1), counter('d', 1)]);
    await store.append(meta(2), [key('m', 'a', 2), key('m', 'b', null), counter('c', 2)]);
    await store.append(meta(3), [key('m', 'a', 3), counter('d', null), key('m', 'a', 4)]);
    const expected = [key('m', 'a', 4), key('n', 'a', 1), counter('c', 2)];
    expect(sorted((await store.load())?.records)).toEqual(sorted(expected));
    const { loaded } = await reopen(store);
    expect(loaded?.meta).toEqual(meta(3));
    expect(sorted(loaded?.records)).toEqual(sorted(expected));
  });

  it('compacts, then appends to a fresh log, in call order', async () => {
    const store = await openStore(await tempDir());
    await store.append(meta(1), [key('m', 'a', 1), key('m', 'old', 1)]);
    void store.append(meta(2), [key('m', 'superseded', 1)]); // called before compact: the snapshot replaces it
    const compacted = store.compact(meta(3), [key('m', 'a', 2), key('m', 'gone', null), counter('c', 5)]);
    expect(store.logBytes).toBe(0);
    const appended = store.append(meta(4), [key('m', 'b', 1)]);
    await Promise.all([compacted, appended]);
    expect(store.logBytes).toBeGreaterThan(0);
    const expected = [key('m', 'a', 2), counter('c', 5), key('m', 'b', 1)];
    const loaded = await store.load();
    expect(loaded?.meta).toEqual(meta(4));
    expect(sorted(loaded?.records)).toEqual(sorted(expected));
    const again = await reopen(store);
    expect(sorted(again.loaded?.records)).toEqual(sorted(expected));
    await again.store.compact(meta(5), []);
    expect((await reopen(again.store)).loaded).toEqual({ meta: meta(5), records: [] });
  });

  it('loads the old or the new state at each crash point of a compaction', async () => {
    const dir = await tempDir();
    let store = await openStore(dir);
    await store.append(meta(1), [key('m', 'a', 1), key('m', 'b', 1)]);
    await store.close();
    const oldLog = await readFile(join(dir, 'state.log'));
    // Crashed before the rename: a half-written temp snapshot is ignored and removed.
    await writeFile(join(dir, 'state.snapshot.tmp'), 'deadbeef {"type":"snap');
    store = await openStore(dir);
    expect(sorted((await store.load())?.records)).toEqual(sorted([key('m', 'a', 1), key('m', 'b', 1)]));
    await expect(stat(join(dir, 'state.snapshot.tmp'))).rejects.toThrow();
    await store.compact(meta(2), [key('m', 'a', 2)]);
    await store.close();
    // Crashed after the rename, before the log was reset: the stale log is discarded.
    await writeFile(join(dir, 'state.log'), oldLog);
    store = await openStore(dir);
    expect(store.lastLoadWarnings.join()).toMatch(/Discarded state\.log of generation 0/);
    expect(await store.load()).toEqual({ meta: meta(2), records: [key('m', 'a', 2)] });
    await store.append(meta(3), [key('m', 'c', 3)]);
    await store.close();
    // Crashed after truncating the log, before its header was written.
    store = await openStore(dir);
    await store.compact(meta(4), [key('m', 'z', 4)]);
    await store.close();
    await writeFile(join(dir, 'state.log'), '');
    store = await openStore(dir);
    expect(store.lastLoadWarnings).toEqual([]);
    expect(await store.load()).toEqual({ meta: meta(4), records: [key('m', 'z', 4)] });
    await store.append(meta(5), [key('m', 'y', 5)]);
    expect((await reopen(store)).loaded?.records).toHaveLength(2);
  });

  it('drops a torn last line, truncates there, and keeps later appends', async () => {
    const dir = await tempDir();
    let store = await openStore(dir);
    await store.append(meta(1), [key('m', 'a', 1)]);
    await store.close();
    const log = join(dir, 'state.log');
    const size = (await stat(log)).size;
    await appendFile(log, '0badf00d {"type":"key","map":"m","ke');
    store = await openStore(dir);
    expect(store.lastLoadWarnings).toHaveLength(1);
    expect(store.lastLoadWarnings[0]).toMatch(/torn or corrupt last line \(36 bytes\)/);
    expect((await stat(log)).size).toBe(size);
    expect((await store.load())?.records).toEqual([key('m', 'a', 1)]);
    await store.append(meta(2), [key('m', 'b', 2)]);
    const again = await reopen(store);
    expect(again.store.lastLoadWarnings).toEqual([]);
    expect(sorted(again.loaded?.records)).toEqual(sorted([key('m', 'a', 1), key('m', 'b', 2)]));
    // A complete last line with a wrong checksum is a tail too.
    await again.store.close();
    await appendFile(log, '00000000 {"type":"meta","replica":"r","hlc":9,"savedAt":9}\n');
    store = await openStore(dir);
    expect(store.lastLoadWarnings).toHaveLength(1);
    expect((await store.load())?.meta).toEqual(meta(2));
  });

  it('throws StoreCorruptError on a bad line in the middle, or a damaged snapshot, and frees the lock', async () => {
    const dir = await tempDir();
    let store = await openStore(dir);
    for (let i = 0; i < 3; i++) await store.append(meta(i), [key('m', `k${i}`, i)]);
    await store.close();
    const log = join(dir, 'state.log');
    const good = await readFile(log, 'utf8');
    await writeFile(log, good.replace('"k1"', '"kX"'));
    const error = await openFileStateStore(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT', file: 'state.log', line: 5 });
    expect(String(error)).not.toMatch(/kX/);
    await writeFile(log, good);
    store = await openStore(dir);
    await store.compact(meta(9), [key('m', 'a', 1), key('m', 'b', 2)]);
    await store.close();
    const snapshot = join(dir, 'state.snapshot');
    const text = await readFile(snapshot, 'utf8');
    await writeFile(snapshot, text.split('\n').slice(0, -2).join('\n') + '\n'); // no end line
    await expect(openFileStateStore(dir)).rejects.toMatchObject({ code: 'STORE_CORRUPT', file: 'state.snapshot' });
    await writeFile(snapshot, text.slice(0, -3)); // torn: a snapshot is never torn by a crash
    await expect(openFileStateStore(dir)).rejects.toBeInstanceOf(StoreCorruptError);
    await rm(snapshot); // a log that follows a missing snapshot
    await expect(openFileStateStore(dir)).rejects.toThrow(/missing or older/);
  });

  it('refuses a directory locked by a live process and takes over from a dead one', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    const refused = await openFileStateStore(dir).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreLockedError);
    expect(refused).toMatchObject({ code: 'STORE_LOCKED', pid: process.pid });
    await store.close();
    await expect(stat(join(dir, 'state.lock'))).rejects.toThrow();

    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(join(dir, 'state.lock'), `${pid}\n`);
    const taker = await openStore(dir);
    expect(taker.lastLoadWarnings.join()).toMatch(new RegExp(`left by process ${pid}`));
    expect(await readFile(join(dir, 'state.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await taker.close();
    await taker.close(); // idempotent
    await expect(stat(join(dir, 'state.lock'))).rejects.toThrow();
    await expect(taker.append(meta(1), [])).rejects.toThrow(/closed/);
  });

  it('shares fsyncs among 1,000 concurrent appends (group commit), and close flushes', async () => {
    const store = await openStore(await tempDir(), { sync: 'batch', batchMs: 5 });
    const handle = Object.getPrototypeOf((store as unknown as { fd: object }).fd) as { datasync(): Promise<void> };
    const datasync = vi.spyOn(handle, 'datasync');
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) appends.push(store.append(meta(i), [key('m', `k${i}`, { i, pad: 'x'.repeat(250) })]));
    await Promise.all(appends);
    expect(datasync.mock.calls.length).toBeGreaterThan(0);
    expect(datasync.mock.calls.length).toBeLessThan(20);
    void store.append(meta(1000), [counter('last', 1)]); // not awaited: close must flush it
    const { loaded } = await reopen(store);
    expect(loaded?.records).toHaveLength(1001);
    expect(loaded?.meta).toEqual(meta(1000));
  });

  it('survives a failed compaction, and fails for good after a failed fsync', async () => {
    const store = await openStore(await tempDir());
    await store.append(meta(1), [key('m', 'a', 1)]);
    const bytes = store.logBytes;
    await mkdir(join(store.dir, 'state.snapshot.tmp')); // the temp snapshot cannot be created
    await expect(store.compact(meta(2), [key('m', 'b', 2)])).rejects.toMatchObject({ code: 'EISDIR' });
    expect(store.logBytes).toBe(bytes);
    await store.append(meta(3), [key('m', 'c', 3)]);
    expect(sorted((await store.load())?.records)).toEqual(sorted([key('m', 'a', 1), key('m', 'c', 3)]));

    const handle = Object.getPrototypeOf((store as unknown as { fd: object }).fd) as { datasync(): Promise<void> };
    vi.spyOn(handle, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(store.append(meta(4), [key('m', 'd', 4)])).rejects.toMatchObject({ code: 'EIO' });
    await expect(store.append(meta(5), [])).rejects.toThrow(/failed on an earlier write/);
    await expect(store.load()).rejects.toThrow(/failed on an earlier write/);
    await store.close();
    await expect(stat(join(store.dir, 'state.lock'))).rejects.toThrow();
  });

  it('rejects malformed input without writing it', async () => {
    const store = await openStore(await tempDir(), { sync: 'none' });
    await expect(store.append({ replica: 'r', hlc: Number.NaN, savedAt: 0 }, [])).rejects.toBeInstanceOf(TypeError);
    await expect(store.append(meta(1), [key('m', 'a', undefined)])).rejects.toBeInstanceOf(TypeError);
    await expect(store.append(meta(1), [{ type: 'counter' } as unknown as StoredRecord])).rejects.toBeInstanceOf(TypeError);
    await expect(store.compact(meta(1), [counter('c', 1n)])).rejects.toBeInstanceOf(TypeError);
    await expect(openFileStateStore(store.dir, { sync: 'sometimes' as 'none' })).rejects.toBeInstanceOf(TypeError);
    expect(store.logBytes).toBe(0);
    expect((await reopen(store)).loaded).toBeUndefined();
  });

  it('keeps every acknowledged append of a process killed with SIGKILL (sync always)', async () => {
    const dir = await tempDir();
    const work = join(dirname(dir), 'child');
    await mkdir(work);
    for (const name of ['store', 'file-store', 'file-store-disk']) {
      const source = await readFile(join(here, `${name}.ts`), 'utf8');
      const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 };
      await writeFile(join(work, `${name}.js`), ts.transpileModule(source, { compilerOptions: options }).outputText);
    }
    await writeFile(join(work, 'package.json'), '{"type":"module"}');
    await writeFile(
      join(work, 'child.mjs'),
      `import { openFileStateStore } from './file-store.js';
const store = await openFileStateStore(process.argv[2], { sync: 'always' });
let next = 0;
const pad = 'x'.repeat(280);
async function writer() {
  for (;;) {
    const seq = next++;
    await store.append({ replica: 'r#1', hlc: seq, savedAt: seq }, [{ type: 'key', map: 'm', key: String(seq), state: { seq, pad } }]);
    process.stdout.write(seq + '\\n');
  }
}
for (let i = 0; i < 8; i++) void writer();
`,
    );
    const child = spawn(process.execPath, [join(work, 'child.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const acked = new Set<number>();
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) acked.add(Number(line));
        if (acked.size >= 200) resolve();
      });
      void exited.then(() => reject(new Error(`child exited early: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const store = await openStore(dir);
    const seqs = new Set((await store.load())?.records.map((r) => (r.state as { seq: number }).seq));
    const missing = [...acked].filter((seq) => !seqs.has(seq));
    expect(missing).toEqual([]);
    expect(acked.size).toBeGreaterThanOrEqual(200);
  });
});
