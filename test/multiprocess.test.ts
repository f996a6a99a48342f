/**
 * The seed README's examples, run verbatim as five real processes (three
 * Express, one Nest 11 compiled to CommonJS, one Nest 12 ESM) against a real
 * master-list HTTP store: convergence, control offline/online, graceful SIGINT
 * departure, SIGKILL detection, the master list, and a Nest app leaving
 * through its shutdown hooks. The fixtures live in test/fixtures/ and are
 * installed and compiled by scripts/prepare-fixtures.mjs in beforeAll.
 *
 * Steps run in order and share the cluster; once a step that changes the
 * cluster fails, the later ones fail at once instead of waiting out their
 * deadlines. Every wait polls with a deadline; nothing sleeps to synchronise.
 * A failure prints every child's output (MULTIPROCESS_VERBOSE=1: always).
 */
import { byName, handlesOf, listEntries, runningOf, type FleetMember } from './helpers/fleet.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import {
  dumpOutput,
  freePorts,
  killAll,
  pollUntil,
  requestJson,
  spawnNode,
  waitForExit,
  type ChildHandle,
} from './helpers/processes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures');

/** SHAZBOT_GOSSIP_INTERVAL given to every process, in seconds. */
const GOSSIP_INTERVAL_S = 1;
/** Deadlines. Generous: five Node processes share two cores with the rest of the suite. */
const CONVERGE_MS = 30_000;
const SPREAD_MS = 20_000;
const FAILURE_DETECTION_MS = 20_000;

/** One server of the cluster: which fixture it runs and where it listens. */
interface Server extends FleetMember {
  readonly name: string;
  readonly fixture: 'express-example' | 'nest11-cjs' | 'nest12-esm';
  /** The compiled entry point, relative to the fixture folder. */
  readonly entry: string;
  port: number;
  baseUrl: string;
  handle?: ChildHandle;
  /** Its own entry's version (lastUpdate) in its own list, once the cluster converged. */
  versionAtConvergence?: number;
}

/** What `GET <base>clustershazbot/list` reported, reduced to base URLs. */
interface ListView {
  readonly online: string[];
  readonly offline: string[];
  /** Each offline server's `reason` ('left', 'admin', 'failed'), when the entry has one. */
  readonly reasons: Record<string, unknown>;
  /** Whether the answer had an `offline` key at all. */
  readonly hasOffline: boolean;
}

const servers: Server[] = [
  { name: 'express-1', fixture: 'express-example', entry: 'dist/server.js', port: 0, baseUrl: '' },
  { name: 'express-2', fixture: 'express-example', entry: 'dist/server.js', port: 0, baseUrl: '' },
  { name: 'express-3', fixture: 'express-example', entry: 'dist/server.js', port: 0, baseUrl: '' },
  { name: 'nest11-cjs', fixture: 'nest11-cjs', entry: 'dist/main.js', port: 0, baseUrl: '' },
  { name: 'nest12-esm', fixture: 'nest12-esm', entry: 'dist/main.js', port: 0, baseUrl: '' },
];

const server = (name: string): Server => byName(servers, name);
const handles = (): ChildHandle[] => handlesOf(servers);
const running = (): Server[] => runningOf(servers);
const entries = listEntries;



const secret = randomBytes(24).toString('base64url');
const controlSecret = randomBytes(24).toString('base64url');
const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
const bearer = { authorization: `Bearer ${controlSecret}` };

let store: MasterListStore | undefined;
let storeDir: string | undefined;
/** Set by the first failing blocking step: later steps fail at once. */
let brokenBy: string | undefined;
/** Whether any step failed: afterAll then prints every child's output. */
let failed = false;




function baseUrls(value: unknown, key: 'online' | 'offline'): string[] | undefined {
  return entries(value, key)?.map((entry) => String(entry.baseUrl));
}

