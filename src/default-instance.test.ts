import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The default instance is a module-level singleton, so every test imports a
 * fresh copy of the module (and of the error classes it throws: compare
 * `code`s, never `instanceof` across copies).
 */
type DefaultInstance = typeof import('./default-instance.js');

const SECRET = 'gossip-secret-0123456789abcdef';
const CONTROL = 'control-secret-0123456789abcdef';
const BASE_URL = 'http://127.0.0.1:39871/';

let saved: Record<string, string | undefined> = {};
let api: DefaultInstance;
let dir: string | undefined;

beforeEach(async () => {
  // Start from an environment without any SHAZBOT_* variable, whatever the shell had.
  saved = {};
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('SHAZBOT_')) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  }
  vi.resetModules();
  api = await import('./default-instance.js');
});

afterEach(async () => {
  // Stop the instance before the environment changes under it.
  await api.shazbotShutDown();
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('SHAZBOT_')) delete process.env[key];
  }
  Object.assign(process.env, saved);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Awaits a promise that must reject, and returns what it rejected with. */
async function rejection(p: Promise<unknown>): Promise<{ code?: unknown; status?: unknown; name?: unknown; problems?: readonly string[] }> {
  const outcome = await p.then(
    () => ({ rejected: false as const }),
    (error: unknown) => ({ rejected: true as const, error }),
  );
  expect(outcome.rejected).toBe(true);
  return (outcome as { error: Record<string, unknown> }).error as never;
}

async function expectCode(p: Promise<unknown>, code: string, status: number): Promise<void> {
  const e = await rejection(p);
  expect(e.code).toBe(code);
  expect(e.status).toBe(status);
}

/** Reads the master list file; undefined while it is missing or half-written. */
async function readList(file: string): Promise<{ online: Array<{ baseUrl: string }>; offline?: Array<{ baseUrl: string; reason?: string }> } | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as never;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A temporary file:// master list holding an empty list, and the SHAZBOT_* variables pointing at it. */
async function fileMasterList(extra: Record<string, string> = {}): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'shazbot-default-'));
  const file = join(dir, 'list.json');
  await writeFile(file, '{"online":[]}');
  const url = pathToFileURL(file).href;
  Object.assign(process.env, {
    SHAZBOT_SECRET: SECRET,
    SHAZBOT_CONTROL_SECRET: CONTROL,
    SHAZBOT_BASE_URL: BASE_URL,
    SHAZBOT_MASTER_LIST: url,
    SHAZBOT_MASTER_LIST_UPDATE: url,
    SHAZBOT_MASTER_LIST_UPDATE_AUTH: 'unused-for-files',
    SHAZBOT_LOG_LEVEL: 'silent',
    ...extra,
  });
  return file;
}

