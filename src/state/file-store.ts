import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { checkedMeta, recordJson, RecordIndex, type LoadedState, type StateStore, type StoredMeta, type StoredRecord } from './store.js';

/**
 * A {@link StateStore} in a directory: a snapshot file and an append-only
 * log, both line-oriented. Each line is the CRC-32 (8 hex digits) of its JSON,
 * a space, and the JSON of one record, a meta, a header or an end marker:
 *
 * - `state.snapshot`: a header (format, generation, meta), the records, and
 *   an end line with their count. Only ever replaced whole by a rename.
 * - `state.log`: a header naming the snapshot generation it follows, then per
 *   write a meta line followed by that write's records.
 * - `state.lock`: the pid of the process using the directory.
 *
 * Load replays the snapshot then the log; the last record per identity wins.
 * Only a local file system is supported (the lock relies on pids).
 */

/** The data on disk is damaged in a way a crash cannot explain; nothing was dropped. */
export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError';
  readonly code = 'STORE_CORRUPT';
  /** `file`: the damaged file; `line`: its 1-based line number, or 0 for the file as a whole. */
  constructor(readonly file: string, readonly line: number, problem: string) {
    super(`State store corrupt: ${file}${line > 0 ? ` line ${line}` : ''}: ${problem}`);
  }
}

/** Another live process holds the directory's lock. */
export class StoreLockedError extends Error {
  override name = 'StoreLockedError';
  readonly code = 'STORE_LOCKED';
  /** `pid`: the holder's, if the lock names one. */
  constructor(readonly dir: string, readonly pid: number | undefined) {
    super(`State store ${dir} is in use by ${pid === undefined ? 'another process' : `process ${pid}`} (lock file ${join(dir, LOCK)})`);
  }
}

/** Options of {@link openFileStateStore}. */
export interface FileStateStoreOptions {
  /**
   * When an append is durable:
   * - 'batch': appends are written and `fdatasync`ed together, at most once
   *   per `batchMs`; each promise resolves after the fsync covering it.
   * - 'always': no added delay: a write and fsync start as soon as the
   *   previous one ends, carrying every append made meanwhile.
   * - 'none': appends resolve once written to the OS, never fsynced. They
   *   survive a process crash but **not a power loss or kernel crash**, which
   *   may lose recent appends or leave the log damaged so that the next open
   *   throws {@link StoreCorruptError}. Compactions still fsync.
   * @default 'batch'
   */
  sync?: 'always' | 'batch' | 'none';
  /** Longest wait to gather appends into one fsync, with sync 'batch'. @default 5 */
  batchMs?: number;
}

/** A {@link StateStore} on files, with what its opening had to repair. */
export interface FileStateStore extends StateStore {
  /** The directory. */
  readonly dir: string;
  /**
   * What the last load (the one done by opening, or an explicit `load()`
   * after writes) dropped or repaired: a torn tail, a stale log, a stale
   * lock. Never contains record contents. The caller decides how to log it.
   */
  readonly lastLoadWarnings: string[];
}

const SNAPSHOT = 'state.snapshot';
const SNAPSHOT_TMP = 'state.snapshot.tmp';
const LOG = 'state.log';
const LOCK = 'state.lock';
const FORMAT = 1;
/** An unreadable lock younger than this may be mid-creation by another process. */
const LOCK_CREATION_GRACE_MS = 5_000;
/** Snapshot text is written in chunks of about this many characters. */
const CHUNK = 1 << 20;

type Waiter<T = void> = { resolve(value: T): void; reject(error: unknown): void };
type Item =
  | { kind: 'append'; meta: StoredMeta; lines: string[]; waiters: Waiter[] }
  | { kind: 'compact'; meta: StoredMeta; chunks: string[]; count: number; bytesBefore: number; waiter: Waiter }
  | { kind: 'load'; waiter: Waiter<LoadedState | undefined> }
  | { kind: 'barrier'; waiter: Waiter };

/**
 * Opens (creating it with mode 0700 if needed) a store directory, takes its
 * lock, and reads and checks everything in it. A torn tail of the log (a
 * crash mid-write) is truncated and reported in `lastLoadWarnings`.
 * @throws StoreLockedError if a live process holds the directory.
 * @throws StoreCorruptError if a file is damaged other than at the log's end.
 */
