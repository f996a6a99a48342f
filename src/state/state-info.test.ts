/**
 * The replicated state in `GET /clustershazbot/info` (`extensions.state`),
 * over real HTTP: two instances behind the node:http adapter, the view read
 * with the control secret. It shows names, counts and bytes, never a key
 * or a value.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../master-list/store.js';
import { CONTROL, SECRET, call } from '../../test/helpers/adapter-suite.js';
import { pollUntil } from '../../test/helpers/processes.js';
import { Partition, serveApp, type SessionApp } from '../../test/helpers/session-apps.js';
import type { StateInfo } from './state-info.js';

const CANARY = 'canary-5e1d';
const STORE_AUTH = 'Bearer state-info-store-token-0123456789';

describe('GET /clustershazbot/info: extensions.state', () => {
  let dir: string;
  let store: MasterListStore;
  let a: SessionApp;
  let b: SessionApp;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shazbot-state-info-'));
    store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: STORE_AUTH });
    const options = {
      secret: SECRET, controlSecret: CONTROL, masterListUrl: store.url, masterListUpdateUrl: store.url, masterListUpdateAuth: STORE_AUTH,
      gossipIntervalMs: 200, probeIntervalMs: 300, probeTimeoutMs: 250, masterAnnounceMinimumMs: 300, masterAnnounceIntervalMs: 300,
      shutdownTimeoutMs: 2_000,
    };
    const deps = { state: { settings: { digestIntervalMs: 200 } } };
    const partition = new Partition();
    a = await serveApp('node', options, deps, partition);
    b = await serveApp('node', options, deps, partition);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows each map, the counters, the peers\' lag, the sync and the repairs, and no key or value', async () => {
    await a.cluster.state.ready();
    const items = a.cluster.state.map('items', { maxValueBytes: 64 });
    await items.set(`${CANARY}-key`, { secret: `${CANARY}-value` });
    await items.set(`${CANARY}-gone`, `${CANARY}-deleted-value`);
    await items.delete(`${CANARY}-gone`);
    await expect(items.set(`${CANARY}-big`, 'x'.repeat(100))).rejects.toThrow(/maxValueBytes/);
    await a.cluster.state.counter('hits').increment(424_242);
    await b.cluster.state.map('items').set(`${CANARY}-from-b`, `${CANARY}-value-b`);

    const { text, state } = await pollUntil(async (report) => {
      const answer = await call(a.baseUrl, 'GET', 'info', { headers: { authorization: `Bearer ${CONTROL}` } });
      const s = (answer.json as { extensions?: { state?: StateInfo } }).extensions?.state;
      report(s);
      const map = s?.maps.find((m) => m.name === 'items');
      return map?.keys === 2 && typeof s?.peers[b.baseUrl] === 'number' ? { text: answer.text, state: s } : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100, description: "A's info to show B's write and B's state seen equal" });

    expect(state.replica.startsWith(`${a.baseUrl}#`)).toBe(true);
    expect(state.ready).toBe(true);
    expect(state.maps).toEqual([{
      name: 'items', keys: 2, bytes: expect.any(Number), tombstones: 1, rejectedWrites: 1,
      localWrites: 3, remoteChanges: expect.any(Number), syncChanges: expect.any(Number),
    }]);
    const map = state.maps[0]!;
    expect(map.bytes).toBeGreaterThan(0);
    expect(map.remoteChanges + map.syncChanges).toBe(1);
    expect(state.counters).toEqual([{ name: 'hits', replicas: 1 }]);
    expect(Object.keys(state.peers)).toEqual([b.baseUrl]);
    expect(state.peers[b.baseUrl]).toBeGreaterThanOrEqual(0);
    expect(state.tombstonesWaiting).toBe(1);
    expect(['alone', 'synced']).toContain(state.sync.outcome);
    expect(state.repairs).toEqual({ repairs: expect.any(Number), keysSent: expect.any(Number), keysReceived: expect.any(Number) });
    expect(state.pushes.sent).toBeGreaterThan(0);
    expect(state.store).toBeNull();
    // Names, counts and bytes only: no key, no value, no counter value anywhere in the view.
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('424242');
  });
});
