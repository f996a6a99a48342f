/**
 * Rolling upgrades from 1.x: mixed clusters of 2.x processes with
 * SHAZBOT_LEGACY_AUTH=true (dist/esm/demo/demo-server.js) and processes that
 * speak only the 1.x format (test/fixtures/v1-server/server.mjs: raw secret
 * in Authorization, unsigned seed-format bodies and replies).
 * - A long secret: one 1.x and three 2.x servers converge.
 * - A short secret (8 characters, which 1.x accepted and 2.x accepts only in
 *   legacy mode): two 1.x and three 2.x servers start, converge, and see a 2.x
 *   server and then a 1.x server leave gracefully; each 2.x server warns about
 *   the short keys at start, and no output ever contains a secret.
 * Each scenario prints one summary line with its measured times.
 * Requires `npm run build` first (the suite's `npm test` does it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { listEntries, StepSequence } from './helpers/fleet.js';
import {
  dumpOutput, freePorts, killAll, pollUntil, requestJson, spawnNode, waitForExit, type ChildHandle, DEMO_SERVER, REPO_ROOT,
} from './helpers/processes.js';

const root = REPO_ROOT;
const demoServer = DEMO_SERVER;
const v1Server = join(root, 'test', 'fixtures', 'v1-server', 'server.mjs');

/** What the 2.x servers print at start in legacy mode, and with a short key in use. */
const LEGACY_WARNING = 'warn: SHAZBOT_LEGACY_AUTH is on:';
const SHORT_WARNING = 'short secret in use: SHAZBOT_SECRET key #1, SHAZBOT_CONTROL_SECRET key #1 are shorter than 16 characters';

type Kind = '1.x' | '2.x';

interface Server {
  readonly name: string;
  readonly kind: Kind;
  readonly url: string;
  readonly handle: ChildHandle;
}

/** One mixed cluster: its master-list store and its processes. */
interface Fleet {
  readonly secret: string;
  readonly controlSecret: string;
  readonly servers: Server[];
  readonly store: MasterListStore;
  readonly storeDir: string;
}

/**
 * Starts a master-list store, then the 1.x servers (which announce
 * themselves in the master list), then the 2.x servers, all with the same
 * secrets and SHAZBOT_LEGACY_AUTH=true (which the 1.x stand-in ignores).
 */
async function startFleet(kinds: readonly Kind[], secret: string, controlSecret: string): Promise<Fleet> {
  if (!existsSync(demoServer)) throw new Error(`${demoServer} is missing: run \`npm run build\` first`);
  const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
  const storeDir = await mkdtemp(join(tmpdir(), 'clustershazbot-legacy-'));
  const store = await startMasterListStore({ file: join(storeDir, 'master-list.json'), auth: storeAuth });
  const ports = await freePorts(kinds.length);
  const servers: Server[] = [];
  const fleet: Fleet = { secret, controlSecret, servers, store, storeDir };
  const counts: Record<Kind, number> = { '1.x': 0, '2.x': 0 };
  for (const kind of ['1.x', '2.x'] as const) {
    kinds.forEach((k, i) => {
      if (k !== kind) return;
      const url = `http://127.0.0.1:${ports[i]}/`;
      const name = `${kind === '1.x' ? 'v1' : 'v2'}-${++counts[kind]}`;
      const env = {
        PATH: process.env.PATH,
        PORT: String(ports[i]),
        SHAZBOT_SECRET: secret,
        SHAZBOT_CONTROL_SECRET: controlSecret,
        SHAZBOT_BASE_URL: url,
        SHAZBOT_MASTER_LIST: store.url,
        SHAZBOT_MASTER_LIST_UPDATE: store.url,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
        SHAZBOT_GOSSIP_INTERVAL: '1',
        SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '2',
        SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '2',
        SHAZBOT_LEGACY_AUTH: 'true',
        SHAZBOT_LOG_LEVEL: 'warn',
      };
      servers.push({ name, kind, url, handle: spawnNode(name, kind === '1.x' ? v1Server : demoServer, [], { cwd: root, env }) });
    });
  }
  return fleet;
}

async function stopFleet(fleet: Fleet | undefined, failed: boolean): Promise<void> {
  if (fleet === undefined) return;
  const handles = fleet.servers.map((s) => s.handle);
  await killAll(handles);
  if (failed || process.env.MULTIPROCESS_VERBOSE === '1') console.log(dumpOutput(handles));
  await fleet.store.close();
  await rm(fleet.storeDir, { recursive: true, force: true });
}

/** One server's list: the base URLs listed online, and the offline entries by base URL. */
interface View {
  readonly online: string[];
  readonly offline: Map<string, { lastUpdate: unknown; reason: unknown }>;
}

