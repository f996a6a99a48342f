/**
 * The replicated state's part of `clustershazbot/metrics`: what the info
 * view shows of `cluster.state` (src/state/state-info.ts), per map and per
 * peer, as Prometheus gauges and counters. Registered by registerMetrics
 * (prometheus.ts) when the instance has a replicated state; every metric
 * reads one snapshot of the info view per scrape.
 */
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import type { Cluster } from '../engine/cluster.js';
import type { StateInfo } from '../state/state-info.js';

/** Label names the state metrics set themselves (constant labels may not use them). */
export const STATE_LABELS: readonly string[] = ['map', 'origin', 'peer', 'outcome', 'direction'];

/** The outcomes of the initial sync (join-sync.ts), each a series of `state_sync_outcome`. */
const OUTCOMES = ['pending', 'synced', 'alone', 'timed out'];

/** What registerMetrics hands over: how to create (and remember) a metric, and the constant labels. */
export interface MetricContext {
  /** Creates one metric named `<prefix><suffix>` on the registry, remembering it for unregister. */
  add<M extends Metric>(suffix: string, make: (name: string) => M): M;
  readonly labels: Record<string, string>;
  /** The constant labels' names. */
  readonly constant: readonly string[];
  /** Where every metric registers. */
  readonly registers: Registry[];
}

/** The state section of an info view, if it has one of the expected shape. */
export function stateInfoOf(info: ReturnType<Cluster['info']>): StateInfo | undefined {
  const s = info.extensions?.['state'] as Partial<StateInfo> | undefined;
  if (typeof s !== 'object' || s === null || !Array.isArray(s.maps) || typeof s.peers !== 'object' || s.peers === null) return undefined;
  return s as StateInfo;
}

/**
 * One info view per scrape: the first metric collected takes it, the others
 * of the same scrape reuse it (prom-client calls every `collect` in one
 * synchronous pass), and it is dropped at the next microtask.
 */
function snapshots(cluster: Cluster): () => StateInfo | undefined {
  let taken = false;
  let last: StateInfo | undefined;
  return () => {
    if (!taken) {
      taken = true;
      last = stateInfoOf(cluster.info());
      queueMicrotask(() => {
        taken = false;
      });
    }
    return last;
  };
}

/** A counter fed from a total that only grows: each scrape adds what grew since the last, per label set. */
function growing(): (counter: Counter<string>, labels: Record<string, string>, total: number) => void {
  const last = new Map<string, number>();
  return (counter, labels, total) => {
    const id = JSON.stringify(labels);
    const before = last.get(id) ?? 0;
    counter.inc(labels, Math.max(0, total - before));
    last.set(id, Math.max(before, total));
  };
}

/**
 * Registers the state metrics (see registerMetrics for the list) for
 * `cluster`; does nothing for an instance without a replicated state.
 */
