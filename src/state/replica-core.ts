/**
 * What the parts of a replica (spreading, acknowledgements, repair, join
 * sync, persistence) share: the engine's host, the maps and counters, the
 * settings, and the one way to apply what a peer sent.
 */
import type { ExtensionHost } from '../engine/extension.js';
import type { CounterState } from './counter-state.js';
import type { MapSlot } from './map-slot.js';
import type { SectionLimits } from './wire.js';

/** Tunables of the replicated state (see docs/state.md). */
export interface StateSettings {
  /** Changes are batched this long before a push. @default 5 */
  readonly batchMs: number;
  /**
   * Up to this many peers, a change made here is pushed to every one of them
   * directly (one batch, encoded once; a push without an answer is retried
   * once), and changes learned from peers are not relayed. Beyond it, pushes
   * go to `pushFanout` peers and every server relays what it learns. @default 1,000
   */
  readonly directPushMax: number;
  /** Beyond `directPushMax`: each learned change is relayed `retransmitMult × ceil(log10(n + 1))` times. @default 1 */
  readonly retransmitMult: number;
  /** Keys per push at most. @default 512 */
  readonly maxItemsPerMessage: number;
  /** Bytes of changes one message carries at most (join sync chunks, repairs, pushes). @default 262,144 */
  readonly chunkBytes: number;
  /** Changes riding on one probe at most. @default 16 */
  readonly maxPiggyback: number;
  /** How often a probe carries the state digest, ms (at rest, 1,000 servers with 10,000 keys: 238.9 B/s per server at 5 s, 262.3 at 2 s). @default 5,000 */
  readonly digestIntervalMs: number;
  /** Join sync: how long to wait for peers before serving what this replica has. @default 30,000 */
  readonly syncTimeoutMs: number;
  /** A sync with a peer proves it holds a tombstone only this long after the tombstone arrived. @default 30,000 */
  readonly tombstoneSettleMs: number;
  /** Tombstones are collected at the latest this long after the delete (the offline-removal window). */
  readonly tombstoneMaxAgeMs: number;
}

export interface CounterSlot {
  state: CounterState;
  readonly listeners: Set<(value: number, previous: number) => void>;
}

export interface ReplicaCore {
  readonly host: ExtensionHost;
  readonly settings: StateSettings;
  readonly counters: Map<string, CounterSlot>;
  readonly limits: SectionLimits;
  slot(name: string, create: boolean): MapSlot | undefined;
  slots(): Iterable<MapSlot>;
  /** Whether the replica runs (attached, started, not stopping). */
  running(): boolean;
  /** Up to `n` random up peers. */
  samplePeers(n: number): string[];
  /** Applies what a reply section carried (changes, digests); ignores anything malformed, logging it. */
  handleReplySection(section: unknown, peer: string): void;
  /** Applies a decoded `c` field; returns how many keys and counters changed. */
  applyChangesField(raw: unknown, origin: 'remote' | 'sync', from: string | undefined): number;
  /** This replica's digest of everything (maps and counters). */
  stateDigest(): string;
  /** Every counter, encoded for a `c.n` field. */
  countersField(): Record<string, unknown> | undefined;
}
