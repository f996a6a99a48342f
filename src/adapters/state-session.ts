/**
 * Read-your-writes across instances, for the application's own routes,
 * independent of any framework: a request that carries a
 * `clustershazbot-session` header waits (bounded) until this instance holds
 * the writes it names, then its handler runs inside the session
 * (src/state/session-context.ts), so the writes it makes come back in the
 * response's header. Each adapter wraps {@link openSession} and
 * {@link runWithSession} in its framework's middleware shape.
 *
 * Answers, instead of running the handler: 400 `MALFORMED` for a header that
 * is not a session token; 503 `STALE_READ` with `retry-after: 1` when this
 * instance has not caught up within `timeoutMs`; 503 `NOT_STARTED` (or
 * `STOPPED`) when there is no running instance to wait on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, NotStartedError } from '../errors.js';
import { DEFAULT_CAUGHT_UP_MS } from '../state/caught-up.js';
import { StaleReadError } from '../state/errors.js';
import { runWithSession, SESSION_HEADER } from '../state/session-context.js';
import { decodeToken } from '../state/session.js';
import { errorReply, resolveCluster, type AdapterOptions, type RouteReply } from './routes.js';

export { runWithSession, SESSION_HEADER };

/** Options of the adapters' session middleware. */
export interface StateSessionOptions {
  /** The instance whose state the requests read, or a function returning it. @default the default instance of `shazbotStart()` */
  cluster?: AdapterOptions['cluster'];
  /**
   * How long a request carrying a session waits, in ms, for this instance to
   * hold the writes it names before it is answered 503 `STALE_READ`. Longer
   * rides out a slower spread; shorter frees the client sooner to retry
   * (elsewhere). @default 2000
   */
  timeoutMs?: number;
}

/** What to do with a request: run the handler in the session of `token` (undefined: a new one), or send `reply`. */
export type SessionGate = { readonly token: string | undefined } | { readonly reply: RouteReply };

/**
 * How long past `timeoutMs` the adapter stops waiting by itself, in ms: the
 * replica's own timer is gone once its instance shuts down, and a request
 * must never wait for ever.
 */
const BACKSTOP_GRACE_MS = 1_000;

/** Throws ConfigError for options a session middleware cannot use; returns the wait in ms. */
export function checkSessionOptions(options: StateSessionOptions): number {
  const ms = options.timeoutMs ?? DEFAULT_CAUGHT_UP_MS;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new ConfigError([`session timeoutMs: must be a finite number of ms ≥ 0, got ${String(ms)}`]);
  }
  return ms;
}

/** The header's text, or undefined when absent or blank. Repeated headers (joined by Node with ", ") stay malformed. */
function headerText(header: string | readonly string[] | undefined): string | undefined {
  const text = (typeof header === 'string' ? header : header?.join(', ') ?? '').trim();
  return text === '' ? undefined : text;
}

/**
 * Checks the request's session header and waits until this instance holds
 * the writes it names, at most `timeoutMs`. Never rejects.
 */
export async function openSession(
  options: StateSessionOptions,
  timeoutMs: number,
  header: string | readonly string[] | undefined,
): Promise<SessionGate> {
  const token = headerText(header);
  if (token === undefined) return { token };
  try {
    if (decodeToken(token).length === 0) return { token };
    const cluster = resolveCluster(options);
    if (cluster === undefined) throw new NotStartedError();
    await bounded(cluster.state.caughtUp(token, timeoutMs), timeoutMs);
    return { token };
  } catch (e) {
    const reply = errorReply(e);
    return { reply: reply.status === 503 ? { ...reply, headers: { ...reply.headers, 'retry-after': '1' } } : reply };
  }
}

/** `wait`, or StaleReadError if it has not settled {@link BACKSTOP_GRACE_MS} after `timeoutMs`. */
function bounded(wait: Promise<void>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StaleReadError(timeoutMs)), timeoutMs + BACKSTOP_GRACE_MS);
    timer.unref();
    wait.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** A session middleware for node:http-style requests and responses (node:http, Express, Nest on Express). */
export type NodeSessionRunner = (req: IncomingMessage, res: ServerResponse, handler: () => unknown) => Promise<boolean>;

/**
 * The session middleware for node:http-style requests: resolves true once
 * `handler` ran in the request's session and what it returned settled
 * (rejecting with what it threw), or false when it answered 400 or 503
 * itself without calling `handler`. Throws ConfigError for bad options.
 */
export function nodeSessionRunner(options: StateSessionOptions): NodeSessionRunner {
  const timeoutMs = checkSessionOptions(options);
  return async (req, res, handler) => {
    const gate = await openSession(options, timeoutMs, req.headers[SESSION_HEADER]);
    if ('reply' in gate) {
      // The handler never reads this body: discard it, so the connection can be reused.
      if (!req.readableEnded) req.resume();
      sendNodeReply(req, res, gate.reply);
      return false;
    }
    const setHeader = (token: string): void => {
      if (!res.headersSent) res.setHeader(SESSION_HEADER, token);
    };
    await runWithSession(gate.token, setHeader, handler);
    return true;
  };
}

function sendNodeReply(req: IncomingMessage, res: ServerResponse, reply: RouteReply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}
