/**
 * The on-disk format of the file state store (see file-store.ts): line
 * framing with CRC-32, reading and checking the snapshot and the log, and
 * the directory lock. Split from file-store.ts, which owns the writing.
 */
import { open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { checkedMeta, RecordIndex, type LoadedState, type StoredMeta, type StoredRecord } from './store.js';

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

export const SNAPSHOT = 'state.snapshot';
export const SNAPSHOT_TMP = 'state.snapshot.tmp';
export const LOG = 'state.log';
export const LOCK = 'state.lock';
export const FORMAT = 1;
/** An unreadable lock younger than this may be mid-creation by another process. */
export const LOCK_CREATION_GRACE_MS = 5_000;

/** What {@link readState} found. */
export interface DiskState {
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
export async function readState(dir: string): Promise<DiskState> {
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
export function parseLines(file: string, buf: Buffer, tailTolerated: boolean): { lines: Line[]; validBytes: number } {
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
export function decodeLine(buf: Buffer, start: number, end: number): Json | undefined {
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
export function headerGen(file: string, value: Json | undefined, type: string, minGen: number): number {
  if (value?.type !== type) throw new StoreCorruptError(file, 1, `no ${type} header`);
  if (value.format !== FORMAT) throw new StoreCorruptError(file, 1, `format ${String(value.format)}; this version reads ${FORMAT}`);
  const gen = value.gen;
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < minGen) throw new StoreCorruptError(file, 1, 'bad generation');
  return gen;
}

export function parseMeta(file: string, line: number, value: Json): StoredMeta {
  try {
    return checkedMeta(value as unknown as StoredMeta);
  } catch {
    throw new StoreCorruptError(file, line, 'malformed meta');
  }
}

export function parseRecord(file: string, line: number, value: Json): StoredRecord {
  const { type, map, key, name, state } = value;
  if (state !== undefined) {
    if (type === 'key' && typeof map === 'string' && typeof key === 'string') return { type, map, key, state };
    if (type === 'counter' && typeof name === 'string') return { type, name, state };
  }
  throw new StoreCorruptError(file, line, 'malformed record');
}

/** One line: CRC-32 of the JSON in hex, a space, the JSON, a line end. */
export function frame(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

export function metaJson({ replica, hlc, savedAt }: StoredMeta): string {
  return JSON.stringify({ type: 'meta', replica, hlc, savedAt });
}

export function logHeader(gen: number): string {
  return JSON.stringify({ type: 'log', format: FORMAT, gen });
}

export async function writeAll(file: FileHandle, text: string): Promise<void> {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += (await file.write(buf, off, buf.length - off)).bytesWritten;
}

/** Makes a rename or a file creation in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // a directory cannot be opened for fsync there
  const handle = await open(dir, 'r');
  await handle.sync().finally(() => handle.close());
}

/** Creates the lock with O_EXCL; takes over one whose pid is dead. */
export async function acquireLock(dir: string, warnings: string[]): Promise<void> {
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

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock if it is still ours. */
export async function releaseLock(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  const text = await readFile(path, 'utf8').catch(missingAsUndefined);
  if (text?.trim() === String(process.pid)) await unlink(path).catch(missingAsUndefined);
}

export function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}