export async function openFileStateStore(dir: string, options: FileStateStoreOptions = {}): Promise<FileStateStore> {
  const sync = options.sync ?? 'batch';
  const batchMs = options.batchMs ?? 5;
  if (!['always', 'batch', 'none'].includes(sync)) throw new TypeError(`Unknown sync policy ${String(sync)}`);
  if (!Number.isFinite(batchMs) || batchMs < 0) throw new TypeError('batchMs must be a finite number ≥ 0');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const warnings: string[] = [];
  await acquireLock(dir, warnings);
  let fd: FileHandle | undefined;
  try {
    await unlink(join(dir, SNAPSHOT_TMP)).catch(missingAsUndefined);
    const disk = await readState(dir);
    warnings.push(...disk.warnings);
    fd = await open(join(dir, LOG), 'a', 0o600);
    if (disk.logReset) {
      await fd.truncate(0);
      await writeAll(fd, frame(logHeader(disk.gen)));
      await fd.datasync();
      await syncDir(dir);
    } else if (disk.logValidBytes < disk.logSize) {
      await fd.truncate(disk.logValidBytes);
      await fd.datasync();
    }
    return new FileStore(dir, fd, sync, batchMs, disk, warnings);
  } catch (error) {
    await fd?.close().catch(() => {});
    await releaseLock(dir);
    throw error;
  }
}

