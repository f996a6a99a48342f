/**
 * One replicated map inside a replica: its CRDT state, an index of its keys
 * by digest leaf (for repair and for chunked join sync), its options, and
 * the batching of its change events. Maps exist by name: a replica keeps the
 * data of a map a peer sends even before the application asks for it, so a
 * map declared late loses nothing.
 */
import { safeLog, type Logger } from '../core/logger.js';
import { MapState } from './map-state.js';
import { visible, type KeyState } from './register.js';
import type { Change, ChangeOrigin, JsonValue, MapOptions } from './types.js';

/** The defaults of {@link MapOptions}. */
export const MAP_DEFAULTS: Readonly<Required<MapOptions>> = Object.freeze({
  consistency: 'local',
  timeoutMs: 5_000,
  maxKeys: 100_000,
  maxValueBytes: 65_536,
  maxTotalBytes: 64 * 1024 * 1024,
  maxKeyBytes: 512,
});

/** Map names: what a section may name. */
export const MAP_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

type Listener = (batch: readonly Change<JsonValue>[]) => void;

export class MapSlot {
  /**
   * Tombstones stay out of the digest (so collecting one never makes two
   * replicas differ); a live key's delete information is hashed with it.
   */
  readonly state = new MapState<JsonValue>({ young: (s) => s.writes.length > 0 });
  options: Required<MapOptions> = MAP_DEFAULTS;
  readonly #listeners = new Set<Listener>();
  #batch: Change<JsonValue>[] | undefined;
  /** Counters for info and metrics. */
  readonly stats = { rejectedWrites: 0, localWrites: 0, remoteChanges: 0, syncChanges: 0 };

  constructor(readonly name: string, private readonly log: Logger) {}

  /** Applies a delta; reports the change to listeners (batched per tick). Returns the change, or undefined if nothing changed. */
  apply(key: string, delta: KeyState<JsonValue>, origin: ChangeOrigin): { before: KeyState<JsonValue> | undefined; after: KeyState<JsonValue> } | undefined {
    const change = this.state.apply(key, delta);
    if (change === undefined) return undefined;
    if (origin === 'local') this.stats.localWrites++;
    else if (origin === 'remote') this.stats.remoteChanges++;
    else this.stats.syncChanges++;
    const was = change.before === undefined ? undefined : visible(change.before);
    const now = visible(change.after);
    if (was !== now && (was === undefined || now === undefined || was.v !== now.v)) {
      this.#emit({ key, value: now?.value, previous: was?.value, version: now?.v ?? change.after.delAt, origin });
    }
    return change;
  }

  /** Drops a key entirely (a collected tombstone). */
  remove(key: string): void {
    if (this.state.get(key) === undefined) return;
    this.state.remove(key);
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(change: Change<JsonValue>): void {
    if (this.#listeners.size === 0) return;
    if (this.#batch === undefined) {
      this.#batch = [];
      queueMicrotask(() => this.#flush());
    }
    this.#batch.push(change);
  }

  #flush(): void {
    const batch = this.#batch ?? [];
    this.#batch = undefined;
    for (const listener of this.#listeners) {
      try {
        listener(batch);
      } catch (e) {
        safeLog(this.log, 'error', 'a change listener threw; replication goes on', { map: this.name, error: e });
      }
    }
  }
}
