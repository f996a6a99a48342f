/** The framework-neutral routes: matching, answering, and error replies. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCluster } from '../engine/cluster.js';
import { world } from '../engine/test-cluster.js';
import { MalformedError, NotStartedError, TooLargeError, UnauthorizedError } from '../errors.js';
import { answerRoute, errorReply, matchRoute, resolveCluster, ROUTE_NAMES, routeMethod, routePath, routeTakesBody, type RouteReply } from './routes.js';

const CONTROL = 'routes-test-control-secret-0123';

/** An instance that is never started: the routes see it as created, not running. */
function idleCluster() {
  return createCluster({
    baseUrl: 'http://127.0.0.1:1/',
    secret: 'routes-test-gossip-secret-0123',
    controlSecret: CONTROL,
    masterListUrl: 'http://127.0.0.1:1/',
  });
}

function parsed(reply: RouteReply): unknown {
  return JSON.parse(reply.body);
}

describe('matchRoute', () => {
  it('finds each route by its method; HEAD counts as GET', () => {
    for (const route of ROUTE_NAMES) {
      const options = { dashboard: true };
      expect(matchRoute(routeMethod(route), routePath(route), options)).toEqual({ route });
      if (routeMethod(route) === 'GET') expect(matchRoute('HEAD', routePath(route), options)).toEqual({ route });
    }
    expect(ROUTE_NAMES.filter(routeTakesBody)).toEqual(['gossip', 'control']);
    expect(ROUTE_NAMES.map(routePath)).toEqual(['gossip', 'list', 'control', 'health', 'health/ready', 'info', 'dashboard']);
    // A route's name is not its path when they differ.
    expect('reply' in matchRoute('GET', 'ready') && matchRoute('GET', 'ready')).toMatchObject({ reply: { status: 404 } });
  });

  it('answers 405 with Allow for another method, and 404 for an unknown or disabled route', () => {
    const wrong = matchRoute('PUT', 'gossip');
    expect('reply' in wrong && [wrong.reply.status, wrong.reply.headers.allow, parsed(wrong.reply)]).toEqual([
      405, 'POST', { error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' },
    ]);
    for (const subpath of ['dashboard', 'Gossip', 'gossip/', '', '__proto__', 'constructor', 'toString']) {
      const match = matchRoute('GET', subpath);
      expect('reply' in match && [match.reply.status, parsed(match.reply)], subpath).toEqual([404, { error: 'not found', code: 'NOT_FOUND' }]);
    }
  });

  it('never throws, and anything but a known route gets a JSON 404 or 405', () => {
    fc.assert(fc.property(fc.string(), fc.string(), fc.boolean(), (method, subpath, dashboard) => {
      const match = matchRoute(method, subpath, { dashboard });
      if ('route' in match) return ROUTE_NAMES.map(routePath).includes(subpath);
      return [404, 405].includes(match.reply.status) && typeof parsed(match.reply) === 'object';
    }));
  });
});

describe('resolveCluster', () => {
  it('takes an instance, a function, or the default instance (none before shazbotStart)', () => {
    const cluster = idleCluster();
    expect(resolveCluster({ cluster })).toBe(cluster);
    expect(resolveCluster({ cluster: () => cluster })).toBe(cluster);
    expect(resolveCluster({})).toBeUndefined();
  });
});

describe('answerRoute', () => {
  it('answers 503 without an instance: health and readiness as idle, every other route NOT_STARTED', async () => {
    const health = await answerRoute(undefined, 'health', undefined, undefined);
    expect([health.status, parsed(health)]).toEqual([503, { healthy: false, status: 'idle' }]);
    const ready = await answerRoute(undefined, 'ready', undefined, undefined);
    expect([ready.status, parsed(ready)]).toEqual([503, { ready: false, status: 'idle' }]);
    for (const route of ROUTE_NAMES.filter((r) => r !== 'health' && r !== 'ready')) {
      const reply = await answerRoute(undefined, route, `Bearer ${CONTROL}`, {});
      expect([reply.status, parsed(reply)], route).toEqual([503, { error: 'clustershazbot is not started', code: 'NOT_STARTED' }]);
    }
  });

  it('answers an instance that is not running yet with 503, and no-store JSON', async () => {
    const cluster = idleCluster();
    const health = await answerRoute(cluster, 'health', undefined, undefined);
    expect([health.status, parsed(health)]).toEqual([503, { healthy: false, status: 'idle' }]);
    const ready = await answerRoute(cluster, 'ready', undefined, undefined);
    expect([ready.status, parsed(ready)]).toEqual([503, { ready: false, status: 'idle' }]);
    expect(health.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    const list = await answerRoute(cluster, 'list', undefined, undefined);
    expect([list.status, parsed(list)]).toEqual([503, { error: 'clustershazbot is not started', code: 'NOT_STARTED' }]);
  });

  it('answers readiness 503 until the instance runs, then 200', async () => {
    const w = world(5);
    const cluster = w.make(0);
    const before = await answerRoute(cluster, 'ready', undefined, undefined);
    expect([before.status, parsed(before)]).toEqual([503, { ready: false, status: 'idle' }]);
    await Promise.all([cluster.start(), w.clock.advance(100)]);
    const after = await answerRoute(cluster, 'ready', undefined, undefined);
    expect([after.status, parsed(after)]).toEqual([200, { ready: true, status: 'running' }]);
    await Promise.all([cluster.shutdown(), w.clock.advance(100)]);
    expect((await answerRoute(cluster, 'ready', undefined, undefined)).status).toBe(503);
  });

  it('asks a browser for the secret on the dashboard only, and never echoes a wrong one', async () => {
    const cluster = idleCluster();
    const forged = 'Bearer a-guess-at-the-control-secret';
    const dashboard = await answerRoute(cluster, 'dashboard', forged, undefined);
    expect([dashboard.status, dashboard.headers['www-authenticate']]).toEqual([401, 'Basic realm="clustershazbot", charset="UTF-8"']);
    const info = await answerRoute(cluster, 'info', forged, undefined);
    expect([info.status, info.headers['www-authenticate']]).toEqual([401, undefined]);
    expect(info.body + dashboard.body).not.toContain('a-guess');
    // Not a string at all (a framework may hand over an array): refused, not thrown.
    const odd = await answerRoute(cluster, 'info', ['Bearer', CONTROL] as never, undefined);
    expect(odd.status).toBe(401);
  });

  it('serves the dashboard page with the control secret, as Bearer or Basic password', async () => {
    const cluster = idleCluster();
    for (const auth of [`Bearer ${CONTROL}`, `Basic ${Buffer.from(`any:${CONTROL}`).toString('base64')}`]) {
      const page = await answerRoute(cluster, 'dashboard', auth, undefined);
      expect(page.status).toBe(200);
      expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'x-frame-options': 'DENY' });
      expect(page.headers['content-security-policy']).toBeTruthy();
    }
  });
});

describe('errorReply', () => {
  it('gives each typed error its status and code', () => {
    const cases: Array<[Error, number, string]> = [
      [new MalformedError('bad'), 400, 'MALFORMED'],
      [new UnauthorizedError(), 401, 'UNAUTHORIZED'],
      [new UnauthorizedError('seen', 'REPLAYED'), 401, 'REPLAYED'],
      [new TooLargeError('big'), 413, 'TOO_LARGE'],
      [new NotStartedError('gone', 'STOPPED'), 503, 'STOPPED'],
    ];
    for (const [error, status, code] of cases) {
      const reply = errorReply(error);
      expect([reply.status, parsed(reply)]).toEqual([status, { error: error.message, code }]);
    }
  });

  it('answers anything else with a bare 500 that tells nothing', () => {
    for (const error of [new Error('db password is hunter2'), 'a string', undefined, { status: 400 }]) {
      const reply = errorReply(error);
      expect([reply.status, reply.body]).toEqual([500, '{"error":"internal error","code":"INTERNAL"}']);
    }
  });
});