/** A server's list as seen through its list endpoint (with the control bearer unless `auth` is false). */
async function listOf(s: Server, auth = true): Promise<ListView> {
  const response = await requestJson(`${s.baseUrl}clustershazbot/list`, { headers: auth ? bearer : {} });
  if (response.status !== 200) throw new Error(`${s.name}: list answered ${response.status} ${JSON.stringify(response.body)}`);
  const online = baseUrls(response.body, 'online');
  if (online === undefined) throw new Error(`${s.name}: list has no online array: ${JSON.stringify(response.body)}`);
  const offline = entries(response.body, 'offline');
  return {
    online,
    offline: (offline ?? []).map((entry) => String(entry.baseUrl)),
    reasons: Object.fromEntries((offline ?? []).map((entry) => [String(entry.baseUrl), entry.reason])),
    hasOffline: offline !== undefined,
  };
}

/** The version (lastUpdate) of a server's own entry, as its own list shows it. */
async function selfVersion(s: Server): Promise<number> {
  const response = await requestJson(`${s.baseUrl}clustershazbot/list`, { headers: bearer });
  const own = [...(entries(response.body, 'online') ?? []), ...(entries(response.body, 'offline') ?? [])].find(
    (entry) => entry.baseUrl === s.baseUrl,
  );
  if (typeof own?.lastUpdate !== 'number') throw new Error(`${s.name} does not list itself: ${JSON.stringify(response.body)}`);
  return own.lastUpdate;
}

/**
 * Polls every server in `observers` until `holds` is true of each one's list.
 * Resolves when all agree; the error on timeout carries each server's last view.
 */
async function untilEvery(
  observers: readonly Server[],
  holds: (view: ListView) => boolean,
  description: string,
  timeoutMs: number,
): Promise<void> {
  await pollUntil(
    async (report) => {
      const views = await Promise.all(
        observers.map(async (s) => [s.name, await listOf(s).catch((e: unknown) => String(e))] as const),
      );
      report(Object.fromEntries(views));
      return views.every(([, view]) => typeof view !== 'string' && holds(view)) ? true : undefined;
    },
    { timeoutMs, description },
  );
}

const isOnline = (url: string) => (view: ListView) => view.online.includes(url) && !view.offline.includes(url);
/** Listed offline (and not online), for `reason` if one is given. */
const isOffline = (url: string, reason?: 'left' | 'admin' | 'failed') => (view: ListView) =>
  view.offline.includes(url) && !view.online.includes(url) && (reason === undefined || view.reasons[url] === reason);

/**
 * Runs one step of the scenario unless an earlier blocking one failed. Steps
 * that leave the cluster as they found it pass `blocksLater: false`, so their
 * failure does not stop the rest.
 */
function step(name: string, timeoutMs: number, body: () => Promise<void>, { blocksLater = true } = {}): void {
  it(name, async () => {
    if (brokenBy !== undefined) throw new Error(`not run: the earlier step "${brokenBy}" failed`);
    try {
      await body();
    } catch (error) {
      if (blocksLater) brokenBy = name;
      failed = true;
      throw error;
    }
  }, timeoutMs);
}