class FileStore implements FileStateStore {
  logBytes: number;
  lastLoadWarnings: string[];
  private gen: number;
  private cached: LoadedState | undefined;
  private readonly queue: Item[] = [];
  private busy = false;
  private kickQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = -Infinity;
  private failure: unknown;
  private closing: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly fd: FileHandle,
    private readonly sync: 'always' | 'batch' | 'none',
    private readonly batchMs: number,
    disk: DiskState,
    warnings: string[],
  ) {
    this.gen = disk.gen;
    this.cached = disk.loaded;
    this.logBytes = disk.logReset ? 0 : disk.logRecordBytes;
    this.lastLoadWarnings = warnings;
  }

  load(): Promise<LoadedState | undefined> {
    return this.enqueue<LoadedState | undefined>((waiter) => ({ kind: 'load', waiter }));
  }

  append(meta: StoredMeta, records: readonly StoredRecord[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error('State store is closed'));
    let checked: StoredMeta;
    const lines: string[] = [];
    try {
      checked = checkedMeta(meta);
      for (const record of records) lines.push(frame(recordJson(record)));
    } catch (error) {
      return Promise.reject(error);
    }
    this.cached = undefined;
    for (const line of lines) this.logBytes += Buffer.byteLength(line, 'utf8');
    const last = this.queue[this.queue.length - 1];
    if (last?.kind !== 'append') return this.enqueue((waiter) => ({ kind: 'append', meta: checked, lines, waiters: [waiter] }));
    last.meta = checked; // one write: its meta line is the last call's
    for (const line of lines) last.lines.push(line);
    return new Promise<void>((resolve, reject) => last.waiters.push({ resolve, reject }));
  }

  compact(meta: StoredMeta, records: Iterable<StoredRecord>): Promise<void> {
    if (this.closing) return Promise.reject(new Error('State store is closed'));
    let checked: StoredMeta;
    const chunks: string[] = [];
    let count = 0;
    try {
      checked = checkedMeta(meta);
      let chunk = '';
      for (const record of records) {
        if (record?.state === null) continue;
        chunk += frame(recordJson(record));
        count++;
        if (chunk.length >= CHUNK) {
          chunks.push(chunk);
          chunk = '';
        }
      }
      chunks.push(chunk);
    } catch (error) {
      return Promise.reject(error);
    }
    this.cached = undefined;
    const bytesBefore = this.logBytes;
    this.logBytes = 0;
    return this.enqueue((waiter) => ({ kind: 'compact', meta: checked, chunks, count, bytesBefore, waiter }));
  }

  close(): Promise<void> {
    // Set before the queue is kicked, so that pending appends are written without the batch delay.
    this.closing ??= Promise.resolve().then(async () => {
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ kind: 'barrier', waiter: { resolve, reject } });
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
        this.kick();
      });
      await this.fd.close().catch(() => {});
      await releaseLock(this.dir);
    });
    return this.closing;
  }

  private enqueue<T = void>(make: (waiter: Waiter<T>) => Item): Promise<T> {
    if (this.closing) return Promise.reject(new Error('State store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push(make({ resolve, reject }));
      this.scheduleKick();
    });
  }

  /** Starts the queue after the current tick, so that appends made together share a write. */
  private scheduleKick(): void {
    if (this.kickQueued) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      this.kick();
    });
  }

  private kick(): void {
    if (this.busy || this.timer !== undefined) return;
    const item = this.queue[0];
    if (item === undefined) return;
    if (item.kind === 'append' && this.sync === 'batch' && !this.closing) {
      const wait = this.lastFlush + this.batchMs - performance.now();
      if (wait > 0) {
        // eslint-disable-next-line no-restricted-globals -- real I/O timing: the simulator uses memoryStateStore
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, wait);
        return;
      }
    }
    this.queue.shift();
    this.busy = true;
    void this.run(item).finally(() => {
      this.busy = false;
      this.kick();
    });
  }

  private async run(item: Item): Promise<void> {
    if (item.kind === 'barrier') return item.waiter.resolve();
    if (this.failure !== undefined) {
      const error = new Error('State store failed on an earlier write; reopen it', { cause: this.failure });
      return void (item.kind === 'append' ? item.waiters : [item.waiter]).forEach((waiter) => waiter.reject(error));
    }
    if (item.kind === 'append') return this.flush(item);
    if (item.kind === 'compact') return this.runCompact(item);
    try {
      const loaded = this.cached ?? (await this.reload());
      this.cached = undefined;
      item.waiter.resolve(loaded);
    } catch (error) {
      item.waiter.reject(error);
    }
  }

  private async flush(item: Extract<Item, { kind: 'append' }>): Promise<void> {
    this.lastFlush = performance.now();
    try {
      await writeAll(this.fd, frame(metaJson(item.meta)) + item.lines.join(''));
      if (this.sync !== 'none') await this.fd.datasync();
    } catch (error) {
      this.failure = error;
      return item.waiters.forEach((waiter) => waiter.reject(error));
    }
    item.waiters.forEach((waiter) => waiter.resolve());
  }

  /** New snapshot to a temp file, fsync, rename, fsync the directory, then a fresh log. */
  private async runCompact(item: Extract<Item, { kind: 'compact' }>): Promise<void> {
    const tmp = join(this.dir, SNAPSHOT_TMP);
    const gen = this.gen + 1;
    let renamed = false;
    try {
      const file = await open(tmp, 'w', 0o600);
      try {
        const { replica, hlc, savedAt } = item.meta;
        await writeAll(file, frame(JSON.stringify({ type: 'snapshot', format: FORMAT, gen, replica, hlc, savedAt })));
        for (const chunk of item.chunks) await writeAll(file, chunk);
        await writeAll(file, frame(JSON.stringify({ type: 'end', records: item.count })));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, join(this.dir, SNAPSHOT));
      renamed = true;
      this.gen = gen;
      await syncDir(this.dir);
      await this.fd.truncate(0);
      await writeAll(this.fd, frame(logHeader(gen)));
      await this.fd.datasync();
    } catch (error) {
      if (renamed) this.failure = error;
      else {
        await unlink(tmp).catch(() => {});
        this.logBytes += item.bytesBefore;
      }
      return item.waiter.reject(error);
    }
    item.waiter.resolve();
  }

  /** Reads the files again (everything before this in the queue is written). */
  private async reload(): Promise<LoadedState | undefined> {
    const disk = await readState(this.dir);
    if (disk.logReset || disk.logValidBytes < disk.logSize || disk.gen !== this.gen) {
      throw new StoreCorruptError(LOG, 0, 'changed on disk while the store was open');
    }
    this.lastLoadWarnings = disk.warnings;
    return disk.loaded;
  }
}