export function registerStateMetrics(cluster: Cluster, context: MetricContext): void {
  if (stateInfoOf(cluster.info()) === undefined) return;
  const { add, labels, constant, registers } = context;
  const snapshot = snapshots(cluster);
  const gauge = (suffix: string, help: string, extra: readonly string[], fill: (g: Gauge<string>, s: StateInfo) => void): void => {
    add(suffix, (name) => new Gauge({
      name, help, labelNames: [...constant, ...extra], registers,
      collect() {
        const s = snapshot();
        // Series of maps and peers that went away disappear with them.
        if (extra.length > 0) this.reset();
        if (s !== undefined) fill(this, s);
      },
    }));
  };
  const counter = (suffix: string, help: string, extra: readonly string[], fill: (c: Counter<string>, s: StateInfo, grew: ReturnType<typeof growing>) => void): void => {
    const grew = growing();
    add(suffix, (name) => new Counter({
      name, help, labelNames: [...constant, ...extra], registers,
      collect() {
        const s = snapshot();
        if (s !== undefined) fill(this, s, grew);
      },
    }));
  };
  const perMap = (g: Gauge<string>, s: StateInfo, value: (m: StateInfo['maps'][number]) => number): void => {
    for (const m of s.maps) g.set({ ...labels, map: m.name }, value(m));
  };

  gauge('state_ready', 'Whether the replicated state has verified its initial sync (1) or not yet (0).', [], (g, s) => g.set(labels, s.ready ? 1 : 0));
  gauge('state_keys', 'Live keys of each map.', ['map'], (g, s) => perMap(g, s, (m) => m.keys));
  gauge('state_bytes', 'Bytes of the keys and values (JSON) of each map: what maxTotalBytes limits.', ['map'], (g, s) => perMap(g, s, (m) => m.bytes));
  gauge('state_tombstones', 'Deleted keys of each map waiting for collection.', ['map'], (g, s) => perMap(g, s, (m) => m.tombstones));
  gauge('state_peer_lag_seconds', 'Per peer up: seconds since its state was last seen equal to this one (peers never seen equal yet have no series).', ['peer'], (g, s) => {
    for (const [peer, ms] of Object.entries(s.peers)) if (typeof ms === 'number') g.set({ ...labels, peer }, ms / 1000);
  });
  gauge('state_sync_outcome', 'Outcome of the initial sync: 1 for the current one (pending, synced, alone, timed out), 0 for the others.', ['outcome'], (g, s) => {
    for (const outcome of new Set([...OUTCOMES, s.sync.outcome])) g.set({ ...labels, outcome }, outcome === s.sync.outcome ? 1 : 0);
  });
  gauge('state_pushes_pending', 'Changes waiting to be pushed to peers.', [], (g, s) => g.set(labels, s.pushes.pending));

  counter('state_changes_total', 'Changes of each map by origin: local (written here), remote (pushed by a peer), sync (join sync, repairs, the store).', ['map', 'origin'], (c, s, grew) => {
    for (const m of s.maps) {
      grew(c, { ...labels, map: m.name, origin: 'local' }, m.localWrites);
      grew(c, { ...labels, map: m.name, origin: 'remote' }, m.remoteChanges);
      grew(c, { ...labels, map: m.name, origin: 'sync' }, m.syncChanges);
    }
  });
  counter('state_rejected_writes_total', 'Writes of each map refused here for passing a limit.', ['map'], (c, s, grew) => {
    for (const m of s.maps) grew(c, { ...labels, map: m.name }, m.rejectedWrites);
  });
  counter('state_sync_chunks_total', 'Chunks the initial sync pulled (ok) or failed to pull (failed).', ['result'], (c, s, grew) => {
    grew(c, { ...labels, result: 'ok' }, s.sync.chunks);
    grew(c, { ...labels, result: 'failed' }, s.sync.failedChunks);
  });
  counter('state_sync_keys_total', 'Keys and counters the initial sync changed.', [], (c, s, grew) => grew(c, labels, s.sync.keys));
  counter('state_repairs_total', 'Repairs run with a peer whose state digest differed.', [], (c, s, grew) => grew(c, labels, s.repairs.repairs));
  counter('state_repair_keys_total', 'Keys repairs sent to peers (sent) and changed here (received).', ['direction'], (c, s, grew) => {
    grew(c, { ...labels, direction: 'sent' }, s.repairs.keysSent);
    grew(c, { ...labels, direction: 'received' }, s.repairs.keysReceived);
  });
  counter('state_pushed_changes_total', 'Changes put into messages to peers (pushes and probes), once per message.', [], (c, s, grew) => grew(c, labels, s.pushes.sent));
  counter('state_rejected_sections_total', 'State sections of gossip messages ignored as malformed.', [], (c, s, grew) => grew(c, labels, s.rejectedSections));
  counter('state_tombstones_collected_total', 'Tombstones collected.', [], (c, s, grew) => grew(c, labels, s.collected));
  counter('state_store_appends_total', 'Records appended to the durable store (0 without one).', [], (c, s, grew) => grew(c, labels, s.store?.appended ?? 0));
  counter('state_store_failures_total', 'Failed writes to the durable store (0 without one).', [], (c, s, grew) => grew(c, labels, s.store?.failures ?? 0));
  counter('state_store_compactions_total', 'Compactions of the durable store (0 without one).', [], (c, s, grew) => grew(c, labels, s.store?.compactions ?? 0));
}