/** A server's list, with the control secret as 1.x tools send it (raw) to a 1.x server, and as 2.x does (Bearer) to a 2.x one. */
async function viewOf(fleet: Fleet, server: Server): Promise<View> {
  const authorization = server.kind === '1.x' ? fleet.controlSecret : `Bearer ${fleet.controlSecret}`;
  const res = await requestJson(`${server.url}clustershazbot/list`, { headers: { authorization } });
  if (res.status !== 200) throw new Error(`${server.name}: list answered ${res.status}`);
  const online = (listEntries(res.body, 'online') ?? []).map((e) => String(e.baseUrl)).sort();
  const offline = new Map((listEntries(res.body, 'offline') ?? []).map((e) => [String(e.baseUrl), { lastUpdate: e.lastUpdate, reason: e.reason }]));
  return { online, offline };
}

/**
 * Polls until every one of `servers` lists exactly `online` online and every
 * one of `offline` offline; resolves the elapsed ms since `t0` and the views.
 */
async function waitForViews(
  fleet: Fleet, servers: readonly Server[], online: readonly string[], offline: readonly string[], t0: number, description: string,
): Promise<{ ms: number; views: View[] }> {
  const want = JSON.stringify([...online].sort());
  const views = await pollUntil(async (report) => {
    const got = await Promise.all(servers.map((s) => viewOf(fleet, s)));
    report(Object.fromEntries(servers.map((s, i) => [s.name, { online: got[i]!.online, offline: [...got[i]!.offline.keys()] }])));
    return got.every((v) => JSON.stringify(v.online) === want && offline.every((u) => v.offline.has(u))) ? got : undefined;
  }, { timeoutMs: 30_000, description });
  return { ms: Date.now() - t0, views };
}

/** The version every server in `views` lists `leaver` offline at: one and the same, newer than `before`. */
function expectOneDeparture(servers: readonly Server[], views: readonly View[], leaver: Server, before: number, reasonOn2x: string | undefined): void {
  servers.forEach((s, i) => {
    const entry = views[i]!.offline.get(leaver.url)!;
    expect(typeof entry.lastUpdate, s.name).toBe('number');
    expect(entry.lastUpdate as number, `${s.name}: a new version`).toBeGreaterThan(before);
    // Every server holds the version the leaver announced (not one of its own making).
    expect(entry.lastUpdate, `${s.name}: the same version as ${servers[0]!.name}`).toBe(views[0]!.offline.get(leaver.url)!.lastUpdate);
    // 2.x says why: 'left' for a 2.x shutdown; nothing for 1.x, whose format has no reasons. Never 'failed' (detected, not announced).
    if (s.kind === '2.x') expect(entry.reason, s.name).toBe(reasonOn2x);
  });
}

/** The version `server` is listed online at by `fleet`'s first server still running. */
async function versionOf(fleet: Fleet, server: Server): Promise<number> {
  const asker = fleet.servers.find((s) => s !== server && s.handle.running)!;
  const authorization = asker.kind === '1.x' ? fleet.controlSecret : `Bearer ${fleet.controlSecret}`;
  const res = await requestJson(`${asker.url}clustershazbot/list`, { headers: { authorization } });
  const entry = (listEntries(res.body, 'online') ?? []).find((e) => e.baseUrl === server.url);
  if (typeof entry?.lastUpdate !== 'number') throw new Error(`${asker.name} does not list ${server.name} online`);
  return entry.lastUpdate;
}

/** Every 2.x server started: it is still running and printed no configuration error. */
function expectStarted(servers: readonly Server[]): void {
  for (const s of servers.filter((x) => x.kind === '2.x')) {
    expect(s.handle.running, `${s.name} is running`).toBe(true);
    expect(s.handle.output(), s.name).not.toContain('Invalid clustershazbot configuration');
    expect(s.handle.output(), s.name).not.toContain('must be at least');
  }
}

/** No process ever printed either secret. */
function expectNoSecretInOutput(fleet: Fleet): void {
  for (const s of fleet.servers) {
    expect(s.handle.output(), s.name).not.toContain(fleet.secret);
    expect(s.handle.output(), s.name).not.toContain(fleet.controlSecret);
  }
}

