/**
 * The same assertions for every framework adapter: each adapter's test file
 * describes how to serve an instance with its framework (a {@link Harness})
 * and calls {@link adapterSuite}. Three real servers of that framework on
 * 127.0.0.1 gossip through a real master-list store; every wait polls with a
 * deadline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterOptions } from '../../src/config.js';
import { cryptoRandom } from '../../src/core/system-random.js';
import { createCluster, type Cluster } from '../../src/engine/cluster.js';
import { startMasterListStore, type MasterListStore } from '../../src/master-list/store.js';
import { makeNonce, signRequest } from '../../src/protocol/signature.js';
import { pollUntil } from './processes.js';

export const SECRET = 'adapter-suite-gossip-secret-0123456789';
export const CONTROL = 'adapter-suite-control-secret-0123456789';
const STORE_AUTH = 'Bearer adapter-suite-store-token-0123456789';
/** `maxBodyBytes` of the suite's servers: above any gossip message of three servers. */
export const SUITE_MAX_BODY_BYTES = 16 * 1024;
const DEADLINE_MS = 15_000;
const BEARER = { authorization: `Bearer ${CONTROL}` };
const BASIC = { authorization: `Basic ${Buffer.from(`operator:${CONTROL}`).toString('base64')}` };

/** Everything of an instance's options but its base URL, which the harness knows once it listens. */
export type InstanceOptions = Omit<ClusterOptions, 'baseUrl'>;

/** What to serve: the instance's options and the adapter's. */
export interface ServeSetup {
  readonly cluster: InstanceOptions;
  readonly dashboard?: boolean;
  readonly maxBodyBytes?: number;
}

/** One running server of the framework under test, serving a started instance. */
export interface Served {
  /** Its base URL: what peers post gossip under. */
  readonly baseUrl: string;
  readonly cluster: Cluster;
  /** Shuts the instance down and closes the server. Never rejects. */
  close(): Promise<void>;
}

/** How one framework serves the routes. */
export interface Harness {
  readonly name: string;
  /** Listens on 127.0.0.1, then serves and starts an instance with `setup`. */
  serve(setup: ServeSetup): Promise<Served>;
  /**
   * Serves the routes before any instance exists (what the default instance
   * looks like before `shazbotStart()`). Absent where the framework starts the
   * instance before it listens (Nest).
   */
  serveIdle?(): Promise<{ readonly baseUrl: string; close(): Promise<void> }>;
  /**
   * Set where the framework's own JSON parser reads bodies before the
   * adapter (Nest's default): malformed JSON then gets the framework's 400,
   * in its own shape, and chunked bodies its own limit.
   */
  readonly frameworkParsesJson?: boolean;
}

/** The reply to one request: status, headers and body text (and JSON, when it parses). */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

