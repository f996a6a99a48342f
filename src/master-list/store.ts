import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import { safeLog, silentLogger, type LogFields, type Logger } from '../core/logger.js';
import { ConfigError } from '../errors.js';

/**
 * A tiny HTTP store for the master list, so local and single-host users need
 * no external service. The same URL answers GET (for `SHAZBOT_MASTER_LIST`)
 * and PUT (for `SHAZBOT_MASTER_LIST_UPDATE`). Writes are atomic on disk
 * (temp file, fsync, rename) and guarded by ETags (`If-Match`,
 * `If-None-Match: *`), so servers can GET-merge-PUT without losing each
 * other's updates.
 */

/** Options of {@link startMasterListStore}. */
export interface MasterListStoreOptions {
  /** JSON file holding the list; created on first PUT (its directory is created at start). */
  file: string;
  /** TCP port to listen on. @default 0 (ephemeral) */
  port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /**
   * Exact `Authorization` header value required for PUT, compared in
   * constant time. **If undefined, anyone who can reach the port may
   * overwrite the list**: only leave it unset on a loopback-only store.
   */
  auth?: string;
  /** Largest accepted PUT body in bytes. @default 8 MiB */
  maxBodyBytes?: number;
  /** Where to log; the auth value is never logged. @default silent */
  logger?: Logger;
}

/** A running store. */
export interface MasterListStore {
  /** Base URL, e.g. `http://127.0.0.1:41234/`; GET and PUT both go to it. */
  readonly url: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops listening and drops open (keep-alive) connections. Idempotent. */
  close(): Promise<void>;
}

/** Default {@link MasterListStoreOptions.maxBodyBytes}: 8 MiB. */
export const DEFAULT_MASTER_LIST_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** What GET answers before the first PUT: an empty list. */
const EMPTY_LIST = Buffer.from('{"online":[],"offline":[]}', 'utf8');

const PATHS: ReadonlySet<string> = new Set(['/', '/master-list']);
const ALLOW = 'GET, HEAD, PUT';

/**
 * The strong ETag the store gives a list body:
 * `"` + base64url(sha256(bytes)).slice(0, 27) + `"` (162 bits).
 */
export function masterListEtag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

/** The file's current content, or `undefined` if it does not exist yet. */
type Current = { readonly bytes: Buffer; readonly etag: string } | undefined;

/** A response decided by a handler. */
interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Close the connection after answering (request body left unread). */
  close?: boolean;
}

/**
 * Starts the store and resolves once it is listening.
 * Rejects with a {@link ConfigError} on invalid options, or with the
 * listen error (e.g. `EADDRINUSE`).
 */
