/**
 * Prometheus metrics against real clusters: three instances behind real
 * Express servers on 127.0.0.1, each scrape parsed from the registry's text.
 */
import { Counter, Registry, register as globalRegistry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../core/system-random.js';
import { createCluster, type Cluster } from '../engine/cluster.js';
import type { ClusterStats } from '../engine/info.js';
import { ConfigError } from '../errors.js';
import { makeNonce, signRequest } from '../protocol/signature.js';
import { CONTROL, ExpressCluster, SECRET, post, type Node } from '../../test/helpers/express-cluster.js';
import { pollUntil } from '../../test/helpers/processes.js';
import { registerMetrics } from './prometheus.js';

const DEADLINE_MS = 15_000;

/** Each counter's name, by the stats field it reports. */
const COUNTER_FIELDS: Record<keyof ClusterStats, string> = {
  probeRounds: 'clustershazbot_probe_rounds_total',
  antiEntropyRounds: 'clustershazbot_antientropy_rounds_total',
  exchanges: 'clustershazbot_exchanges_total',
  exchangeFailures: 'clustershazbot_exchange_failures_total',
  bytesIn: 'clustershazbot_bytes_received_total',
  bytesOut: 'clustershazbot_bytes_sent_total',
  signatureRejections: 'clustershazbot_signature_rejections_total',
  extensionRejections: 'clustershazbot_extension_rejections_total',
};
const COUNTER_NAMES = Object.values(COUNTER_FIELDS);

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

/** The value of the one sample named `name` whose labels include `labels`. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

async function scrape(registry: Registry): Promise<Sample[]> {
  return parse(await registry.metrics());
}

/** A cluster that is never started: enough for registration checks, no network. */
function idleCluster(): Cluster {
  return createCluster({
    baseUrl: 'http://127.0.0.1:9/', secret: SECRET, controlSecret: CONTROL, masterListUrl: 'http://127.0.0.1:9/list.json',
  });
}

describe('registerMetrics with real clusters', () => {
  let fleet: ExpressCluster;
  let unregister: (() => void) | undefined;

  beforeEach(async () => {
    fleet = new ExpressCluster();
    await fleet.open();
  });

  afterEach(async () => {
    unregister?.();
    unregister = undefined;
    await fleet.close();
  });

  it('reports membership, counters, exchange durations and rejections; unregister removes everything', async () => {
    // Probing every second (default 2.5 s) so the dead peer below is declared failed sooner.
    const [a, , c] = (await fleet.addMany(3, { probeIntervalMs: 1_000 })) as [Node, Node, Node];
    const registry = new Registry();
    unregister = registerMetrics(a.cluster, { registry });

    const first = await pollUntil(async (report) => {
      const s = await scrape(registry);
      const seen = {
        online: value(s, 'clustershazbot_servers', { state: 'online' }),
        okCount: value(s, 'clustershazbot_exchange_duration_seconds_count', { result: 'ok' }),
      };
      report(seen);
      return seen.online === 3 && seen.okCount > 0 ? s : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description: 'three servers online and an exchange observed' });

    expect(value(first, 'clustershazbot_servers', { state: 'offline' })).toBe(0);
    expect(value(first, 'clustershazbot_status', { status: 'running' })).toBe(1);
    expect(value(first, 'clustershazbot_status', { status: 'idle' })).toBe(0);
    expect(value(first, 'clustershazbot_exchanges_total')).toBeGreaterThan(0);
    expect(value(first, 'clustershazbot_bytes_received_total')).toBeGreaterThan(0);
    expect(value(first, 'clustershazbot_bytes_sent_total')).toBeGreaterThan(0);
    expect(value(first, 'clustershazbot_exchange_duration_seconds_bucket', { result: 'ok', le: '+Inf' }))
      .toBe(value(first, 'clustershazbot_exchange_duration_seconds_count', { result: 'ok' }));
    // Durations are in seconds: a successful exchange ends within exchangeTimeoutMs (1 s here).
    expect(value(first, 'clustershazbot_exchange_duration_seconds_bucket', { result: 'ok', le: '2.5' }))
      .toBe(value(first, 'clustershazbot_exchange_duration_seconds_count', { result: 'ok' }));

    // A gossip request signed with a key the cluster does not have.
    const intruder = { message: 'gossip', online: [{ baseUrl: 'http://127.0.0.1:9/', monitor: false, lastUpdate: Date.now() }] };
    const target = `${a.baseUrl}clustershazbot/gossip`;
    const forged = signRequest('not-the-cluster-secret-0123456789', target, intruder, Date.now(), makeNonce(cryptoRandom));
    expect((await post(a, 'gossip', intruder, { authorization: forged })).status).toBe(401);

    const low = a.cluster.stats();
    const second = await scrape(registry);
    const high = a.cluster.stats();
    // Each counter is what the cluster counted at the scrape.
    for (const [field, name] of Object.entries(COUNTER_FIELDS)) {
      expect(value(second, name), name).toBeGreaterThanOrEqual(low[field as keyof ClusterStats]);
      expect(value(second, name), name).toBeLessThanOrEqual(high[field as keyof ClusterStats]);
    }
    expect(value(second, 'clustershazbot_signature_rejections_total'))
      .toBe(value(first, 'clustershazbot_signature_rejections_total') + 1);
    for (const name of COUNTER_NAMES) expect(value(second, name), name).toBeGreaterThanOrEqual(value(first, name));

    // A peer that dies makes exchanges fail, the failures are observed, and it ends up offline.
    await c.kill();
    const failed = await pollUntil(async (report) => {
      const s = await scrape(registry);
      const seen = {
        failed: value(s, 'clustershazbot_exchange_duration_seconds_count', { result: 'failed' }),
        online: value(s, 'clustershazbot_servers', { state: 'online' }),
        offline: value(s, 'clustershazbot_servers', { state: 'offline' }),
      };
      report(seen);
      return seen.failed > 0 && seen.online === 2 && seen.offline === 1 ? s : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description: 'the dead peer to be counted offline after failed exchanges' });
    expect(value(failed, 'clustershazbot_exchange_failures_total')).toBeGreaterThan(0);
    for (const name of COUNTER_NAMES) expect(value(failed, name), name).toBeGreaterThanOrEqual(value(second, name));

    await a.cluster.shutdown();
    const stopped = await scrape(registry);
    expect(value(stopped, 'clustershazbot_status', { status: 'stopped' })).toBe(1);
    expect(value(stopped, 'clustershazbot_status', { status: 'running' })).toBe(0);

    unregister();
    expect(await registry.metrics()).not.toContain('clustershazbot_');
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('adds constant labels to every series', async () => {
    const [a] = (await fleet.addMany(2)) as [Node, Node];
    const registry = new Registry();
    unregister = registerMetrics(a.cluster, { registry, prefix: 'app_gossip_', labels: { service: 'api' } });
    const samples = await pollUntil(async () => {
      const s = await scrape(registry);
      return value(s, 'app_gossip_exchanges_total', { service: 'api' }) > 0 ? s : undefined;
    }, { timeoutMs: DEADLINE_MS, intervalMs: 50, description: 'an exchange to be counted' });
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      expect(s.name.startsWith('app_gossip_'), s.name).toBe(true);
      expect(s.labels['service'], s.name).toBe('api');
    }
    expect(value(samples, 'app_gossip_servers', { service: 'api', state: 'online' })).toBeGreaterThanOrEqual(1);
  });
});

describe('registerMetrics registration', () => {
  it('refuses a second registration with the same prefix until the first is unregistered', async () => {
    const cluster = idleCluster();
    const registry = new Registry();
    const first = registerMetrics(cluster, { registry });
    const before = await registry.metrics();
    expect(() => registerMetrics(cluster, { registry })).toThrow(/already been registered/);
    // The failed attempt left the first registration as it was.
    expect(await registry.metrics()).toBe(before);
    // Another prefix on the same registry is fine.
    const other = registerMetrics(cluster, { registry, prefix: 'other_' });
    expect(value(await scrape(registry), 'other_status', { status: 'idle' })).toBe(1);
    other();
    first();
    first();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    const again = registerMetrics(cluster, { registry });
    expect(value(await scrape(registry), 'clustershazbot_status', { status: 'idle' })).toBe(1);
    again();
  });

  it('unregister stops observing the cluster', () => {
    const cluster = idleCluster();
    let observers = 0;
    // The real cluster, with its observeExchanges counted.
    const watched = new Proxy(cluster, {
      get(target, key) {
        if (key === 'observeExchanges') {
          return (observer: Parameters<Cluster['observeExchanges']>[0]) => {
            observers++;
            const off = target.observeExchanges(observer);
            return () => {
              observers--;
              off();
            };
          };
        }
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const off = registerMetrics(watched, { registry: new Registry() });
    expect(observers).toBe(1);
    off();
    off();
    expect(observers).toBe(0);
  });

  it('registers nothing when a name is taken by someone else, and leaves their metric alone', async () => {
    const registry = new Registry();
    const theirs = new Counter({ name: 'clustershazbot_exchanges_total', help: 'not ours', registers: [registry] });
    theirs.inc(7);
    expect(() => registerMetrics(idleCluster(), { registry })).toThrow(/already been registered/);
    const samples = await scrape(registry);
    expect(samples.map((s) => s.name)).toEqual(['clustershazbot_exchanges_total']);
    expect(value(samples, 'clustershazbot_exchanges_total')).toBe(7);
  });

  it('rejects reserved and invalid label names with ConfigError, registering nothing', async () => {
    const registry = new Registry();
    const bad: Array<Record<string, string>> = [{ state: 'x' }, { le: 'x' }, { 'bad-name': 'x' }, { __meta: 'x' }];
    for (const labels of bad) {
      expect(() => registerMetrics(idleCluster(), { registry, labels })).toThrow(ConfigError);
    }
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('never touches prom-client\'s global registry', async () => {
    const before = JSON.stringify(await globalRegistry.getMetricsAsJSON());
    const registry = new Registry();
    const off = registerMetrics(idleCluster(), { registry });
    await registry.metrics();
    off();
    const after = await globalRegistry.getMetricsAsJSON();
    expect(JSON.stringify(after)).toBe(before);
    expect(after.filter((m) => m.name.startsWith('clustershazbot_'))).toEqual([]);
  });
});
