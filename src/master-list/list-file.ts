/**
 * The list on disk: read with its ETag, written atomically (temp file,
 * fsync, rename, directory fsync), and checked shallowly.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LogFields } from '../core/logger.js';
import { ConfigError } from '../errors.js';
import { masterListEtag, type Current } from './etag.js';

/** Creates the file's directory, refuses a directory as the file, and warns about an unusable existing list. */
export async function prepareFile(file: string, log: (level: 'warn', message: string, fields?: LogFields) => void): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const current = await stat(file).catch((e: unknown) => {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  });
  if (current === undefined) return;
  if (!current.isFile()) throw new ConfigError([`file ${file} exists and is not a regular file`]);
  const bytes = await readFile(file);
  const problem = checkList(bytes);
  if (problem !== undefined) log('warn', 'master-list store: existing file is not a valid list; serving it as is', { file, problem });
}

/** The list file's bytes and ETag, or undefined if there is no file yet. */
export async function readCurrent(file: string): Promise<Current> {
  try {
    const bytes = await readFile(file);
    return { bytes, etag: masterListEtag(bytes) };
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  }
}

let tempCounter = 0;

/** Writes `bytes` to a temp file beside `file`, fsyncs it and renames it over `file`. */
export async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${++tempCounter}.${randomBytes(4).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    renamed = true;
    await syncDirectory(dirname(file));
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/** Makes the rename durable where the platform allows it (not on Windows). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the rename itself is already atomic.
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Shallow check of a list body: UTF-8 JSON object whose `online` is an array
 * and whose `offline`, if present, is an array. Entries are left to the
 * servers, which validate them strictly. Returns the problem, or undefined.
 */
export function checkList(bytes: Uint8Array): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return 'body is not UTF-8 JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'body is not a JSON object';
  const list = value as Record<string, unknown>;
  if (!Array.isArray(list.online)) return '"online" must be an array';
  if (list.offline !== undefined && !Array.isArray(list.offline)) return '"offline" must be an array when present';
  return undefined;
}

function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