describe('default instance (module-level API)', () => {
  it('refuses requests before shazbotStart with NOT_STARTED (503); shutting down is a no-op', async () => {
    await expectCode(api.shazbotGossipRequest('', { message: 'gossip', online: [] }), 'NOT_STARTED', 503);
    await expectCode(api.shazbotListRequest(''), 'NOT_STARTED', 503);
    await expectCode(api.shazbotControlRequest(`Bearer ${CONTROL}`, { message: 'control', online: false }), 'NOT_STARTED', 503);
    await expect(api.shazbotShutDown()).resolves.toBeUndefined();
    expect(api.getDefaultCluster()).toBeUndefined();
    // The no-op shutdown did not turn "not started" into "stopped".
    await expectCode(api.shazbotListRequest(''), 'NOT_STARTED', 503);
  });

  it('rejects (never throws synchronously) with one ConfigError listing every problem', async () => {
    process.env['SHAZBOT_SECRET'] = 'short';
    process.env['SHAZBOT_BASE_URL'] = 'ftp://x/';
    process.env['SHAZBOT_GOSSIP_INTERVAL'] = 'abc';
    let started: Promise<void> | undefined;
    expect(() => {
      started = api.shazbotStart();
    }).not.toThrow();
    const e = await rejection(started!);
    expect(e.name).toBe('ConfigError');
    expect(e.code).toBe('CONFIG_INVALID');
    const names = (e.problems ?? []).map((p) => p.slice(0, p.indexOf(':'))).sort();
    expect(names).toEqual([
      'SHAZBOT_BASE_URL', 'SHAZBOT_CONTROL_SECRET', 'SHAZBOT_GOSSIP_INTERVAL', 'SHAZBOT_MASTER_LIST',
      'SHAZBOT_MASTER_LIST_UPDATE', 'SHAZBOT_MASTER_LIST_UPDATE_AUTH', 'SHAZBOT_SECRET',
    ]);
    expect(api.getDefaultCluster()).toBeUndefined();
    await expectCode(api.shazbotListRequest(''), 'NOT_STARTED', 503);
  });

  it('starts from a file:// master list, announces itself there, and shuts down idempotently', async () => {
    const file = await fileMasterList();

    const first = api.shazbotStart();
    // A second call while starting shares the same start.
    const second = api.shazbotStart();
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    expect(api.getDefaultCluster()?.status).toBe('running');

    const list = await api.shazbotListRequest('');
    expect(list.online.map((s) => s.baseUrl)).toEqual([BASE_URL]);
    expect(list.offline).toBeUndefined();
    const full = await api.shazbotListRequest(`Bearer ${CONTROL}`);
    expect(full.offline).toEqual([]);

    // The master list did not name this server, so it announces at once.
    await eventually(async () => (await readList(file))?.online.some((s) => s.baseUrl === BASE_URL) === true, 10_000, 'the announce');

    await expect(api.shazbotShutDown()).resolves.toBeUndefined();
    await expect(api.shazbotShutDown()).resolves.toBeUndefined();
    expect(api.getDefaultCluster()?.status).toBe('stopped');
    await expectCode(api.shazbotListRequest(''), 'STOPPED', 503);
    await expectCode(api.shazbotGossipRequest('', { message: 'gossip', online: [] }), 'STOPPED', 503);
    await expectCode(api.shazbotControlRequest(`Bearer ${CONTROL}`, { message: 'control', online: true }), 'STOPPED', 503);
  });

  it('with SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN the file lists the server as left once shutdown resolves', async () => {
    const file = await fileMasterList({ SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN: 'TRUE' });
    await api.shazbotStart();
    await eventually(async () => (await readList(file))?.online.some((s) => s.baseUrl === BASE_URL) === true, 10_000, 'the announce');
    await api.shazbotShutDown();
    const stored = await readList(file);
    expect(stored?.online.map((s) => s.baseUrl)).toEqual([]);
    expect(stored?.offline?.map((s) => [s.baseUrl, s.reason])).toEqual([[BASE_URL, 'left']]);
  });

  it('events and queries: listeners subscribed before start see the lifecycle; queries are empty before start', async () => {
    expect(api.shazbotStatus()).toBe('idle');
    expect(api.shazbotHealth()).toEqual({ healthy: false, status: 'idle' });
    expect(api.shazbotServers()).toEqual([]);
    expect(api.shazbotOnlineServers()).toEqual([]);
    expect(api.shazbotOfflineServers()).toEqual([]);
    expect(api.shazbotServer(BASE_URL)).toBeUndefined();
    expect(api.shazbotSelf()).toBeUndefined();
    await expectCode(api.shazbotInfoRequest(`Bearer ${CONTROL}`), 'NOT_STARTED', 503);

    const seen: string[] = [];
    const dropped: string[] = [];
    api.shazbotOn('status:change', (status, previous) => seen.push(`${previous}->${status}`));
    const off = api.shazbotOn('status:change', (status) => dropped.push(status));
    api.shazbotOn('status:change', () => {
      throw new Error('a listener that throws');
    });
    off();
    const file = await fileMasterList();
    await api.shazbotStart();
    expect(seen).toEqual(['idle->starting', 'starting->running']);
    expect(dropped).toEqual([]);
    expect(api.shazbotStatus()).toBe('running');
    expect(api.shazbotHealth()).toEqual({ healthy: true, status: 'running' });
    expect(api.shazbotSelf()?.baseUrl).toBe(BASE_URL);
    expect(api.shazbotServer(BASE_URL)?.state).toBe('online');
    expect(api.shazbotOnlineServers().map((s) => s.baseUrl)).toEqual([BASE_URL]);
    expect(api.shazbotServers().map((s) => s.baseUrl)).toEqual([BASE_URL]);
    const info = await api.shazbotInfoRequest(`Bearer ${CONTROL}`);
    expect(info.servers.map((s) => [s.baseUrl, s.self])).toEqual([[BASE_URL, true]]);
    await expectCode(api.shazbotInfoRequest('Bearer wrong'), 'UNAUTHORIZED', 401);

    await api.shazbotShutDown();
    expect(seen.slice(2)).toEqual(['running->stopping', 'stopping->stopped']);
    expect(api.shazbotOfflineServers().map((s) => [s.baseUrl, s.reason])).toEqual([[BASE_URL, 'left']]);
    // A restart makes a new instance: the listener follows it.
    await api.shazbotStart();
    expect(seen.slice(4)).toEqual(['idle->starting', 'starting->running']);
    // Let its immediate announce finish before the directory goes.
    await eventually(async () => (await readList(file))?.online.some((s) => s.baseUrl === BASE_URL) === true, 10_000, 'the announce');
  });
});
