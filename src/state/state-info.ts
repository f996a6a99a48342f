/**
 * What the info view, the dashboard and the metrics show of the replicated
 * state: per map its keys, bytes, tombstones waiting and rejected writes;
 * per peer the time since its state was last seen equal to ours (the lag);
 * the sync and repair counters. Never a value.
 */
import type { MapSlot } from './map-slot.js';
import type { StateReplica } from './replica.js';

/** One map, as the info view shows it: counts and bytes, never a key or a value. */
export interface MapInfo {
  readonly name: string;
  /** Live keys. */
  readonly keys: number;
  /** Bytes of every key and value's JSON (what `maxTotalBytes` limits). */
  readonly bytes: number;
  /** Deleted keys waiting for collection. */
  readonly tombstones: number;
  /** Writes refused here for passing a limit. */
  readonly rejectedWrites: number;
  /** Changes since start, by origin: writes made here, pushed by peers, from join sync, repairs or the store. */
  readonly localWrites: number;
  readonly remoteChanges: number;
  readonly syncChanges: number;
}

/** What `GET /clustershazbot/info` shows of the replicated state, under `extensions.state`. */
export interface StateInfo {
  readonly replica: string;
  readonly ready: boolean;
  readonly maps: MapInfo[];
  /** Each counter's name and how many replicas have added to it (never its value: the view shows no data). */
  readonly counters: Array<{ name: string; replicas: number }>;
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

/** The info view of replica `r` (its maps, the peers' last equal digests, tombstones waiting, the store's counters). */
export function stateInfo(
  r: StateReplica,
  maps: Iterable<MapSlot>,
  lastEqual: ReadonlyMap<string, number>,
  tombstonesWaiting: number,
  collected: number,
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
    counters: [...r.counters].map(([name, c]) => ({ name, replicas: c.state.size })),
    peers,
    tombstonesWaiting,
    sync: { outcome: j.outcome, tookMs: j.tookMs ?? null, chunks: j.chunks, keys: j.keys, failedChunks: j.failedChunks },
    repairs: { ...r.repairer.stats },
    pushes: { pending: r.spread.pending, sent: r.spread.sent },
    rejectedSections: r.stats.rejectedSections,
    collected,
    store: store === undefined ? null : { ...store },
  };
}
