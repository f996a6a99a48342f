/**
 * `clustershazbot/metrics`: Prometheus metrics for one cluster instance,
 * through prom-client (an optional peer dependency that only this subpath
 * imports).
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import type { Cluster } from '../engine/cluster.js';
import type { ClusterStatus } from '../engine/events.js';
import type { ClusterStats } from '../engine/info.js';
import type { ServerState } from '../membership/entry.js';
import { ConfigError } from '../errors.js';
import { registerStateMetrics, STATE_LABELS } from './state-metrics.js';

/** Options of {@link registerMetrics}. */
export interface MetricsOptions {
  /** Where the metrics are registered. Nothing is ever registered on prom-client's global registry. */
  registry: Registry;
  /** Prefix of every metric name. @default 'clustershazbot_' */
  prefix?: string;
  /**
   * Constant labels added to every series, e.g. `{ service: 'api' }`. Names must
   * be valid Prometheus label names and not `state`, `status`, `result`, `le`,
   * `map`, `origin`, `peer`, `outcome` or `direction`, which the metrics use
   * themselves. @default none
   */
  labels?: Record<string, string>;
}

/** Exchange duration buckets in seconds, for RPCs on a LAN: 1 ms to 5 s. */
const EXCHANGE_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Label names the metrics set themselves. */
const RESERVED_LABELS = new Set(['state', 'status', 'result', 'le', ...STATE_LABELS]);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const SERVER_STATES: Record<ServerState, 0> = { online: 0, suspect: 0, offline: 0 };
const STATUSES: Record<ClusterStatus, 0> = { idle: 0, starting: 0, running: 0, stopping: 0, stopped: 0 };

/** Counter name suffixes and help texts, by the {@link ClusterStats} field they read. */
const COUNTERS: ReadonlyArray<readonly [keyof ClusterStats, string, string]> = [
  ['probeRounds', 'probe_rounds_total', 'Periodic failure-detection probe rounds run.'],
  ['antiEntropyRounds', 'antientropy_rounds_total', 'Periodic anti-entropy rounds run.'],
  ['exchanges', 'exchanges_total', 'Gossip exchanges this server started (probes, pushes, anti-entropy).'],
  ['exchangeFailures', 'exchange_failures_total', 'Exchanges that got no valid signed reply in time.'],
  ['bytesIn', 'bytes_received_total', 'JSON payload bytes received (request bodies handled, reply bodies read); HTTP headers not counted.'],
  ['bytesOut', 'bytes_sent_total', 'JSON payload bytes sent (request and reply bodies); HTTP headers not counted.'],
  ['signatureRejections', 'signature_rejections_total', 'Requests and replies rejected for a missing, malformed, stale, replayed or wrong signature or secret.'],
  ['extensionRejections', 'extension_rejections_total', 'Extension fields (ext) of signed messages ignored as malformed or too large.'],
];