/** What {@link readState} found. */
interface DiskState {
  readonly loaded: LoadedState | undefined;
  /** Generation of the snapshot (0: none yet). */
  readonly gen: number;
  /** The log must be emptied and given a header for `gen` (missing, headerless or stale). */
  readonly logReset: boolean;
  readonly logSize: number;
  /** Length of the log's valid prefix: the rest is a torn tail to truncate. */
  readonly logValidBytes: number;
  /** Bytes of the log's record lines. */
  readonly logRecordBytes: number;
  readonly warnings: string[];
}

/** Reads and checks the snapshot then the log. */
async function readState(dir: string): Promise<DiskState> {
  const warnings: string[] = [];
  const index = new RecordIndex();
  let meta: StoredMeta | undefined;
  let gen = 0;
  const snapshot = await readFile(join(dir, SNAPSHOT)).catch(missingAsUndefined);
  if (snapshot !== undefined) {
    const { lines } = parseLines(SNAPSHOT, snapshot, false);
    gen = headerGen(SNAPSHOT, lines[0]?.value, 'snapshot', 1);
    meta = parseMeta(SNAPSHOT, 1, lines[0]!.value);
    const end = lines[lines.length - 1]!.value;
    if (lines.length < 2 || end.type !== 'end' || end.records !== lines.length - 2) {
      throw new StoreCorruptError(SNAPSHOT, lines.length, 'truncated: no end line matching the record count');
    }
    for (let i = 1; i < lines.length - 1; i++) index.apply(parseRecord(SNAPSHOT, i + 1, lines[i]!.value));
  }
  const log = (await readFile(join(dir, LOG)).catch(missingAsUndefined)) ?? Buffer.alloc(0);
  const { lines, validBytes } = parseLines(LOG, log, true);
  if (validBytes < log.length) {
    warnings.push(`Dropped a torn or corrupt last line (${log.length - validBytes} bytes) at the end of ${LOG}, left by a crash mid-write`);
  }
  let logReset = lines.length === 0;
  let logRecordBytes = 0;
  if (lines.length > 0) {
    const logGen = headerGen(LOG, lines[0]!.value, 'log', 0);
    if (logGen > gen) {
      throw new StoreCorruptError(SNAPSHOT, 0, `missing or older than ${LOG} (generation ${gen} < ${logGen})`);
    }
    if (logGen < gen) {
      warnings.push(`Discarded ${LOG} of generation ${logGen}: the snapshot of generation ${gen} replaced it (a crash during compaction)`);
      logReset = true;
    } else {
      for (let i = 1; i < lines.length; i++) {
        const { value, bytes } = lines[i]!;
        if (value.type === 'meta') {
          meta = parseMeta(LOG, i + 1, value);
        } else {
          if (meta === undefined) throw new StoreCorruptError(LOG, i + 1, 'a record before any meta');
          index.apply(parseRecord(LOG, i + 1, value));
          logRecordBytes += bytes;
        }
      }
    }
  }
  const loaded = meta === undefined ? undefined : { meta, records: index.records() };
  return { loaded, gen, logReset, logSize: log.length, logValidBytes: validBytes, logRecordBytes, warnings };
}

type Json = Record<string, unknown>;
interface Line {
  readonly value: Json;
  /** Length in bytes, line end included. */
  readonly bytes: number;
}

/**
 * Splits a file into checked lines. With `tailTolerated`, bad lines with no
 * good line after them are a torn tail: parsing stops before them
 * (`validBytes`). Any other bad line throws.
 */
function parseLines(file: string, buf: Buffer, tailTolerated: boolean): { lines: Line[]; validBytes: number } {
  const lines: Line[] = [];
  let bad: { pos: number; line: number; problem: string } | undefined;
  for (let pos = 0, line = 1; pos < buf.length; line++) {
    const nl = buf.indexOf(10, pos);
    const value = nl === -1 ? undefined : decodeLine(buf, pos, nl);
    if (value === undefined) bad ??= { pos, line, problem: nl === -1 ? 'truncated last line' : 'checksum or JSON mismatch' };
    if (bad !== undefined && (value !== undefined || !tailTolerated)) throw new StoreCorruptError(file, bad.line, bad.problem);
    if (value !== undefined) lines.push({ value, bytes: nl + 1 - pos });
    pos = nl === -1 ? buf.length : nl + 1;
  }
  return { lines, validBytes: bad?.pos ?? buf.length };
}