describe('README examples as five real processes', () => {
  beforeAll(async () => {
    const prepared = execFileSync(process.execPath, [join(root, 'scripts', 'prepare-fixtures.mjs'), 'express-example', 'nest11-cjs', 'nest12-esm'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    console.log(prepared.trimEnd());

    storeDir = await mkdtemp(join(tmpdir(), 'clustershazbot-multiprocess-'));
    store = await startMasterListStore({ file: join(storeDir, 'master-list.json'), auth: storeAuth });
    const ports = await freePorts(servers.length);
    servers.forEach((s, i) => {
      s.port = ports[i] as number;
      s.baseUrl = `http://127.0.0.1:${s.port}/`;
    });
  }, 300_000);

  afterAll(async () => {
    await killAll(handles());
    // MULTIPROCESS_VERBOSE=1 prints every child's output even when all steps pass.
    if (failed || process.env.MULTIPROCESS_VERBOSE === '1') console.log(dumpOutput(handles()));
    await store?.close();
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
  }, 30_000);

  step('starts five processes that converge on one membership list', CONVERGE_MS + 10_000, async () => {
    if (store === undefined) throw new Error('the master-list store did not start');
    for (const s of servers) {
      s.handle = spawnNode(s.name, join(fixtures, s.fixture, s.entry), [], {
        cwd: join(fixtures, s.fixture),
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          // Plain log lines from Nest in the captured output.
          NO_COLOR: '1',
          PORT: String(s.port),
          SHAZBOT_SECRET: secret,
          SHAZBOT_CONTROL_SECRET: controlSecret,
          SHAZBOT_BASE_URL: s.baseUrl,
          SHAZBOT_MASTER_LIST: store.url,
          SHAZBOT_MASTER_LIST_UPDATE: store.url,
          SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
          SHAZBOT_GOSSIP_INTERVAL: String(GOSSIP_INTERVAL_S),
          SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '2',
          SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '2',
        },
      });
    }
    const spawnedAt = Date.now();
    const all = servers.map((s) => s.baseUrl).sort();
    await untilEvery(servers, (view) => all.every((url) => isOnline(url)(view)), 'all five servers to list all five online', CONVERGE_MS);
    const convergedMs = Date.now() - spawnedAt;
    console.log(`[multiprocess] ${servers.length} processes converged in ${convergedMs} ms (gossip interval ${GOSSIP_INTERVAL_S} s)`);
    for (const s of servers) expect(s.handle?.running, `${s.name} is running`).toBe(true);
    for (const s of servers) s.versionAtConvergence = await selfVersion(s);
  });

  step('answers a list request without authorization with the online servers only', 10_000, async () => {
    const all = servers.map((s) => s.baseUrl).sort();
    for (const s of servers) {
      const view = await listOf(s, false);
      expect([...view.online].sort()).toEqual(all);
      // Without the control secret the engine answers { online } alone.
      expect(view.hasOffline).toBe(false);
    }
  });

  step('answers 401 from the Nest apps for a missing or wrong bearer', 10_000, async () => {
    // The Nest example has no catch: Nest's default exception filter turns the
    // thrown error into the response, and must answer 401 rather than 500.
    for (const s of [server('nest11-cjs'), server('nest12-esm')]) {
      const denied = await requestJson(`${s.baseUrl}clustershazbot/control`, { method: 'POST', body: { message: 'control', online: false } });
      expect(denied.status, `${s.name}: control without a bearer`).toBe(401);
      const listDenied = await requestJson(`${s.baseUrl}clustershazbot/list`, { headers: { authorization: 'Bearer wrong' } });
      expect(listDenied.status, `${s.name}: list with a wrong bearer`).toBe(401);
      expect(isOnline(s.baseUrl)(await listOf(s)), `${s.name} is still online`).toBe(true);
    }
  }, { blocksLater: false });

  step('takes a server offline and back online through the control endpoint', 2 * SPREAD_MS + 10_000, async () => {
    const target = server('express-2');
    const others = servers.filter((s) => s !== target);
    const controlUrl = `${target.baseUrl}clustershazbot/control`;

    const off = await requestJson(controlUrl, { method: 'POST', headers: bearer, body: { message: 'control', online: false } });
    expect(off).toEqual({ status: 200, body: { success: true } });
    await untilEvery(others, isOffline(target.baseUrl, 'admin'), `every other server to list ${target.name} offline (admin)`, SPREAD_MS);

    // Without the bearer the example's catch answers 401, and nothing changes.
    const forged = await requestJson(controlUrl, { method: 'POST', body: { message: 'control', online: true } });
    expect(forged.status).toBe(401);
    expect(forged.body).toHaveProperty('error');
    const wrong = await requestJson(controlUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}` },
      body: { message: 'control', online: true },
    });
    expect(wrong.status).toBe(401);
    expect(isOffline(target.baseUrl, 'admin')(await listOf(target))).toBe(true);
    for (const s of others) expect(isOffline(target.baseUrl, 'admin')(await listOf(s))).toBe(true);

    const on = await requestJson(controlUrl, { method: 'POST', headers: bearer, body: { message: 'control', online: true } });
    expect(on).toEqual({ status: 200, body: { success: true } });
    await untilEvery(servers, isOnline(target.baseUrl), `every server to list ${target.name} online again`, SPREAD_MS);
  });

  step('sees a server that got SIGINT leave gracefully', SPREAD_MS + 20_000, async () => {
    const leaving = server('express-1');
    const handle = leaving.handle;
    if (handle === undefined) throw new Error('express-1 was not started');
    handle.process.kill('SIGINT');
    expect(await waitForExit(handle, 15_000)).toEqual({ code: 0, signal: null });
    expect(handle.output()).toContain('Shutting down...');
    await untilEvery(running(), isOffline(leaving.baseUrl, 'left'), `every remaining server to list ${leaving.name} offline (left)`, SPREAD_MS);
  });

  step('detects a server killed with SIGKILL', FAILURE_DETECTION_MS + 15_000, async () => {
    const victim = server('nest11-cjs');
    const handle = victim.handle;
    if (handle === undefined) throw new Error('nest11-cjs was not started');
    // Measured from a cluster that agrees the victim is up.
    await untilEvery(running(), isOnline(victim.baseUrl), `every server to list ${victim.name} online before the kill`, SPREAD_MS);
    const killedAt = Date.now();
    handle.process.kill('SIGKILL');
    expect(await waitForExit(handle, 10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    await untilEvery(running(), isOffline(victim.baseUrl, 'failed'), `every remaining server to list ${victim.name} offline (failed)`, FAILURE_DETECTION_MS);
    console.log(`[multiprocess] SIGKILLed ${victim.name} detected by all ${running().length} survivors in ${Date.now() - killedAt} ms`);
  });

  step('leaves the servers that were online in the master list', SPREAD_MS + 10_000, async () => {
    if (store === undefined) throw new Error('the master-list store did not start');
    const storeUrl = store.url;
    const survivors = running().map((s) => s.baseUrl);
    expect(survivors.sort()).toEqual(['express-2', 'express-3', 'nest12-esm'].map((n) => server(n).baseUrl).sort());
    const ours = new Set(servers.map((s) => s.baseUrl));
    const list = await pollUntil(
      async (report) => {
        const response = await requestJson(storeUrl);
        report(response);
        const online = baseUrls(response.body, 'online') ?? [];
        return survivors.every((url) => online.includes(url)) ? response.body : undefined;
      },
      { timeoutMs: SPREAD_MS, description: 'the master list to list the surviving servers online' },
    );
    const listed = [...(baseUrls(list, 'online') ?? []), ...(baseUrls(list, 'offline') ?? [])];
    // Only servers of this cluster were ever announced, and each was announced while it was online.
    for (const url of listed) expect(ours.has(url), `${url} is one of ours`).toBe(true);
    for (const s of servers) expect(listed, `${s.name} is in the master list`).toContain(s.baseUrl);
  });

  step('never declared a server failed while it was up', 10_000, async () => {
    // A server's own version moves only when its state changes: when an
    // operator or its shutdown changes it, or when it refutes a claim that it
    // is offline. These two were never controlled nor signalled, so any move
    // means a peer declared them failed while they answered (e.g. a peer that
    // rejects a 2xx reply it did not expect).
    for (const s of [server('express-3'), server('nest12-esm')]) {
      expect(await selfVersion(s), `${s.name}'s version (a move means it refuted a false failure claim)`).toBe(s.versionAtConvergence);
    }
  }, { blocksLater: false });

  step('sees the Nest 12 app leave on SIGTERM through its shutdown hooks', SPREAD_MS + 20_000, async () => {
    const leaving = server('nest12-esm');
    const handle = leaving.handle;
    if (handle === undefined) throw new Error('nest12-esm was not started');
    handle.process.kill('SIGTERM');
    // Nest runs onModuleDestroy (shazbotShutDown), closes, then re-raises the signal.
    const status = await waitForExit(handle, 15_000);
    expect(status.code === 0 || status.signal === 'SIGTERM', `exit ${JSON.stringify(status)}`).toBe(true);
    await untilEvery(running(), isOffline(leaving.baseUrl, 'left'), `every remaining server to list ${leaving.name} offline (left)`, SPREAD_MS);
  });
});
