/**
 * What the info view, the dashboard and the metrics show of the replicated
 * state: per map its keys, bytes, tombstones waiting and rejected writes;
 * per peer the time since its state was last seen equal to ours (the lag);
 * the sync and repair counters. Never a value.
 */
import type { MapSlot } from './map-slot.js';
import type { StateReplica } from './replica.js';

export interface MapInfo {
  readonly name: string;
  readonly keys: number;
  readonly bytes: number;
  readonly tombstones: number;
  readonly rejectedWrites: number;
  readonly localWrites: number;
  readonly remoteChanges: number;
  readonly syncChanges: number;
}

export interface StateInfo {
  readonly replica: string;
  readonly ready: boolean;
  readonly maps: MapInfo[];
  readonly counters: Array<{ name: string; value: number }>;
  /** Per peer: ms since its state was last seen equal to this replica's (null: not yet). */
  readonly peers: Record<string, number | null>;
  readonly tombstonesWaiting: number;
  readonly sync: { outcome: string; tookMs: number | null; chunks: number; keys: number; failedChunks: number };
  readonly repairs: { repairs: number; keysSent: number; keysReceived: number };
  readonly pushes: { pending: number; sent: number };
  readonly rejectedSections: number;
  readonly collected: number;
  readonly store: { appended: number; failures: number; compactions: number } | null;
}

export function stateInfo(
  r: StateReplica,
  maps: Iterable<MapSlot>,
  lastEqual: ReadonlyMap<string, number>,
  tombstonesWaiting: number,
  store: { appended: number; failures: number; compactions: number } | undefined,
): StateInfo {
  const now = r.host.clock.now();
  const peers: Record<string, number | null> = {};
  for (const url of r.host.upPeers()) {
    const at = lastEqual.get(url);
    peers[url] = at === undefined ? null : now - at;
  }
  const j = r.joiner.stats;
  return {
    replica: r.replica,
    ready: r.ready(),
    maps: [...maps].map((m) => ({
      name: m.name, keys: m.state.liveCount, bytes: m.state.storedBytes, tombstones: m.state.tombstoneCount, ...m.stats,
    })),
    counters: [...r.counters.keys()].map((name) => ({ name, value: r.counter(name).value() })),
    peers,
    tombstonesWaiting,
    sync: { outcome: j.outcome, tookMs: j.tookMs ?? null, chunks: j.chunks, keys: j.keys, failedChunks: j.failedChunks },
    repairs: { ...r.repairer.stats },
    pushes: { pending: r.spread.pending, sent: r.spread.sent },
    rejectedSections: r.stats.rejectedSections,
    collected: r.stats.collected,
    store: store === undefined ? null : { ...store },
  };
}