/** The JSON object of the line `buf[start, end)`, or undefined if its checksum or syntax is wrong. */
function decodeLine(buf: Buffer, start: number, end: number): Json | undefined {
  if (end - start < 10 || buf[start + 8] !== 0x20) return undefined;
  const hex = buf.toString('latin1', start, start + 8);
  if (!/^[0-9a-f]{8}$/.test(hex) || parseInt(hex, 16) !== crc32(buf.subarray(start + 9, end))) return undefined;
  try {
    const value: unknown = JSON.parse(buf.toString('utf8', start + 9, end));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks a file's header line and returns its generation. */
function headerGen(file: string, value: Json | undefined, type: string, minGen: number): number {
  if (value?.type !== type) throw new StoreCorruptError(file, 1, `no ${type} header`);
  if (value.format !== FORMAT) throw new StoreCorruptError(file, 1, `format ${String(value.format)}; this version reads ${FORMAT}`);
  const gen = value.gen;
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < minGen) throw new StoreCorruptError(file, 1, 'bad generation');
  return gen;
}

function parseMeta(file: string, line: number, value: Json): StoredMeta {
  try {
    return checkedMeta(value as unknown as StoredMeta);
  } catch {
    throw new StoreCorruptError(file, line, 'malformed meta');
  }
}

function parseRecord(file: string, line: number, value: Json): StoredRecord {
  const { type, map, key, name, state } = value;
  if (state !== undefined) {
    if (type === 'key' && typeof map === 'string' && typeof key === 'string') return { type, map, key, state };
    if (type === 'counter' && typeof name === 'string') return { type, name, state };
  }
  throw new StoreCorruptError(file, line, 'malformed record');
}

/** One line: CRC-32 of the JSON in hex, a space, the JSON, a line end. */
function frame(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function metaJson({ replica, hlc, savedAt }: StoredMeta): string {
  return JSON.stringify({ type: 'meta', replica, hlc, savedAt });
}

function logHeader(gen: number): string {
  return JSON.stringify({ type: 'log', format: FORMAT, gen });
}

async function writeAll(file: FileHandle, text: string): Promise<void> {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += (await file.write(buf, off, buf.length - off)).bytesWritten;
}

/** Makes a rename or a file creation in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // a directory cannot be opened for fsync there
  const handle = await open(dir, 'r');
  await handle.sync().finally(() => handle.close());
}

/** Creates the lock with O_EXCL; takes over one whose pid is dead. */
async function acquireLock(dir: string, warnings: string[]): Promise<void> {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } catch (error) {
        await handle.close().catch(() => {});
        await unlink(path).catch(() => {});
        throw error;
      }
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const info = await stat(path).catch(missingAsUndefined);
    const text = await readFile(path, 'utf8').catch(missingAsUndefined);
    if (info === undefined || text === undefined) continue;
    const pid = /^[1-9]\d*\n?$/.test(text) ? Number(text.trim()) : undefined;
    // eslint-disable-next-line no-restricted-properties -- compared with a file's mtime, a wall-clock time
    const live = pid !== undefined ? isAlive(pid) : Date.now() - info.mtimeMs < LOCK_CREATION_GRACE_MS;
    if (live) throw new StoreLockedError(dir, pid);
    // Stale. Remove it only if it is still the same file (another opener may have replaced it).
    const again = await stat(path).catch(missingAsUndefined);
    if (again?.ino !== info.ino) continue;
    await unlink(path).catch(missingAsUndefined);
    warnings.push(`Took over ${LOCK} left by ${pid === undefined ? 'an unknown process' : `process ${pid}`}, no longer running`);
  }
  throw new StoreLockedError(dir, undefined);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock if it is still ours. */
async function releaseLock(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  const text = await readFile(path, 'utf8').catch(missingAsUndefined);
  if (text?.trim() === String(process.pid)) await unlink(path).catch(missingAsUndefined);
}

function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}