function checkLabels(labels: Record<string, string>): void {
  const problems = Object.keys(labels).flatMap((name) => {
    if (RESERVED_LABELS.has(name)) return [`metrics label "${name}" is reserved by clustershazbot's metrics`];
    if (!LABEL_NAME.test(name) || name.startsWith('__')) return [`metrics label "${name}" is not a valid Prometheus label name`];
    return [];
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Registers this cluster's metrics on `options.registry` (names start with
 * `prefix`, default `clustershazbot_`):
 * - `servers{state}` gauge: members this server lists online, suspect, offline (itself included);
 * - `status{status}` gauge: 1 for the current lifecycle status, 0 for the others;
 * - counters since the instance was created, read from {@link Cluster.stats} at each scrape:
 *   `probe_rounds_total`, `antientropy_rounds_total`, `exchanges_total`, `exchange_failures_total`,
 *   `bytes_received_total`, `bytes_sent_total` (JSON payload bytes, HTTP headers not counted),
 *   `signature_rejections_total`, `extension_rejections_total`;
 * - `exchange_duration_seconds{result="ok|failed"}` histogram: time from sending an
 *   exchange to its valid reply or its failure, 1 ms to 5 s buckets; exchanges are
 *   observed from registration on (the counters include earlier ones);
 * - with a replicated state (`cluster.state`), from its info view at each scrape (state-metrics.ts):
 *   gauges `state_ready`, `state_keys{map}`, `state_bytes{map}`, `state_tombstones{map}`,
 *   `state_peer_lag_seconds{peer}` (peers whose state was never seen equal have none),
 *   `state_sync_outcome{outcome}`, `state_pushes_pending`; counters `state_changes_total{map,origin}`
 *   (local, remote, sync), `state_rejected_writes_total{map}`, `state_sync_chunks_total{result}`,
 *   `state_sync_keys_total`, `state_repairs_total`, `state_repair_keys_total{direction}`
 *   (sent, received), `state_pushed_changes_total`, `state_rejected_sections_total`,
 *   `state_tombstones_collected_total`, `state_store_appends_total`, `state_store_failures_total`,
 *   `state_store_compactions_total`. Never a key or a value.
 *
 * Registering twice on the same registry with the same prefix throws prom-client's
 * "already been registered" error (and registers nothing); call the returned
 * function first. Invalid `labels` throw ConfigError.
 *
 * @returns a function that removes every one of these metrics from the registry
 * and stops observing the cluster. Idempotent.
 */
export function registerMetrics(cluster: Cluster, options: MetricsOptions): () => void {
  const { registry, prefix = 'clustershazbot_', labels = {} } = options;
  checkLabels(labels);
  const constant = Object.keys(labels);
  const registers = [registry];
  const created: Array<[string, Metric]> = [];
  /** Creates (and so registers) one metric, remembering it for unregister. */
  const add = <M extends Metric>(suffix: string, make: (name: string) => M): M => {
    const name = `${prefix}${suffix}`;
    const metric = make(name);
    created.push([name, metric]);
    return metric;
  };
  const unregister = (): void => {
    for (const [name, metric] of created.splice(0)) {
      if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name);
    }
  };

  let histogram: Histogram<string>;
  try {
    add('servers', (name) => new Gauge({
      name, help: 'Members this server lists in each state, itself included.', labelNames: [...constant, 'state'], registers,
      collect() {
        const counts = { ...SERVER_STATES };
        for (const e of cluster.members()) counts[e.state]++;
        for (const [state, n] of Object.entries(counts)) this.set({ ...labels, state }, n);
      },
    }));
    add('status', (name) => new Gauge({
      name, help: 'Lifecycle status of this instance: 1 for the current one, 0 for the others.', labelNames: [...constant, 'status'], registers,
      collect() {
        const current = cluster.status;
        for (const status of Object.keys(STATUSES)) this.set({ ...labels, status }, status === current ? 1 : 0);
      },
    }));
    for (const [field, suffix, help] of COUNTERS) {
      let last = 0;
      add(suffix, (name) => new Counter({
        name, help, labelNames: constant, registers,
        collect() {
          // The engine's counters only grow; add what grew since the last scrape.
          const value = cluster.stats()[field];
          this.inc(labels, Math.max(0, value - last));
          last = Math.max(last, value);
        },
      }));
    }
    histogram = add('exchange_duration_seconds', (name) => new Histogram({
      name, help: 'Time from sending a gossip exchange to its valid reply (ok) or its failure (failed).',
      labelNames: [...constant, 'result'], buckets: EXCHANGE_BUCKETS_SECONDS, registers,
    }));
    registerStateMetrics(cluster, { add, labels, constant, registers });
  } catch (e) {
    unregister();
    throw e;
  }
  histogram.zero({ ...labels, result: 'ok' });
  histogram.zero({ ...labels, result: 'failed' });
  const unobserve = cluster.observeExchanges((_peer, ms, ok) => {
    histogram.observe({ ...labels, result: ok ? 'ok' : 'failed' }, ms / 1000);
  });
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    unobserve();
    unregister();
  };
}
