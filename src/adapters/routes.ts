/**
 * The clustershazbot routes, independent of any framework. Each adapter
 * (node:http, Express, Fastify, Nest) finds the route with
 * {@link matchRoute}, reads the body when the route takes one, and sends
 * what {@link answerRoute} returns. Keeping the behaviour here keeps every
 * adapter's status codes, headers and error bodies the same.
 */
import { dashboardPage } from '../dashboard/page.js';
import { getDefaultCluster } from '../default-instance.js';
import type { Cluster } from '../engine/cluster.js';
import { isShazbotError, NotStartedError } from '../errors.js';

/** Options every adapter takes. */
export interface AdapterOptions {
  /**
   * The instance to serve, or a function returning the current one.
   * @default the default instance of `shazbotStart()` (routes answer 503 until it exists)
   */
  cluster?: Cluster | (() => Cluster | undefined);
  /** Largest request body, in bytes; a larger one gets 413 without being buffered. @default 4 MiB */
  maxBodyBytes?: number;
  /** Serve the live dashboard at `GET clustershazbot/dashboard` (behind the control secret). @default false */
  dashboard?: boolean;
}

/** Default {@link AdapterOptions.maxBodyBytes}: a whole list of 20,000 servers fits (defined in protocol/limits.ts, which the engine reads too). */
export { DEFAULT_MAX_BODY_BYTES } from '../protocol/limits.js';

/** A route under `<base path>clustershazbot/`. */
export type RouteName = 'gossip' | 'list' | 'control' | 'health' | 'ready' | 'info' | 'dashboard';

interface RouteSpec {
  readonly method: 'GET' | 'POST';
  /** Whether the route reads a JSON body. */
  readonly body: boolean;
  /** Its path under `clustershazbot/`. */
  readonly path: string;
}

const ROUTES: Readonly<Record<RouteName, RouteSpec>> = {
  gossip: { method: 'POST', body: true, path: 'gossip' },
  list: { method: 'GET', body: false, path: 'list' },
  control: { method: 'POST', body: true, path: 'control' },
  health: { method: 'GET', body: false, path: 'health' },
  ready: { method: 'GET', body: false, path: 'health/ready' },
  info: { method: 'GET', body: false, path: 'info' },
  dashboard: { method: 'GET', body: false, path: 'dashboard' },
};

/** The names of the routes. */
export const ROUTE_NAMES = Object.keys(ROUTES) as readonly RouteName[];

/** Route names by path under `clustershazbot/`. */
const BY_PATH: ReadonlyMap<string, RouteName> = new Map(ROUTE_NAMES.map((name) => [ROUTES[name].path, name]));

/** The method of a route. */
export function routeMethod(route: RouteName): 'GET' | 'POST' {
  return ROUTES[route].method;
}

/** The path of a route under `clustershazbot/` (`health/ready` for 'ready'; the name itself for the others). */
export function routePath(route: RouteName): string {
  return ROUTES[route].path;
}

/** Whether a route reads a JSON request body. */
export function routeTakesBody(route: RouteName): boolean {
  return ROUTES[route].body;
}

/** Outcome of {@link matchRoute}: the route, or the reply for a path or method that has none. */
export type RouteMatch = { readonly route: RouteName } | { readonly reply: RouteReply };

/** What to send: status, headers and body text. */
export interface RouteReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Finds the route for `method` and `subpath` (the path after
 * `clustershazbot/`, no query). Unknown paths get 404, known paths with
 * another method 405 (with `Allow`); HEAD is treated as GET.
 */
export function matchRoute(method: string, subpath: string, options: AdapterOptions = {}): RouteMatch {
  const name = BY_PATH.get(subpath);
  if (name === undefined || (name === 'dashboard' && options.dashboard !== true)) {
    return { reply: jsonReply(404, { error: 'not found', code: 'NOT_FOUND' }) };
  }
  const spec = ROUTES[name];
  const m = method === 'HEAD' ? 'GET' : method;
  if (m !== spec.method) {
    return { reply: { ...jsonReply(405, { error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' }), headers: { ...JSON_HEADERS, allow: spec.method } } };
  }
  return { route: name };
}

/** The instance an adapter serves right now, or undefined before the default one exists. */
export function resolveCluster(options: AdapterOptions): Cluster | undefined {
  const c = options.cluster;
  if (c === undefined) return getDefaultCluster();
  return typeof c === 'function' ? c() : c;
}

/**
 * Answers `route` for `cluster` (undefined: not started yet). `body` is the
 * parsed JSON body for routes that take one, and `raw`, when the adapter has
 * it, the exact text it was parsed from (gossip signatures are checked over
 * it first). Never rejects: every error becomes its status and `{"error", "code"}`.
 */
export async function answerRoute(
  cluster: Cluster | undefined,
  route: RouteName,
  authorization: string | undefined,
  body: unknown,
  raw?: string,
): Promise<RouteReply> {
  const auth = typeof authorization === 'string' ? authorization : '';
  try {
    if (cluster === undefined) {
      if (route === 'health') return jsonReply(503, { healthy: false, status: 'idle' });
      if (route === 'ready') return jsonReply(503, { ready: false, status: 'idle' });
      throw new NotStartedError();
    }
    switch (route) {
      case 'gossip':
        return { status: 200, headers: JSON_HEADERS, body: (await cluster.handleGossipWire(auth, body, raw)).text };
      case 'list':
        return jsonReply(200, await cluster.handleList(auth));
      case 'control':
        await cluster.handleControl(auth, body);
        return jsonReply(200, { success: true });
      case 'health': {
        const h = cluster.health();
        return jsonReply(h.healthy ? 200 : 503, h);
      }
      case 'ready': {
        const ready = cluster.ready();
        return jsonReply(ready ? 200 : 503, { ready, status: cluster.status });
      }
      case 'info':
        return jsonReply(200, await cluster.handleInfo(auth));
      case 'dashboard': {
        await cluster.handleInfo(auth); // the same secret as the info view it polls
        const page = dashboardPage();
        return {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            'content-security-policy': page.contentSecurityPolicy,
            'x-content-type-options': 'nosniff',
            'x-frame-options': 'DENY',
            'referrer-policy': 'no-referrer',
          },
          body: page.html,
        };
      }
    }
  } catch (e) {
    const reply = errorReply(e);
    if (route === 'dashboard' && reply.status === 401) {
      // Lets a browser ask for the control secret (as the password of HTTP Basic).
      return { ...reply, headers: { ...reply.headers, 'www-authenticate': 'Basic realm="clustershazbot", charset="UTF-8"' } };
    }
    return reply;
  }
}

/** The reply for an error: a ShazbotError's status and code, or 500 without details. */
export function errorReply(e: unknown): RouteReply {
  if (isShazbotError(e)) return jsonReply(e.status, { error: e.message, code: e.code });
  return jsonReply(500, { error: 'internal error', code: 'INTERNAL' });
}

const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function jsonReply(status: number, body: unknown): RouteReply {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}
