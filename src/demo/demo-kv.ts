/**
 * The demo server's two small routes on a replicated map (the demo's state
 * scene uses them):
 *
 * - `PUT /demo/kv/<key>`: the JSON body becomes the key's value on this
 *   server (a `local` write, spread to the others by gossip); answers
 *   `{key, version, acks}`. 400 for a body that is not JSON or a bad key,
 *   413 for a body over {@link MAX_BODY_BYTES}, 503 before the cluster runs.
 * - `GET /demo/kv`: `{size, ready, sizeWhenReady, sample}`: how many keys this
 *   server holds, whether its state is ready (its initial sync verified),
 *   how many keys it held at the moment it became ready, and at most
 *   {@link SAMPLE} entries (never the whole map).
 * - `GET /demo/kv/<key>`: `{key, value, version, writer}`, or 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isShazbotError } from '../errors.js';
import type { JsonValue, StateMap } from '../state/types.js';

/** Largest PUT body accepted. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Entries shown by `GET /demo/kv`. */
const SAMPLE = 5;
const PREFIX = '/demo/kv';

/** What the routes need of the server. */
export interface DemoKvSource {
  readonly map: StateMap;
  /** Whether the replicated state is ready now. */
  ready(): boolean;
  /** The map's size when the state became ready, once it has. */
  sizeWhenReady(): number | undefined;
}

/** Handles the `/demo/kv` routes; resolves false for any other path (nothing answered). */
export function createDemoKvHandler(source: DemoKvSource): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
    const rest = path.slice(PREFIX.length + 1);
    try {
      if (path === PREFIX || rest === '') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
        const sample: Array<[string, JsonValue]> = [];
        for (const entry of source.map.entries()) {
          if (sample.length === SAMPLE) break;
          sample.push(entry);
        }
        return reply(res, 200, { size: source.map.size, ready: source.ready(), sizeWhenReady: source.sizeWhenReady() ?? null, sample });
      }
      let key: string;
      try {
        key = decodeURIComponent(rest);
      } catch {
        return reply(res, 400, { error: 'the key is not valid percent-encoding', code: 'MALFORMED' });
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const entry = source.map.getEntry(key);
        if (entry === undefined) return reply(res, 404, { error: 'no such key', code: 'NOT_FOUND' });
        return reply(res, 200, { key, value: entry.value, version: entry.version, writer: entry.writer });
      }
      if (req.method !== 'PUT') return reply(res, 405, { error: 'use GET or PUT' }, { allow: 'GET, HEAD, PUT' });
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) return reply(res, 413, { error: `the body is over ${MAX_BODY_BYTES} bytes`, code: 'TOO_LARGE' }, { connection: 'close' });
      let value: JsonValue;
      try {
        value = JSON.parse(body) as JsonValue;
      } catch {
        return reply(res, 400, { error: 'the body is not JSON', code: 'MALFORMED' });
      }
      const written = await source.map.set(key, value);
      return reply(res, 200, { key, version: written.version ?? null, acks: written.acks });
    } catch (e) {
      if (isShazbotError(e)) return reply(res, e.status, { error: e.message, code: e.code });
      throw e;
    }
  };
}

/** The body as text, or undefined once it passes `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
  return true;
}