/** How many times `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('1.x compatibility mode: a long secret, one 1.x server and three 2.x servers', () => {
  const secret = randomBytes(32).toString('base64url');
  const controlSecret = randomBytes(24).toString('base64url');
  let fleet: Fleet | undefined;
  let failed = false;

  beforeAll(async () => {
    fleet = await startFleet(['1.x', '2.x', '2.x', '2.x'], secret, controlSecret);
  }, 30_000);

  afterAll(async () => {
    await stopFleet(fleet, failed);
  }, 30_000);

  it('converges: every server, the 1.x one included, lists all four online', async () => {
    try {
      const f = fleet!;
      const t0 = Date.now();
      const { ms } = await waitForViews(f, f.servers, f.servers.map((s) => s.url), [], t0, 'all four servers to list all four online');
      console.log(`[legacy-auth] long secret (${secret.length} chars): 1 x 1.x + 3 x 2.x (SHAZBOT_LEGACY_AUTH=true) converged in ${ms} ms`);
      // 2.x servers in legacy mode take the raw control secret as 1.x tools send it.
      const v2 = f.servers.filter((s) => s.kind === '2.x');
      const res = await requestJson(`${v2[0]!.url}clustershazbot/list`, { headers: { authorization: controlSecret } });
      expect(res.status).toBe(200);
      expect(listEntries(res.body, 'offline')).toEqual([]);
      expectStarted(f.servers);
      // They said, at start, that the mode is on, and nothing about short keys: there are none.
      for (const s of v2) {
        expect(s.handle.output()).toContain(LEGACY_WARNING);
        expect(s.handle.output()).not.toContain('short secret in use');
      }
      expectNoSecretInOutput(f);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 45_000);
});

describe('1.x compatibility mode: an 8-character secret, two 1.x servers and three 2.x servers', () => {
  // 6 random bytes are 8 base64url characters: what a 1.x fleet may still run with.
  const secret = randomBytes(6).toString('base64url');
  const controlSecret = randomBytes(6).toString('base64url');
  const steps = new StepSequence();
  let fleet: Fleet | undefined;
  const times = { converged: 0, v2Leave: 0, v1Leave: 0 };

  beforeAll(async () => {
    expect(secret).toHaveLength(8);
    expect(controlSecret).toHaveLength(8);
    fleet = await startFleet(['1.x', '1.x', '2.x', '2.x', '2.x'], secret, controlSecret);
  }, 30_000);

  afterAll(async () => {
    await stopFleet(fleet, steps.brokenBy !== undefined);
  }, 30_000);

  steps.step('the 2.x servers start despite the short keys, warn once each, and all five converge', 45_000, async () => {
    const f = fleet!;
    const { ms, views } = await waitForViews(f, f.servers, f.servers.map((s) => s.url), [], Date.now(), 'all five servers to list all five online');
    times.converged = ms;
    for (const v of views) expect(v.offline.size).toBe(0);
    expectStarted(f.servers);
    for (const s of f.servers.filter((x) => x.kind === '2.x')) {
      expect(occurrences(s.handle.output(), LEGACY_WARNING), s.name).toBe(1);
      expect(occurrences(s.handle.output(), SHORT_WARNING), s.name).toBe(1);
      // The warning names the way out.
      expect(s.handle.output(), s.name).toContain('npx clustershazbot keygen');
    }
    // The 1.x stand-in never warns: it is not 2.x.
    for (const s of f.servers.filter((x) => x.kind === '1.x')) expect(s.handle.output()).not.toContain('short secret in use');
    // The short control secret, raw as 1.x tools send it, is accepted by a 2.x server, and a wrong one is not.
    const v2 = f.servers.find((s) => s.kind === '2.x')!;
    const raw = await requestJson(`${v2.url}clustershazbot/list`, { headers: { authorization: controlSecret } });
    expect(raw.status).toBe(200);
    expect(listEntries(raw.body, 'offline')).toEqual([]);
    const wrong = await requestJson(`${v2.url}clustershazbot/list`, { headers: { authorization: `${controlSecret}x` } });
    expect(wrong.status).toBe(401);
  });

  steps.step('a 2.x server leaves gracefully (SIGINT): every other server, 1.x included, lists it offline', 45_000, async () => {
    const f = fleet!;
    const leaving = f.servers.find((s) => s.kind === '2.x')!;
    const rest = f.servers.filter((s) => s !== leaving);
    const before = await versionOf(f, leaving);
    const t0 = Date.now();
    leaving.handle.process.kill('SIGINT');
    expect(await waitForExit(leaving.handle, 15_000)).toEqual({ code: 0, signal: null });
    const { ms, views } = await waitForViews(f, rest, rest.map((s) => s.url), [leaving.url], t0, `every remaining server to list ${leaving.name} offline`);
    times.v2Leave = ms;
    expectOneDeparture(rest, views, leaving, before, 'left');
  });

  steps.step('a 1.x server leaves gracefully (SIGTERM): every other server, 2.x and 1.x, lists it offline', 45_000, async () => {
    const f = fleet!;
    const leaving = f.servers.find((s) => s.kind === '1.x')!;
    const rest = f.servers.filter((s) => s !== leaving && s.handle.running);
    expect(rest.map((s) => s.kind).sort()).toEqual(['1.x', '2.x', '2.x']);
    const gone = f.servers.filter((s) => !s.handle.running).map((s) => s.url);
    const before = await versionOf(f, leaving);
    const t0 = Date.now();
    leaving.handle.process.kill('SIGTERM');
    expect(await waitForExit(leaving.handle, 15_000)).toEqual({ code: 0, signal: null });
    const { ms, views } = await waitForViews(f, rest, rest.map((s) => s.url), [...gone, leaving.url], t0, `every remaining server to list ${leaving.name} offline`);
    times.v1Leave = ms;
    expectOneDeparture(rest, views, leaving, before, undefined);
    console.log(`[legacy-auth] short secret (${secret.length} chars): 2 x 1.x + 3 x 2.x converged in ${times.converged} ms; `
      + `2.x leave seen by all in ${times.v2Leave} ms; 1.x leave seen by all in ${times.v1Leave} ms`);
  });

  steps.step('no output of any server, running or gone, contains either secret', 10_000, async () => {
    const f = fleet!;
    expectStarted(f.servers.filter((s) => s.handle.running));
    expectNoSecretInOutput(f);
  });
});

