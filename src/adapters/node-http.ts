import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from '../engine/cluster.js';
import { isShazbotError, MalformedError, TooLargeError } from '../errors.js';

/** Options of {@link createNodeHandler}. */
export interface NodeHandlerOptions {
  /** Largest request body read, in bytes; larger ones get 413 without being buffered. @default 4_194_304 */
  maxBodyBytes?: number;
}

/** A `node:http` request listener that answers the clustershazbot routes and reports whether it did. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * Serves `gossip`, `list` and `control` under `<base path>clustershazbot/`
 * for a cluster instance (or, with a getter, for whichever instance is
 * current). Resolves `false`, without answering, for any other path, so it
 * can sit in front of an application's own handler. Errors become
 * `{"error": message, "code": code}` with the error's HTTP status.
 */
export function createNodeHandler(cluster: Cluster | (() => Cluster), options: NodeHandlerOptions = {}): NodeHandler {
  const maxBodyBytes = options.maxBodyBytes ?? 4_194_304;
  const current = typeof cluster === 'function' ? cluster : () => cluster;
  return async (req, res) => {
    let c: Cluster | undefined;
    let prefix = '/clustershazbot/';
    try {
      c = current();
      prefix = new URL(c.baseUrl).pathname + 'clustershazbot/';
    } catch (e) {
      // No instance yet: the routes exist but answer 503 (the error's status).
      c = undefined;
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (!path.startsWith(prefix)) return false;
      const err = isShazbotError(e) ? e : undefined;
      send(res, err?.status ?? 503, { error: err?.message ?? 'not started', code: err?.code ?? 'NOT_STARTED' });
      return true;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(prefix)) return false;
    const route = `${req.method ?? ''} ${path.slice(prefix.length)}`;
    const auth = req.headers.authorization ?? '';
    try {
      switch (route) {
        case 'POST gossip':
          send(res, 200, await c.handleGossip(auth, await readJson(req, maxBodyBytes)));
          return true;
        case 'GET list':
          send(res, 200, await c.handleList(auth));
          return true;
        case 'POST control':
          await c.handleControl(auth, await readJson(req, maxBodyBytes));
          send(res, 200, { success: true });
          return true;
        default:
          send(res, 404, { error: 'not found', code: 'NOT_FOUND' });
          return true;
      }
    } catch (e) {
      if (isShazbotError(e)) send(res, e.status, { error: e.message, code: e.code });
      else send(res, 500, { error: 'internal error', code: 'INTERNAL' });
      return true;
    }
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Reads and parses a JSON body of at most `limit` bytes. */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new TooLargeError(`body exceeds ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new TooLargeError(`body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (e) => {
      if (!failed) reject(new MalformedError('request body could not be read', { cause: e }));
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new MalformedError('body is not valid JSON', { cause: e }));
      }
    });
  });
}
