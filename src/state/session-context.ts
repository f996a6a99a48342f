/**
 * Read-your-writes sessions of HTTP requests: while a request's handler runs
 * inside {@link runWithSession}, every successful local map write it makes
 * (reported by write-observers.ts, in the writer's async context) joins the
 * request's session, and the response's `clustershazbot-session` header is
 * set to the token of the session it came with plus those writes. The
 * client sends that header back with its next request; the adapters wait,
 * bounded, until the instance answering it holds those writes
 * (src/adapters/state-session.ts).
 *
 * A session keeps the newest version per key and the {@link MAX_TOKEN_ENTRIES}
 * most recent keys (see session.ts). Counter writes carry no per-key version
 * and do not join. The context is Node's AsyncLocalStorage: work the handler
 * starts (awaited or not) belongs to its request; writes made after the
 * response's headers were sent still join the session, but can no longer
 * reach the header.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { decodeToken, encodeToken, MAX_TOKEN_ENTRIES, mergeSessions, type SessionWrite } from './session.js';
import { onStateWrite, type StateWrite } from './write-observers.js';

/** The request and response header that carries a session token. */
export const SESSION_HEADER = 'clustershazbot-session';

interface Session {
  /** The incoming session's writes, then this request's, most recent last. */
  writes: SessionWrite[];
  readonly setHeader: (token: string) => void;
}

const storage = new AsyncLocalStorage<Session>();
let observing = false;

function record(write: StateWrite): void {
  const session = storage.getStore();
  if (session === undefined) return;
  session.writes = mergeSessions(session.writes, [write]).slice(-MAX_TOKEN_ENTRIES);
  session.setHeader(encodeToken(session.writes));
}

/**
 * Runs `fn` as one request of the session named by `incomingHeader` (the
 * request's `clustershazbot-session` header; undefined or blank: a new
 * session) and returns what `fn` returns.
 *
 * `setHeader(token)` is called with the session's token at once when the
 * request came with a non-empty session (so every response of a session
 * carries its current token), then again after each map write the request
 * makes. It must set the response header only while the headers have not
 * been sent, and must not throw.
 *
 * Throws MalformedError (400), without calling anything, if
 * `incomingHeader` is not a valid token. It does not wait for the replica
 * to hold the incoming session's writes: the adapters do that first.
 */
export function runWithSession<T>(incomingHeader: string | undefined, setHeader: (token: string) => void, fn: () => T): T {
  const text = incomingHeader?.trim() ?? '';
  const incoming = text === '' ? [] : decodeToken(text);
  if (!observing) {
    // Subscribed on first use rather than at import: the package is marked free of side effects.
    observing = true;
    onStateWrite(record);
  }
  const session: Session = { writes: mergeSessions(incoming).slice(-MAX_TOKEN_ENTRIES), setHeader };
  if (session.writes.length > 0) setHeader(encodeToken(session.writes));
  return storage.run(session, fn);
}

