import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  StoreCorruptError, SNAPSHOT, SNAPSHOT_TMP, LOG, FORMAT, readState, frame, metaJson, logHeader, writeAll, syncDir, acquireLock, releaseLock, missingAsUndefined, DiskState,
} from './file-store-disk.js';
export { StoreCorruptError, StoreLockedError } from './file-store-disk.js';
import { checkedMeta, recordJson, type LoadedState, type StateStore, type StoredMeta, type StoredRecord } from './store.js';

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
