/**
 * `clustershazbot/node`: the routes as a `node:http` request handler, for
 * plain servers and for frameworks without an adapter of their own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBodyAndText } from './body.js';
import {
  answerRoute, DEFAULT_MAX_BODY_BYTES, errorReply, matchRoute, resolveCluster, routeTakesBody,
  type AdapterOptions, type RouteReply,
} from './routes.js';
import { nodeSessionRunner, type StateSessionOptions } from './state-session.js';

export type { AdapterOptions } from './routes.js';
export { SESSION_HEADER, type StateSessionOptions } from './state-session.js';

/** Options of {@link createRequestHandler}. */
export interface NodeAdapterOptions extends AdapterOptions {
  /**
   * Path under which the routes live, ending in `/`.
   * @default the path of the served instance's base URL + `clustershazbot/` (usually `/clustershazbot/`)
   */
  prefix?: string;
}

/** Answers the clustershazbot routes; resolves whether it answered (false: not one of ours, nothing was sent). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * A request handler for `node:http` (or anything that passes its request
 * and response objects). It answers every path under the prefix (404 for
 * unknown ones) and resolves `false`, without touching the response, for
 * any other path, so it can sit in front of an application's own handler:
 *
 * ```ts
 * const clustershazbot = createRequestHandler();
 * createServer(async (req, res) => {
 *   if (await clustershazbot(req, res)) return;
 *   res.end('my app');
 * }).listen(3000);
 * ```
 *
 * It never rejects: errors become their status and `{"error", "code"}`.
 */
export function createRequestHandler(options: NodeAdapterOptions = {}): RequestHandler {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req, res) => {
    const cluster = resolveCluster(options);
    const prefix = options.prefix ?? prefixOf(cluster?.baseUrl);
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(prefix)) return false;
    const match = matchRoute(req.method ?? 'GET', path.slice(prefix.length), options);
    if ('reply' in match) {
      drain(req);
      send(req, res, match.reply);
      return true;
    }
    let reply: RouteReply;
    try {
      const body = routeTakesBody(match.route) ? await readJsonBodyAndText(req, limit) : undefined;
      reply = await answerRoute(cluster, match.route, req.headers.authorization, body?.value, body?.text);
    } catch (e) {
      drain(req);
      reply = errorReply(e);
    }
    send(req, res, reply);
    return true;
  };
}

/**
 * Runs `handler` as a request of the client's read-your-writes session (see
 * docs/state.md): if the request carries a `clustershazbot-session` header,
 * first waits until this instance holds the writes it names (at most
 * `options.timeoutMs`, default 2 s); then every map write `handler` makes
 * (awaited or not) joins the session, and the response's
 * `clustershazbot-session` header is set to its token while the headers
 * have not been sent.
 *
 * ```ts
 * createServer(async (req, res) => {
 *   if (await clustershazbot(req, res)) return;
 *   await withStateSession(req, res, () => app(req, res));
 * }).listen(3000);
 * ```
 *
 * Answers by itself, without calling `handler`: 400 `MALFORMED` for a
 * header that is not a session token, 503 `STALE_READ` (with
 * `retry-after: 1`) when this instance has not caught up in time, 503
 * `NOT_STARTED` without a running instance. Resolves true once `handler`
 * ran and what it returned settled (rejecting with what it threw), false
 * when it answered by itself. Rejects with ConfigError for a bad `timeoutMs`.
 */
export async function withStateSession(
  req: IncomingMessage,
  res: ServerResponse,
  handler: () => unknown,
  options: StateSessionOptions = {},
): Promise<boolean> {
  return nodeSessionRunner(options)(req, res, handler);
}

/** `/<base path>clustershazbot/` for a base URL; `/clustershazbot/` when there is none yet. */
function prefixOf(baseUrl: string | undefined): string {
  if (baseUrl === undefined) return '/clustershazbot/';
  return new URL(baseUrl).pathname + 'clustershazbot/';
}

/** Discards whatever is left of a request body, so the connection can be reused. */
function drain(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}

function send(req: IncomingMessage, res: ServerResponse, reply: RouteReply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}
