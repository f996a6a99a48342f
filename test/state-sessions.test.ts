/**
 * Read-your-writes across instances through each adapter, on real HTTP: a
 * client writes through server A and gets the `clustershazbot-session`
 * header, then reads through server B with it. While B is cut off from A
 * (their gossip fails both ways), B answers 503 STALE_READ after the
 * session's timeout without running the app's handler; a read that reached
 * B while B lacked the write is answered with it once the cut heals. Every
 * wait polls with a deadline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { SESSION_HEADER } from '../src/state/session-context.js';
import { decodeToken } from '../src/state/session.js';
import { CONTROL, SECRET, type InstanceOptions } from './helpers/adapter-suite.js';
import { pollUntil } from './helpers/processes.js';
import { FRAMEWORKS, Partition, serveApp, type SessionApp } from './helpers/session-apps.js';

const DEADLINE_MS = 15_000;
const STORE_AUTH = 'Bearer state-sessions-store-token-0123456789';
/** The session middleware's wait: its default. */
const SESSION_TIMEOUT_MS = 2_000;

interface Answer {
  readonly status: number;
  readonly session: string | null;
  readonly retryAfter: string | null;
  readonly json: unknown;
}

async function request(app: SessionApp, method: string, path: string, init: { session?: string; body?: unknown } = {}): Promise<Answer> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.session === undefined ? {} : { [SESSION_HEADER]: init.session }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, session: res.headers.get(SESSION_HEADER), retryAfter: res.headers.get('retry-after'), json: text === '' ? undefined : JSON.parse(text) };
}

/** The keys a token names, in order. */
const keysOf = (token: string | null): string[] => (token === null ? [] : decodeToken(token).map((w) => `${w.map}/${w.key}`));

describe.each(FRAMEWORKS)('%s: read your writes across instances', (framework) => {
  let dir: string;
  let store: MasterListStore;
  const partition = new Partition();
  let a: SessionApp;
  let b: SessionApp;
  /** The session after the first write through A, and after the second. */
  let first: string;
  let second: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shazbot-sessions-'));
    store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: STORE_AUTH });
    const options: InstanceOptions = {
      secret: SECRET, controlSecret: CONTROL,
      masterListUrl: store.url, masterListUpdateUrl: store.url, masterListUpdateAuth: STORE_AUTH,
      gossipIntervalMs: 200, exchangeTimeoutMs: 1_000, masterAnnounceMinimumMs: 300, masterAnnounceIntervalMs: 300, shutdownTimeoutMs: 2_000,
      // Probes every 300 ms, and a suspicion that lasts seconds: the cuts below must not get a peer declared failed.
      probeIntervalMs: 300, probeTimeoutMs: 250, suspicionMult: 10,
    };
    // Digests on every probe: a healed replica catches up within a probe or two.
    const deps = { state: { settings: { digestIntervalMs: 200 } } };
    a = await serveApp(framework, options, deps, partition);
    b = await serveApp(framework, options, deps, partition);
    await pollUntil((report) => {
      const seen = [a, b].map((s) => ({ online: s.cluster.online().length, ready: s.cluster.ready() }));
      report(seen);
      return seen.every((s) => s.online === 2 && s.ready) ? true : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description: 'A and B to list each other and be ready' });
  });

  afterAll(async () => {
    partition.heal();
    await Promise.all([a?.close(), b?.close()]);
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a write through A returns its session; B, given it, reads the write', async () => {
    const write = await request(a, 'PUT', 'items/k1', { body: { value: { n: 1 } } });
    expect([write.status, write.json]).toEqual([200, { ok: true }]);
    expect(keysOf(write.session)).toEqual(['items/k1']);
    first = write.session!;
    const read = await request(b, 'GET', 'items/k1', { session: first });
    expect([read.status, read.json]).toEqual([200, { value: { n: 1 } }]);
    // Every response of a session carries its current token, reads included.
    expect(read.session).toBe(first);
    // No session, no write: no header.
    expect((await request(b, 'GET', 'items/k1')).session).toBeNull();
  });

  it('while B is cut off from A: 503 STALE_READ after the timeout, and the handler never runs', async () => {
    partition.cut(a.baseUrl, b.baseUrl);
    const write = await request(a, 'PUT', 'items/k2', { session: first, body: { value: 'two' } });
    expect(write.status).toBe(200);
    // The incoming session and this request's write, the latest last.
    expect(keysOf(write.session)).toEqual(['items/k1', 'items/k2']);
    second = write.session!;
    expect(b.cluster.state.map('items').has('k2')).toBe(false);
    const handled = b.handled.count;
    const started = Date.now();
    const stale = await request(b, 'GET', 'items/k2', { session: second });
    expect([stale.status, stale.json, stale.retryAfter]).toEqual([503, { error: expect.any(String), code: 'STALE_READ' }, '1']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - 50);
    expect(b.handled.count).toBe(handled);
  });

  it('a read that reached B while B lacked the write is answered with it once the cut heals', async () => {
    const arrived = b.arrived.count;
    const pending = request(b, 'GET', 'items/k2', { session: second });
    await pollUntil(() => (b.arrived.count > arrived ? true : undefined), { timeoutMs: DEADLINE_MS, intervalMs: 5, description: 'the read to reach B' });
    // It arrived while B still lacked the write: it can only be answered by waiting.
    expect(b.cluster.state.map('items').has('k2')).toBe(false);
    partition.heal();
    const read = await pending;
    expect([read.status, read.json]).toEqual([200, { value: 'two' }]);
    expect(keysOf(read.session)).toEqual(['items/k1', 'items/k2']);
  });

  it('refuses a malformed session header with 400 MALFORMED, writing nothing', async () => {
    const handled = b.handled.count;
    for (const session of ['not a token!', Buffer.from('[["items","k3"]]').toString('base64url')]) {
      const write = await request(b, 'PUT', 'items/k3', { session, body: { value: 3 } });
      expect([write.status, write.json, write.session]).toEqual([400, { error: expect.any(String), code: 'MALFORMED' }, null]);
      expect((await request(b, 'GET', 'items/k3', { session })).status).toBe(400);
    }
    expect(b.handled.count).toBe(handled);
    expect(b.cluster.state.map('items').has('k3')).toBe(false);
    expect(a.cluster.state.map('items').has('k3')).toBe(false);
  });

  it('counter writes join no session: their responses carry only the session the request came with', async () => {
    const bare = await request(a, 'POST', 'hits');
    expect([bare.status, bare.session]).toEqual([200, null]);
    const withSession = await request(a, 'POST', 'hits', { session: first });
    expect([withSession.status, withSession.session]).toEqual([200, first]);
  });
});

