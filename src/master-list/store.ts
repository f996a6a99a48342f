/**
 * A tiny HTTP store for the master list, so local and single-host users need
 * no external service. The same URL answers GET (for `SHAZBOT_MASTER_LIST`)
 * and PUT (for `SHAZBOT_MASTER_LIST_UPDATE`). Writes are atomic on disk
 * (temp file, fsync, rename) and guarded by ETags (`If-Match`,
 * `If-None-Match: *`), so servers can GET-merge-PUT without losing each
 * other's updates.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { safeLog, silentLogger, type LogFields, type Logger } from '../core/logger.js';
import { ConfigError } from '../errors.js';
import { EMPTY_LIST, masterListEtag, preconditionFailure, tagListMatches } from './etag.js';
import { errorReply, json, readBody, send, type Reply } from './http-reply.js';
import { checkList, prepareFile, readCurrent, writeAtomically } from './list-file.js';

export { masterListEtag } from './etag.js';

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

const PATHS: ReadonlySet<string> = new Set(['/', '/master-list']);
const ALLOW = 'GET, HEAD, PUT';

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
