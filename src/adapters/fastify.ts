/**
 * `clustershazbot/fastify`: the routes as a Fastify 5 plugin (`fastify` and
 * `fastify-plugin` are optional peer dependencies).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { MalformedError, TooLargeError } from '../errors.js';
import {
  answerRoute, DEFAULT_MAX_BODY_BYTES, errorReply, matchRoute, resolveCluster, routeTakesBody,
  type AdapterOptions, type RouteReply,
} from './routes.js';
import { checkSessionOptions, openSession, runWithSession, SESSION_HEADER, type StateSessionOptions } from './state-session.js';

export type { AdapterOptions } from './routes.js';
export { SESSION_HEADER, type StateSessionOptions } from './state-session.js';

/**
 * Serves the routes under `/clustershazbot/` (404 for unknown sub-paths,
 * 405 for a wrong method; HEAD as GET):
 *
 * ```ts
 * const app = Fastify();
 * await app.register(clustershazbotPlugin, { dashboard: true });
 * ```
 *
 * If the instance's base URL has a path (`https://host/api/`), register it
 * with that prefix: `app.register(clustershazbotPlugin, { prefix: '/api' })`
 * (or inside a plugin registered with it).
 *
 * Bodies go through Fastify's own JSON parser, limited to `maxBodyBytes`
 * (4 MiB by default) on these routes whatever the app's `bodyLimit`. Its
 * errors are answered in this library's shape: a body over the limit gets
 * 413 `TOO_LARGE`; invalid JSON, an empty JSON body, and a body that is not
 * `application/json` (another or no content-type) get 400 `MALFORMED` rather
 * than Fastify's 415, as every adapter answers a body it cannot use. That
 * error handler applies to these routes only; the app's stays as it is.
 */
export const clustershazbotPlugin = fp(
  async (app: FastifyInstance, options: AdapterOptions) => {
    // An encapsulated child: its error handler does not leak into the app.
    // fastify-plugin makes Fastify ignore `prefix` here; handed on, it applies to the child.
    await app.register(routes, options);
  },
  { name: 'clustershazbot', fastify: '5.x' },
);

/**
 * Read-your-writes across instances (see docs/state.md) for the routes of
 * the context it is registered in (and its children): a request carrying a
 * `clustershazbot-session` header waits, once its body is parsed and
 * validated, until this instance holds the writes it names (at most
 * `timeoutMs`, default 2 s); the map writes its handler makes join the
 * session, and the reply's `clustershazbot-session` header carries its token.
 *
 * ```ts
 * await app.register(clustershazbotPlugin);
 * await app.register(stateSessions);   // or stateSessions, { timeoutMs: 1000 }
 * ```
 *
 * Answers by itself (a `preHandler` hook): 400 `MALFORMED` for a header that
 * is not a session token, 503 `STALE_READ` (with `retry-after: 1`) when this
 * instance has not caught up in time, 503 `NOT_STARTED` without a running
 * instance. Registering it with a bad `timeoutMs` fails with ConfigError.
 */
export const stateSessions = fp(
  async (app: FastifyInstance, options: StateSessionOptions) => {
    const timeoutMs = checkSessionOptions(options);
    app.addHook('preHandler', (request, reply, done) => {
      void openSession(options, timeoutMs, request.headers[SESSION_HEADER]).then((gate) => {
        if ('reply' in gate) {
          send(reply, gate.reply);
          return;
        }
        const setHeader = (token: string): void => {
          if (!reply.sent) reply.header(SESSION_HEADER, token);
        };
        // done() runs the handler synchronously: it and what it awaits belong to the session.
        runWithSession(gate.token, setHeader, () => done());
      });
    });
  },
  { name: 'clustershazbot-sessions', fastify: '5.x' },
);

const NOT_JSON = 'content-type must be application/json';

async function routes(app: FastifyInstance, options: AdapterOptions): Promise<void> {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A wrong path or method is answered as such, whatever its body was.
    const match = matchRoute(request.method, subpathOf(request), options);
    return send(reply, 'reply' in match ? match.reply : errorReply(bodyError(error, limit)));
  });
  app.all('/clustershazbot/*', { bodyLimit: limit }, async (request, reply) => {
    const match = matchRoute(request.method, subpathOf(request), options);
    if ('reply' in match) return send(reply, match.reply);
    const takesBody = routeTakesBody(match.route);
    // Fastify's text/plain parser hands over a string: the content-type was not JSON.
    if (takesBody && typeof request.body === 'string') return send(reply, errorReply(new MalformedError(NOT_JSON)));
    // Fastify leaves the body undefined when there is none; the other adapters read that as {}.
    const body = takesBody ? (request.body ?? {}) : undefined;
    return send(reply, await answerRoute(resolveCluster(options), match.route, request.headers.authorization, body));
  });
}

function subpathOf(request: FastifyRequest): string {
  return (request.params as { '*'?: string })['*'] ?? '';
}

/** Fastify's body-parsing errors as this library's; anything else stays as it is (500). */
function bodyError(error: FastifyError, limit: number): unknown {
  switch (error.statusCode) {
    case 413:
      return new TooLargeError(`body exceeds ${limit} bytes`);
    case 415:
      return new MalformedError(NOT_JSON);
    case 400:
      return new MalformedError('body is not valid JSON');
    default:
      return error;
  }
}

function send(reply: FastifyReply, routeReply: RouteReply): FastifyReply {
  return reply.code(routeReply.status).headers(routeReply.headers).send(routeReply.body);
}
