/**
 * `clustershazbot/express`: the routes as an Express router (Express 4.21+
 * or 5; `express` is an optional peer dependency).
 */
import { Router, type RequestHandler } from 'express';
import { createRequestHandler } from './node.js';
import type { AdapterOptions } from './routes.js';
import { nodeSessionRunner, type StateSessionOptions } from './state-session.js';

export type { AdapterOptions } from './routes.js';
export { SESSION_HEADER, type StateSessionOptions } from './state-session.js';

/**
 * An Express router answering every path under `/clustershazbot/` (404 for
 * unknown ones, 405 for a wrong method) and passing every other request on:
 *
 * ```ts
 * const app = express();
 * app.use(clustershazbotRouter()); // the default instance of shazbotStart()
 * app.use(express.json());         // the app's own parser and routes after it
 * ```
 *
 * If the instance's base URL has a path (`https://host/api/`), mount the
 * router there: `app.use('/api', clustershazbotRouter())`.
 *
 * The router reads request bodies itself, up to `maxBodyBytes` (4 MiB by
 * default; 413 beyond, without buffering the rest). Mounted after a body
 * parser such as `express.json()`, it uses the body that parser left in
 * `req.body`, but then that parser's own limit (100 kb by default) and its
 * error responses apply first: mount the router before any body parser.
 * Errors are answered with their status and `{"error", "code"}`; nothing a
 * request carries reaches Express's error handler.
 */
export function clustershazbotRouter(options: AdapterOptions = {}): Router {
  // Inside the mount below, req.url is the path after /clustershazbot.
  const handle = createRequestHandler({ ...options, prefix: '/' });
  const router = Router();
  router.use('/clustershazbot', (req, res, next) => {
    handle(req, res).catch(next);
  });
  return router;
}

/**
 * Middleware for read-your-writes across instances (see docs/state.md): a
 * request carrying a `clustershazbot-session` header waits until this
 * instance holds the writes it names (at most `timeoutMs`, default 2 s)
 * before the routes after it run; the map writes they make join the
 * session, and the response's `clustershazbot-session` header carries its
 * token.
 *
 * ```ts
 * app.use(clustershazbotRouter());
 * app.use(stateSessions());        // before the routes that read and write cluster.state
 * app.use(express.json());
 * ```
 *
 * Answers by itself: 400 `MALFORMED` for a header that is not a session
 * token, 503 `STALE_READ` (with `retry-after: 1`) when this instance has not
 * caught up in time, 503 `NOT_STARTED` without a running instance. Throws
 * ConfigError for a bad `timeoutMs`.
 */
export function stateSessions(options: StateSessionOptions = {}): RequestHandler {
  const run = nodeSessionRunner(options);
  return (req, res, next) => {
    run(req, res, () => next()).catch(next);
  };
}