/** Sends one request to `<baseUrl>clustershazbot/<subpath>`. A string body is sent as is, anything else as JSON. */
export async function call(
  baseUrl: string,
  method: string,
  subpath: string,
  init: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const hasBody = init.body !== undefined;
  const res = await fetch(`${baseUrl}clustershazbot/${subpath}`, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: !hasBody ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export { closeServer } from './express-cluster.js';

/**
 * Creates and starts an instance at `baseUrl` (where the harness already
 * listens), hands it to `bind` (what the adapter serves), and returns it with
 * a `close` that shuts it down before `closeTransport` closes the server.
 */
export async function startInstance(
  baseUrl: string,
  setup: ServeSetup,
  bind: (cluster: Cluster) => void,
  closeTransport: () => Promise<void>,
): Promise<Served> {
  let cluster: Cluster;
  try {
    cluster = createCluster({ ...setup.cluster, baseUrl });
  } catch (e) {
    await closeTransport();
    throw e;
  }
  bind(cluster);
  const served: Served = {
    baseUrl,
    cluster,
    close: async () => {
      await cluster.shutdown().catch(() => undefined);
      await closeTransport().catch(() => undefined);
    },
  };
  try {
    await cluster.start();
  } catch (e) {
    await served.close();
    throw e;
  }
  return served;
}

/** The online and offline base URLs `observer` lists (with the control secret). */
async function listOf(observer: Served): Promise<{ online: string[]; offline: Array<{ baseUrl: string; reason?: string }> }> {
  const answer = await call(observer.baseUrl, 'GET', 'list', { headers: BEARER });
  if (answer.status !== 200) throw new Error(`list of ${observer.baseUrl} answered ${answer.status} ${answer.text}`);
  const body = answer.json as { online: Array<{ baseUrl: string }>; offline: Array<{ baseUrl: string; reason?: string }> };
  return { online: body.online.map((s) => s.baseUrl).sort(), offline: body.offline };
}

/** Waits until every observer's list satisfies `holds`. */
async function untilEvery(observers: readonly Served[], holds: (list: Awaited<ReturnType<typeof listOf>>) => boolean, description: string): Promise<void> {
  await pollUntil(async (report) => {
    const lists = await Promise.all(observers.map(listOf));
    report(lists);
    return lists.every(holds) ? true : undefined;
  }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description });
}

/** `{ error, code }` with a string message. */
function errorBody(code: string): unknown {
  return { error: expect.any(String), code };
}

/** Registers the shared adapter tests for `harness`. */
export function adapterSuite(harness: Harness): void {
  describe(`${harness.name}: the shared adapter suite`, () => {
    let store: MasterListStore | undefined;
    let dir: string | undefined;
    const served: Served[] = [];
    /** a: dashboard on; b: dashboard off (the default); c: shut down by the last test. */
    let a: Served;
    let b: Served;
    let c: Served;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'shazbot-adapter-'));
      store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: STORE_AUTH });
      const cluster: InstanceOptions = {
        secret: SECRET,
        controlSecret: CONTROL,
        masterListUrl: store.url,
        masterListUpdateUrl: store.url,
        masterListUpdateAuth: STORE_AUTH,
        gossipIntervalMs: 200,
        probeIntervalMs: 200,
        probeTimeoutMs: 150,
        exchangeTimeoutMs: 1_000,
        masterAnnounceMinimumMs: 300,
        masterAnnounceIntervalMs: 300,
        shutdownTimeoutMs: 2_000,
      };
      // One after the other: each finds the earlier ones in the master list.
      for (const dashboard of [true, false, false]) {
        served.push(await harness.serve({ cluster, dashboard, maxBodyBytes: SUITE_MAX_BODY_BYTES }));
      }
      [a, b, c] = served as [Served, Served, Served];
    });

    afterAll(async () => {
      await Promise.all(served.map((s) => s.close()));
      await store?.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('three servers gossip until each lists all three online', async () => {
      const all = served.map((s) => s.baseUrl).sort();
      await untilEvery(served, (l) => JSON.stringify(l.online) === JSON.stringify(all) && l.offline.length === 0, 'all three online everywhere');
      // Without the control secret: the online servers only.
      const pub = await call(a.baseUrl, 'GET', 'list');
      expect(pub.status).toBe(200);
      expect(pub.json).toEqual({ online: expect.any(Array) });
    });

    it('takes a server offline and back online through control', async () => {
      const denied = await call(b.baseUrl, 'POST', 'control', { body: { message: 'control', online: false } });
      expect(denied.status).toBe(401);
      expect(denied.json).toEqual(errorBody('UNAUTHORIZED'));
      const off = await call(b.baseUrl, 'POST', 'control', { headers: BEARER, body: { message: 'control', online: false } });
      expect([off.status, off.json]).toEqual([200, { success: true }]);
      await untilEvery([a, c], (l) => l.offline.some((s) => s.baseUrl === b.baseUrl && s.reason === 'admin'), 'b offline (admin) at a and c');
      const on = await call(b.baseUrl, 'POST', 'control', { headers: BEARER, body: { message: 'control', online: true } });
      expect([on.status, on.json]).toEqual([200, { success: true }]);
      await untilEvery([a, c], (l) => l.online.includes(b.baseUrl), 'b online again at a and c');
    });

    it('answers health publicly: 200 while running, and HEAD without a body', async () => {
      const health = await call(a.baseUrl, 'GET', 'health');
      expect([health.status, health.json]).toEqual([200, { healthy: true, status: 'running' }]);
      expect(health.headers.get('content-type')).toMatch(/^application\/json/);
      const head = await call(a.baseUrl, 'HEAD', 'health');
      expect([head.status, head.text]).toEqual([200, '']);
    });

    it('answers readiness publicly at health/ready: 200 while running (no extension holds it back), and HEAD', async () => {
      const ready = await call(a.baseUrl, 'GET', 'health/ready');
      expect([ready.status, ready.json]).toEqual([200, { ready: true, status: 'running' }]);
      expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await call(a.baseUrl, 'HEAD', 'health/ready')).status).toBe(200);
      // Only that one path two segments down exists.
      expect((await call(a.baseUrl, 'GET', 'health/other')).status).toBe(404);
    });

    it('answers info only with the control secret, as Bearer or as the Basic password', async () => {
      expect((await call(a.baseUrl, 'GET', 'info')).status).toBe(401);
      const wrong = await call(a.baseUrl, 'GET', 'info', { headers: { authorization: 'Bearer not-the-control-secret' } });
      expect([wrong.status, wrong.json]).toEqual([401, errorBody('UNAUTHORIZED')]);
      expect(wrong.text).not.toContain(CONTROL);
      for (const headers of [BEARER, BASIC]) {
        const info = await call(a.baseUrl, 'GET', 'info', { headers });
        expect(info.status).toBe(200);
        expect((info.json as { baseUrl: string }).baseUrl).toBe(a.baseUrl);
        expect(info.text).not.toContain(SECRET);
      }
    });

    it('refuses a body over maxBodyBytes with 413', async () => {
      const big = { message: 'gossip', online: [], padding: 'x'.repeat(SUITE_MAX_BODY_BYTES) };
      for (const route of ['gossip', 'control']) {
        const answer = await call(a.baseUrl, 'POST', route, { headers: BEARER, body: big });
        expect([answer.status, answer.json]).toEqual([413, errorBody('TOO_LARGE')]);
      }
      // The server is unharmed.
      expect((await call(a.baseUrl, 'GET', 'health')).status).toBe(200);
    });

    it('refuses malformed JSON with 400', async () => {
      for (const route of ['gossip', 'control']) {
        const answer = await call(a.baseUrl, 'POST', route, { headers: BEARER, body: '{"message":"gossip","online":[' });
        expect(answer.status).toBe(400);
        if (harness.frameworkParsesJson !== true) expect(answer.json).toEqual(errorBody('MALFORMED'));
      }
      // A well-formed control message of the wrong shape is ours to refuse, whatever parsed it.
      const wrongShape = await call(a.baseUrl, 'POST', 'control', { headers: BEARER, body: { message: 'control', online: 'yes' } });
      expect([wrongShape.status, wrongShape.json]).toEqual([400, errorBody('MALFORMED')]);
    });

    it('refuses gossip with a forged signature with 401 and learns nothing from it', async () => {
      const intruder = 'http://127.0.0.1:9/';
      const message = { message: 'gossip', online: [{ baseUrl: intruder, monitor: false, lastUpdate: Date.now() }] };
      const target = `${a.baseUrl}clustershazbot/gossip`;
      const rejectionsBefore = a.cluster.stats().signatureRejections;
      const forged = signRequest('not-the-gossip-secret-0123456789', target, message, Date.now(), makeNonce(cryptoRandom));
      const answer = await call(a.baseUrl, 'POST', 'gossip', { headers: { authorization: forged }, body: message });
      expect([answer.status, answer.json]).toEqual([401, errorBody('UNAUTHORIZED')]);
      expect(a.cluster.member(intruder)).toBeUndefined();
      expect(a.cluster.stats().signatureRejections).toBeGreaterThan(rejectionsBefore);
      // The same message, signed with the real secret, is accepted.
      const signed = signRequest(SECRET, target, message, Date.now(), makeNonce(cryptoRandom));
      expect((await call(a.baseUrl, 'POST', 'gossip', { headers: { authorization: signed }, body: message })).status).toBe(200);
      expect(a.cluster.member(intruder)).toBeDefined();
    });

    it('answers 404 for an unknown sub-path and 405 with Allow for a wrong method', async () => {
      for (const subpath of ['nope', 'GOSSIP']) {
        const answer = await call(a.baseUrl, 'GET', subpath);
        expect([answer.status, answer.json]).toEqual([404, errorBody('NOT_FOUND')]);
      }
      const cases: Array<[string, string, string]> = [
        ['GET', 'gossip', 'POST'], ['POST', 'list', 'GET'], ['DELETE', 'health', 'GET'], ['PUT', 'control', 'POST'], ['POST', 'health/ready', 'GET'],
      ];
      for (const [method, subpath, allow] of cases) {
        const answer = await call(a.baseUrl, method, subpath);
        expect([answer.status, answer.json], `${method} ${subpath}`).toEqual([405, errorBody('METHOD_NOT_ALLOWED')]);
        expect(answer.headers.get('allow')).toBe(allow);
      }
    });

    it('serves the dashboard only when enabled, and only with the control secret', async () => {
      const off = await call(b.baseUrl, 'GET', 'dashboard', { headers: BEARER });
      expect([off.status, off.json]).toEqual([404, errorBody('NOT_FOUND')]);
      const denied = await call(a.baseUrl, 'GET', 'dashboard');
      expect([denied.status, denied.json]).toEqual([401, errorBody('UNAUTHORIZED')]);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Basic /);
      for (const headers of [BEARER, BASIC]) {
        const page = await call(a.baseUrl, 'GET', 'dashboard', { headers });
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.headers.get('content-security-policy')).toBeTruthy();
        expect(page.text).toMatch(/<html/i);
      }
    });

    it('answers 503 once its instance has shut down, and the others list it as left', async () => {
      await c.cluster.shutdown();
      const health = await call(c.baseUrl, 'GET', 'health');
      expect([health.status, health.json]).toEqual([503, { healthy: false, status: 'stopped' }]);
      const ready = await call(c.baseUrl, 'GET', 'health/ready');
      expect([ready.status, ready.json]).toEqual([503, { ready: false, status: 'stopped' }]);
      const list = await call(c.baseUrl, 'GET', 'list');
      expect([list.status, list.json]).toEqual([503, errorBody('STOPPED')]);
      await untilEvery([a, b], (l) => l.offline.some((s) => s.baseUrl === c.baseUrl && s.reason === 'left'), 'c offline (left) at a and b');
    });

    if (harness.serveIdle !== undefined) {
      const serveIdle = harness.serveIdle.bind(harness);
      it('answers 503 before its instance exists', async () => {
        const idle = await serveIdle();
        try {
          const health = await call(idle.baseUrl, 'GET', 'health');
          expect([health.status, health.json]).toEqual([503, { healthy: false, status: 'idle' }]);
          const ready = await call(idle.baseUrl, 'GET', 'health/ready');
          expect([ready.status, ready.json]).toEqual([503, { ready: false, status: 'idle' }]);
          const gossip = await call(idle.baseUrl, 'POST', 'gossip', { body: { message: 'gossip', online: [] } });
          expect([gossip.status, gossip.json]).toEqual([503, errorBody('NOT_STARTED')]);
          expect((await call(idle.baseUrl, 'GET', 'info', { headers: BEARER })).status).toBe(503);
        } finally {
          await idle.close();
        }
      });
    }
  });
}
