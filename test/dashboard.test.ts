/**
 * The live dashboard in a real Chromium: three real clusters in this process,
 * each behind a plain node:http server with the node adapter, and a real
 * master-list store. Needs Debian's chromium (`apt-get install chromium`) or
 * CHROMIUM_PATH; without it the suite fails, it never skips.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestHandler } from '../src/adapters/node.js';
import { dashboardPage } from '../src/dashboard/page.js';
import { createCluster, type Cluster } from '../src/engine/cluster.js';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { CONTROL, FAST, SECRET, STORE_AUTH, closeServer, killableTransport } from './helpers/express-cluster.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** How long the page may take to show a change the cluster has made (ms). */
const DEADLINE_MS = 15_000;

/** One server: a node:http server answering the routes (dashboard on) for its cluster. */
interface Served {
  readonly baseUrl: string;
  readonly port: number;
  readonly server: Server;
  readonly cluster: Cluster;
  /** Simulates a crashed process: no more connections in or out, and no goodbye. */
  crash(): Promise<void>;
}

async function listen(server: Server, port = 0): Promise<void> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
}

/** Stops listening and drops every open connection. Never rejects. */
async function serve(store: MasterListStore): Promise<Served> {
  const created: { cluster?: Cluster } = {}; // requests may arrive before the cluster exists
  const handle = createRequestHandler({ cluster: () => created.cluster, dashboard: true });
  const server = createServer((req, res) => {
    void handle(req, res).then((answered) => {
      if (!answered) res.writeHead(404).end();
    });
  });
  await listen(server);
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/`;
  // In one process the crashed cluster's timers keep firing: its outbound requests must fail too.
  const { transport, kill } = killableTransport();
  const cluster = createCluster(
    {
      baseUrl,
      secret: SECRET,
      controlSecret: CONTROL,
      masterListUrl: store.url,
      masterListUpdateUrl: store.url,
      masterListUpdateAuth: STORE_AUTH,
      ...FAST,
      probeIntervalMs: 200,
      probeTimeoutMs: 100,
      suspicionMult: 1,
      shutdownTimeoutMs: 1_000,
    },
    { transport },
  );
  created.cluster = cluster;
  await cluster.start();
  return {
    baseUrl,
    port,
    server,
    cluster,
    crash: async () => {
      kill();
      await closeServer(server);
    },
  };
}

describe('dashboard in Chromium', () => {
  let dir: string | undefined;
  let store: MasterListStore | undefined;
  const servers: Served[] = [];
  let browser: Browser | undefined;
  let page: Page | undefined;
  /** Console errors, uncaught page errors (CSP violations land here too). */
  const problems: string[] = [];
  let loads = 0;

  const dashboardOf = (s: Served): string => `${s.baseUrl}clustershazbot/dashboard`;
  const A = (): Served => servers[0]!;
  const C = (): Served => servers[2]!;

  /**
   * Waits until the open page shows exactly these states (rows sorted by
   * base URL, as the info view sorts them) and the matching counts, all
   * from the same render.
   */
  const showsStates = (states: Record<string, string>): Promise<unknown> => {
    const want = Object.keys(states).sort().map((url) => `${url}=${states[url]}`).join(' ');
    const counts = ['online', 'suspect', 'offline'].map((k) => `${k}:${Object.values(states).filter((v) => v === k).length}`).join(' ');
    return seen(page!.waitForFunction(
      (expected) => {
        const rows = Array.from(document.querySelectorAll('#servers tr[data-server]'))
          .map((r) => `${r.getAttribute('data-server')}=${r.getAttribute('data-state')}`).join(' ');
        const shown = ['online', 'suspect', 'offline'].map((k) => `${k}:${document.getElementById(`count-${k}`)?.textContent}`).join(' ');
        return `${rows} | ${shown}` === expected;
      },
      `${want} | ${counts}`,
      { timeout: DEADLINE_MS, polling: 100 },
    ));
  };

  /** Waits for `waiting`; on failure, says what went wrong in the page too. */
  const seen = <T>(waiting: Promise<T>): Promise<T> =>
    waiting.catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nin the page: ${JSON.stringify(problems)}`);
    });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: run \`apt-get install chromium\` (or set CHROMIUM_PATH) to run the dashboard test`);
    }
    dir = await mkdtemp(join(tmpdir(), 'shazbot-dashboard-'));
    store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: STORE_AUTH });
    for (let i = 0; i < 3; i++) servers.push(await serve(store));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await Promise.allSettled(servers.map((s) => s.cluster.shutdown()));
    await Promise.allSettled(servers.map((s) => s.crash()));
    await store?.close().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('asks for the control secret: 401 with a Basic challenge, no page, without or with wrong credentials', async () => {
    const url = dashboardOf(A());
    const wrong = `Basic ${Buffer.from('operator:not-the-secret-0123456789').toString('base64')}`;
    const attempts: Record<string, string>[] = [{}, { authorization: wrong }];
    for (const headers of attempts) {
      const res = await fetch(url, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="clustershazbot"/);
      expect(await res.text()).not.toContain('<html');
    }
  });

  it('serves the page under its CSP and shows all three servers, this one marked', async () => {
    const context = await browser!.newContext({ httpCredentials: { username: 'operator', password: CONTROL } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('load', () => loads++);

    const res = await page.goto(dashboardOf(A()));
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toBe(dashboardPage().contentSecurityPolicy);
    expect(await page.title()).toBe('clustershazbot dashboard');

    await showsStates(Object.fromEntries(servers.map((s) => [s.baseUrl, 'online'])));
    expect(await page.textContent('#status')).toBe('running');
    expect(await page.textContent('#base-url')).toBe(A().baseUrl);
    expect(await page.textContent('#cfg-probeIntervalMs')).toBe('200 ms');
    expect(await page.getAttribute('tr[data-self="true"]', 'data-server')).toBe(A().baseUrl);
    expect(await page.locator('tr[data-self="true"] td.contact').textContent()).toBe('this server');
    // The timeline starts with this server's start and the others first seen, newest first.
    await seen(page.waitForFunction(
      (n) => document.querySelectorAll('#timeline tr[data-kind="up"]').length >= n, servers.length, { timeout: DEADLINE_MS, polling: 100 },
    ));
    expect(await page.locator('#timeline tr[data-kind="up"]').last().locator('.why').textContent()).toBe('this server started');
    // Each peer's row gets an exchange chart: a bar per recent exchange (at most 30), and its figures.
    // (No assertion that none failed: a 100 ms probe timeout can expire on a busy machine.)
    for (const peer of [servers[1]!, C()]) {
      const row = page.locator(`#servers tr[data-server="${peer.baseUrl}"]`);
      await seen(row.locator('.chart .bar:not(.failed)').first().waitFor({ timeout: DEADLINE_MS }));
      expect(await row.locator('.chart .bar').count()).toBeLessThanOrEqual(30);
      expect(await row.locator('.figures').textContent()).toMatch(/^last (\d+(\.\d)? ms|failed) · p99 \d+(\.\d)? ms\d+ failed of \d+$/);
    }
    expect(await page.textContent('#xchg-p99')).toMatch(/^\d+(\.\d)? ms$/);
    expect(await page.textContent('#updated')).toMatch(/^updated \d{4}-\d\d-\d\dT/);
    expect(await page.isHidden('#banner')).toBe(true);
    expect(problems).toEqual([]);
  });

  it('shows the replicated state: each map\'s keys, bytes, tombstones and rejected writes, and each peer\'s lag', async () => {
    const items = A().cluster.state.map('items', { maxValueBytes: 32 });
    await items.set('kept', { n: 1 });
    await items.set('gone', 2);
    await items.delete('gone');
    await expect(items.set('big', 'x'.repeat(64))).rejects.toThrow(/maxValueBytes/);
    const row = page!.locator('#state-maps tr[data-map="items"]');
    await seen(page!.waitForFunction(() => {
      const cells = document.querySelector('#state-maps tr[data-map="items"]');
      return cells?.querySelector('.keys')?.textContent === '1' && cells.querySelector('.rejected')?.textContent === '1';
    }, undefined, { timeout: DEADLINE_MS, polling: 100 }));
    expect(await page!.isVisible('#state-panel')).toBe(true);
    expect(await page!.textContent('#state-ready')).toBe('ready');
    expect(await row.locator('.tombstones').textContent()).toBe('1');
    expect(await row.locator('.bytes').textContent()).toMatch(/^\d+ B$/);
    expect(await row.locator('.changes').textContent()).toBe('3 / 0 / 0');
    expect(await row.locator('.rejected').getAttribute('class')).toContain('bad');
    expect(await page!.textContent('#state-store')).toBe('none (memory only)');
    // Each peer's lag: a duration once its state was seen equal to A's (digests ride on probes every 2 s).
    for (const peer of [servers[1]!, C()]) {
      await seen(page!.locator(`#state-peers tr[data-peer="${peer.baseUrl}"] td.lag:not(.muted)`).waitFor({ timeout: DEADLINE_MS }));
      expect(await page!.textContent(`#state-peers tr[data-peer="${peer.baseUrl}"] td.lag`)).toMatch(/^\d+\.\d s$/);
    }
    expect(problems).toEqual([]);
  });

  it('shows a crashed server as offline without a reload', async () => {
    await C().crash();
    await showsStates({ [servers[0]!.baseUrl]: 'online', [servers[1]!.baseUrl]: 'online', [C().baseUrl]: 'offline' });
    const row = page!.locator('tr[data-state="offline"]');
    expect(await row.getAttribute('data-server')).toBe(C().baseUrl);
    expect(await row.locator('.badge').textContent()).toBe('offline (failed)');
    // What happened, in order: C suspected, then declared failed, with the reasons; the glance shows it last.
    await seen(page!.waitForSelector(`#timeline tr[data-kind="down"][data-server="${C().baseUrl}"]`, { timeout: DEADLINE_MS }));
    const aboutC = await page!.$$eval(`#timeline tr[data-server="${C().baseUrl}"]`, (rows) =>
      rows.map((r) => `${r.getAttribute('data-kind')}: ${r.querySelector('.why')?.textContent}`).reverse());
    expect(aboutC[0]).toBe('up: first seen');
    // Usually A sees the suspicion before the failure; the failure may also be the first news A gets.
    const suspicion = /^suspect: (no answer to direct and indirect probes from this server|suspected by 127\.0\.0\.1:\d+)$/;
    const failure = /^down: (suspicion not refuted in time|declared failed by 127\.0\.0\.1:\d+)$/;
    expect(aboutC.slice(1).map((e) => (suspicion.test(e) ? 'suspect' : failure.test(e) ? 'down' : e)).join(' ')).toMatch(/^(suspect )?down$/);
    expect(await page!.textContent('#last-event')).toMatch(/^down 127\.0\.0\.1:\d+ \d+\.\d s ago$/);
    // A's exchanges with C failed since: its chart shows red bars and counts them.
    const cRow = page!.locator(`#servers tr[data-server="${C().baseUrl}"]`);
    await seen(cRow.locator('.chart .bar.failed').first().waitFor({ timeout: DEADLINE_MS }));
    expect(await cRow.locator('.figures .bad').textContent()).toMatch(/^[1-9]\d* failed of \d+$/);
    expect(loads).toBe(1);
    expect(problems).toEqual([]);
  });

  it('shows a disconnected banner while its server is unreachable, and recovers on its own', async () => {
    const updatedBefore = await page!.getAttribute('#updated', 'data-at');
    await closeServer(A().server);
    await seen(page!.waitForSelector('#banner', { state: 'visible', timeout: DEADLINE_MS }));
    expect(await page!.textContent('#banner')).toMatch(/^Disconnected \(.+\): last update \d+\.\d s ago\. Retrying every second\.$/);
    expect(await page!.evaluate(() => document.body.classList.contains('stale'))).toBe(true);

    await listen(A().server, A().port);
    await seen(page!.waitForSelector('#banner', { state: 'hidden', timeout: DEADLINE_MS }));
    expect(Number(await page!.getAttribute('#updated', 'data-at'))).toBeGreaterThan(Number(updatedBefore));
    expect(loads).toBe(1);
    // The browser itself reports each refused poll; nothing else may go wrong.
    expect(problems.filter((p) => !/^console: Failed to load resource: net::ERR_CONNECTION_REFUSED$/.test(p))).toEqual([]);
  });
});
