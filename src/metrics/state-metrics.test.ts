/**
 * The replicated state's metrics against real clusters: two instances
 * behind real Express servers on 127.0.0.1, each scrape parsed from the
 * registry's text (as in prometheus.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../engine/cluster.js';
import { ConfigError } from '../errors.js';
import { CONTROL, ExpressCluster, SECRET } from '../../test/helpers/express-cluster.js';
import { pollUntil } from '../../test/helpers/processes.js';
import { registerMetrics } from './prometheus.js';

const DEADLINE_MS = 15_000;
const CANARY = 'canary-7f3a';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format (enough of it for prom-client's output). */
function parse(text: string): Sample[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    return { name: m[1]!, labels, value: Number(m[3]) };
  });
}

/** The samples named `name` whose labels include `labels`. */
function all(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample named `name` whose labels include `labels`. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = all(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

function idleCluster(state = true): Cluster {
  return createCluster(
    { baseUrl: 'http://127.0.0.1:9/', secret: SECRET, controlSecret: CONTROL, masterListUrl: 'http://127.0.0.1:9/list.json' },
    state ? {} : { state: false },
  );
}

describe('state metrics with real clusters', () => {
  let fleet: ExpressCluster;
  let dir: string;
  let unregister: (() => void) | undefined;

  beforeEach(async () => {
    fleet = new ExpressCluster();
    await fleet.open();
    dir = await mkdtemp(join(tmpdir(), 'shazbot-state-metrics-'));
  });

  afterEach(async () => {
    unregister?.();
    unregister = undefined;
    await fleet.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports keys, bytes, tombstones, changes by origin, rejected writes, readiness, peer lag and the store; never a key or a value', async () => {
    const a = await fleet.add({ probeIntervalMs: 500, probeTimeoutMs: 250, stateDir: join(dir, 'a') });
    const b = await fleet.add({ probeIntervalMs: 500, probeTimeoutMs: 250 });
    const registry = new Registry();
    unregister = registerMetrics(a.cluster, { registry });
    await a.cluster.state.ready();
    const items = a.cluster.state.map('items', { maxValueBytes: 64 });
    await items.set(`${CANARY}-key-1`, { secret: `${CANARY}-value` });
    await items.set(`${CANARY}-key-2`, 2);
    await items.delete(`${CANARY}-key-2`);
    await expect(items.set(`${CANARY}-key-3`, 'x'.repeat(100))).rejects.toThrow(/maxValueBytes/);
    await a.cluster.state.counter('hits').increment(424_242);
    await b.cluster.state.map('items').set(`${CANARY}-from-b`, `${CANARY}-value-b`);

    const s = await pollUntil(async (report) => {
      const samples = parse(await registry.metrics());
      const seen = {
        keys: all(samples, 'clustershazbot_state_keys', { map: 'items' })[0]?.value,
        lag: all(samples, 'clustershazbot_state_peer_lag_seconds', { peer: b.baseUrl })[0]?.value,
      };
      report(seen);
      return seen.keys === 2 && seen.lag !== undefined ? samples : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 100, description: "B's write to reach A, and A to see B's state equal to its own" });

    expect(value(s, 'clustershazbot_state_ready')).toBe(1);
    expect(value(s, 'clustershazbot_state_bytes', { map: 'items' })).toBeGreaterThan(CANARY.length * 2);
    expect(value(s, 'clustershazbot_state_tombstones', { map: 'items' })).toBe(1);
    expect(value(s, 'clustershazbot_state_changes_total', { map: 'items', origin: 'local' })).toBe(3);
    // B's write came pushed (remote) or, if B did not list A up yet, by a repair (sync).
    const fromB = ['remote', 'sync'].map((origin) => value(s, 'clustershazbot_state_changes_total', { map: 'items', origin }));
    expect(fromB[0]! + fromB[1]!).toBe(1);
    expect(value(s, 'clustershazbot_state_rejected_writes_total', { map: 'items' })).toBe(1);
    expect(value(s, 'clustershazbot_state_peer_lag_seconds', { peer: b.baseUrl })).toBeGreaterThanOrEqual(0);
    expect(value(s, 'clustershazbot_state_peer_lag_seconds', { peer: b.baseUrl })).toBeLessThan(DEADLINE_MS / 1000);
    // One outcome at 1: A started alone or synced with B, depending on who listed whom first.
    const outcomes = all(s, 'clustershazbot_state_sync_outcome');
    expect(outcomes.map((o) => o.labels['outcome']).sort()).toEqual(['alone', 'pending', 'synced', 'timed out']);
    expect(outcomes.filter((o) => o.value === 1).map((o) => o.labels['outcome'])).toEqual([expect.stringMatching(/^(alone|synced)$/)]);
    expect(value(s, 'clustershazbot_state_store_appends_total')).toBeGreaterThan(0);
    expect(value(s, 'clustershazbot_state_store_failures_total')).toBe(0);
    for (const name of ['state_sync_keys_total', 'state_repairs_total', 'state_pushed_changes_total', 'state_rejected_sections_total', 'state_pushes_pending']) {
      expect(value(s, `clustershazbot_${name}`), name).toBeGreaterThanOrEqual(0);
    }
    expect(all(s, 'clustershazbot_state_repair_keys_total').map((x) => x.labels['direction']).sort()).toEqual(['received', 'sent']);
    expect(all(s, 'clustershazbot_state_sync_chunks_total').map((x) => x.labels['result']).sort()).toEqual(['failed', 'ok']);
    const text = await registry.metrics();
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('424242');

    // Counters only grow, scrape after scrape.
    await items.set(`${CANARY}-key-4`, 4);
    const later = parse(await registry.metrics());
    expect(value(later, 'clustershazbot_state_changes_total', { map: 'items', origin: 'local' })).toBe(4);
    expect(value(later, 'clustershazbot_state_keys', { map: 'items' })).toBe(3);
  });

  it('takes one info view per scrape, whatever the number of state metrics', async () => {
    const cluster = idleCluster();
    let views = 0;
    const counted = new Proxy(cluster, {
      get(target, key) {
        const v: unknown = Reflect.get(target, key, target);
        if (key === 'info') return () => (views++, target.info());
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const registry = new Registry();
    const off = registerMetrics(counted, { registry });
    views = 0;
    await registry.metrics();
    expect(views).toBe(1);
    await registry.getMetricsAsJSON();
    expect(views).toBe(2);
    off();
  });
});

describe('state metrics registration', () => {
  it('registers none for an instance without a replicated state', async () => {
    const registry = new Registry();
    const off = registerMetrics(idleCluster(false), { registry });
    const names = parse(await registry.metrics()).map((s) => s.name);
    expect(names.some((n) => n.startsWith('clustershazbot_status'))).toBe(true);
    expect(names.filter((n) => n.includes('state_'))).toEqual([]);
    off();
  });

  it('before start: not ready, sync pending, no map and no peer series', async () => {
    const registry = new Registry();
    const off = registerMetrics(idleCluster(), { registry });
    const s = parse(await registry.metrics());
    expect(value(s, 'clustershazbot_state_ready')).toBe(0);
    expect(value(s, 'clustershazbot_state_sync_outcome', { outcome: 'pending' })).toBe(1);
    expect(all(s, 'clustershazbot_state_keys')).toEqual([]);
    expect(all(s, 'clustershazbot_state_peer_lag_seconds')).toEqual([]);
    off();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('refuses constant labels the state metrics use, with ConfigError', async () => {
    const registry = new Registry();
    for (const name of ['map', 'origin', 'peer', 'outcome', 'direction']) {
      expect(() => registerMetrics(idleCluster(), { registry, labels: { [name]: 'x' } }), name).toThrow(ConfigError);
    }
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('adds constant labels to the state series too', async () => {
    const cluster = idleCluster();
    await cluster.state.map('m').set('k', 1);
    const registry = new Registry();
    const off = registerMetrics(cluster, { registry, labels: { service: 'api' } });
    const s = parse(await registry.metrics()).filter((x) => x.name.includes('state_'));
    expect(s.length).toBeGreaterThan(10);
    for (const x of s) expect(x.labels['service'], x.name).toBe('api');
    expect(value(s, 'clustershazbot_state_keys', { service: 'api', map: 'm' })).toBe(1);
    off();
  });
});