export async function startMasterListStore(options: MasterListStoreOptions): Promise<MasterListStore> {
  const config = validate(options);
  const logger = options.logger ?? silentLogger;
  const log = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: LogFields): void =>
    safeLog(logger, level, message, fields);

  await prepareFile(config.file, log);
  if (config.authDigest === undefined) {
    log('warn', 'master-list store: no auth configured, PUT is open to anyone who can reach the port');
  }

  // Writes run one at a time: the precondition check and the rename must not
  // interleave with another PUT, or two writers holding the same ETag could
  // both succeed.
  let writeTail: Promise<unknown> = Promise.resolve();
  const serialise = <T>(task: () => Promise<T>): Promise<T> => {
    const run = writeTail.then(task, task);
    writeTail = run.catch(() => undefined);
    return run;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    if (!PATHS.has(path)) return send(res, errorReply(404, 'NOT_FOUND', 'only / and /master-list exist'));
    const method = req.method ?? '';
    if (method === 'GET' || method === 'HEAD') return send(res, await handleGet(config.file, req));
    if (method === 'PUT') return send(res, await handlePut(req));
    const reply = errorReply(405, 'METHOD_NOT_ALLOWED', `method ${method} not allowed`);
    reply.headers = { ...reply.headers, allow: ALLOW };
    return send(res, reply);
  };

  const handlePut = async (req: IncomingMessage): Promise<Reply> => {
    const remote = req.socket.remoteAddress;
    if (config.authDigest !== undefined && !authMatches(config.authDigest, req.headers.authorization)) {
      log('warn', 'master-list store: rejected PUT with missing or wrong Authorization', { remote });
      const reply = errorReply(401, 'UNAUTHORIZED', 'missing or wrong Authorization header');
      if (config.authScheme !== undefined) {
        reply.headers = { ...reply.headers, 'www-authenticate': `${config.authScheme} realm="clustershazbot master list"` };
      }
      // Do not read an unauthenticated body; drop the connection after answering.
      reply.close = true;
      return reply;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > config.maxBodyBytes) {
      log('warn', 'master-list store: PUT body too large', { remote, declared, limit: config.maxBodyBytes });
      return { ...errorReply(413, 'TOO_LARGE', `body exceeds ${config.maxBodyBytes} bytes`), close: true };
    }
    const body = await readBody(req, config.maxBodyBytes);
    if (body === 'too-large') {
      log('warn', 'master-list store: PUT body too large', { remote, limit: config.maxBodyBytes });
      return { ...errorReply(413, 'TOO_LARGE', `body exceeds ${config.maxBodyBytes} bytes`), close: true };
    }
    const problem = checkList(body);
    if (problem !== undefined) {
      log('debug', 'master-list store: rejected malformed PUT', { remote, problem });
      return errorReply(400, 'MALFORMED', problem);
    }
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    return serialise(async () => {
      const current = await readCurrent(config.file);
      const failed = preconditionFailure(current, ifMatch, ifNoneMatch);
      if (failed !== undefined) {
        log('debug', 'master-list store: PUT precondition failed', { remote, reason: failed });
        return errorReply(412, 'PRECONDITION_FAILED', failed, current && { etag: current.etag });
      }
      await writeAtomically(config.file, body);
      const etag = masterListEtag(body);
      log('info', 'master-list store: list updated', { remote, bytes: body.length, etag });
      return json(200, { ok: true }, { etag });
    });
  };

  const server: Server = createServer((req, res) => {
    res.on('error', (e) => log('debug', 'master-list store: response error', { error: e }));
    req.on('error', () => {
      // Aborted uploads surface here and in readBody; nothing else to do.
    });
    handle(req, res).catch((e: unknown) => {
      log('error', 'master-list store: request failed', { error: e, method: req.method });
      send(res, errorReply(500, 'INTERNAL', 'internal error'));
    });
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(config.port, config.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  server.on('error', (e) => log('error', 'master-list store: server error', { error: e }));

  const address = server.address();
  if (address === null || typeof address === 'string') {
    // Cannot happen for a TCP listen; fail loudly rather than guess a URL.
    server.close();
    throw new Error('master-list store: server has no TCP address');
  }
  const port = address.port;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${hostForUrl}:${port}/`;
  log('info', 'master-list store: listening', { url, file: config.file });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolveClose) => {
          server.close(() => resolveClose());
          // Keep-alive sockets would otherwise hold close() open for seconds.
          server.closeAllConnections();
        });
        // A PUT already past its checks finishes its rename, so no temp file
        // is left behind once close() resolves.
        await writeTail;
        log('info', 'master-list store: closed', { url });
      })();
      return closing;
    },
  };
}

interface Config {
  file: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  authDigest: Buffer | undefined;
  authScheme: string | undefined;
}

function validate(options: MasterListStoreOptions): Config {
  const problems: string[] = [];
  const { file, port = 0, host = '127.0.0.1', auth, maxBodyBytes = DEFAULT_MASTER_LIST_MAX_BODY_BYTES } = options;
  if (typeof file !== 'string' || file.length === 0) problems.push('file must be a non-empty path');
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push('port must be an integer from 0 to 65535');
  if (typeof host !== 'string' || host.length === 0) problems.push('host must be a non-empty string');
  if (auth !== undefined && (typeof auth !== 'string' || auth.length === 0)) {
    // An empty value is almost always an unset environment variable, not intent.
    problems.push('auth must be a non-empty string or undefined');
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) problems.push('maxBodyBytes must be a positive integer');
  if (problems.length > 0) throw new ConfigError(problems);
  const scheme = auth !== undefined && /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]* /.test(auth) ? auth.split(' ', 1)[0] : undefined;
  return {
    file: resolve(file),
    port,
    host,
    maxBodyBytes,
    authDigest: auth === undefined ? undefined : sha256(auth),
    authScheme: scheme,
  };
}

/** Creates the file's directory, refuses a directory as the file, and warns about an unusable existing list. */
async function prepareFile(file: string, log: (level: 'warn', message: string, fields?: LogFields) => void): Promise<void> {
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

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed to equal length first. */
function authMatches(expected: Buffer, header: string | undefined): boolean {
  return timingSafeEqual(expected, sha256(header ?? ''));
}

async function handleGet(file: string, req: IncomingMessage): Promise<Reply> {
  const current = await readCurrent(file);
  const bytes = current?.bytes ?? EMPTY_LIST;
  const etag = current?.etag ?? masterListEtag(EMPTY_LIST);
  const headers: Record<string, string> = { etag, 'cache-control': 'no-store' };
  // GET always has a representation (the empty list stands in for a missing
  // file), so `If-None-Match: *` matches; tags compare weakly per RFC 9110.
  if (tagListMatches(req.headers['if-none-match'], etag, true, true)) return { status: 304, headers };
  headers['content-type'] = 'application/json';
  return { status: 200, headers, body: bytes };
}

/** Why a PUT's preconditions fail, or undefined if it may proceed (RFC 9110 §13.1). */
function preconditionFailure(current: Current, ifMatch: string | undefined, ifNoneMatch: string | undefined): string | undefined {
  // A missing file is represented to readers by the empty list and its ETag,
  // so a first writer's If-Match with that ETag succeeds; `*` needs a real file.
  const etag = current?.etag ?? masterListEtag(EMPTY_LIST);
  if (ifMatch !== undefined && !tagListMatches(ifMatch, etag, current !== undefined, false)) {
    return current === undefined && isStar(ifMatch) ? 'If-Match: * but the list does not exist' : 'If-Match does not match the current ETag';
  }
  if (ifNoneMatch !== undefined && current !== undefined && tagListMatches(ifNoneMatch, current.etag, true, true)) {
    return 'If-None-Match matches the current list';
  }
  return undefined;
}

function isStar(header: string): boolean {
  return header.trim() === '*';
}

/**
 * Whether an `If-Match` / `If-None-Match` value matches `etag`. `*` matches
 * iff `exists`. Weak comparison ignores a `W/` prefix; strong comparison
 * never matches a weak tag.
 */
function tagListMatches(header: string | undefined, etag: string, exists: boolean, weak: boolean): boolean {
  if (header === undefined) return false;
  if (isStar(header)) return exists;
  // Our tags never contain commas, so a plain split cannot hide a match.
  for (const raw of header.split(',')) {
    let tag = raw.trim();
    if (tag.startsWith('W/')) {
      if (!weak) continue;
      tag = tag.slice(2);
    }
    if (tag === etag) return true;
  }
  return false;
}

async function readCurrent(file: string): Promise<Current> {
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
async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
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

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops reading
 * (the caller answers 413 and closes the connection) instead of buffering
 * the rest. Rejects if the client aborts.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        resolveBody('too-large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolveBody(Buffer.concat(chunks, total));
    };
    const onError = (e: Error): void => {
      cleanup();
      rejectBody(e);
    };
    const onClose = (): void => {
      cleanup();
      rejectBody(new Error('request closed before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Shallow check of a list body: UTF-8 JSON object whose `online` is an array
 * and whose `offline`, if present, is an array. Entries are left to the
 * servers, which validate them strictly. Returns the problem, or undefined.
 */
function checkList(bytes: Uint8Array): string | undefined {
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

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: Buffer.from(JSON.stringify(value), 'utf8'),
  };
}

function errorReply(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return json(status, { error: message, code }, headers);
}

/** Writes a reply unless the response is already gone (client aborted, or answered). */
function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body !== undefined) headers['content-length'] = String(reply.body.length);
  // `connection: close` makes node destroy the socket once the answer is
  // flushed, so an unread (unauthorised or oversized) body is never consumed.
  if (reply.close) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}

function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
