/**
 * The durable store of the replicated state: what a replica saves so that a
 * restarted process restores its snapshot, then syncs only what it missed.
 * States are opaque JSON values produced by a codec elsewhere; a store never
 * interprets them. A file implementation lives in ./file-store.ts; this module
 * holds the interface and an in-memory implementation for tests and the
 * simulator.
 */

/** What identifies this replica's writes; restored with the data so a restart with its store keeps its identity. */
export interface StoredMeta {
  /** '<base URL>#<incarnation>' */
  readonly replica: string;
  /** Highest HLC (µs) issued or seen when saved. */
  readonly hlc: number;
  /** Wall-clock ms since the epoch of the save. */
  readonly savedAt: number;
}

/** One saved record: a map's key or a counter. `state` null (on a key): the key was removed. */
export type StoredRecord =
  | { readonly type: 'key'; readonly map: string; readonly key: string; readonly state: unknown /* null: the key was removed */ }
  | { readonly type: 'counter'; readonly name: string; readonly state: unknown };

/** What {@link StateStore.load} returns: the last meta saved and the last record of each identity. */
export interface LoadedState {
  readonly meta: StoredMeta;
  readonly records: StoredRecord[];
}

/**
 * A durable store. Operations take effect in call order: an append called
 * before a compaction lands before it (and is superseded by it), one called
 * after lands in the new log.
 */
export interface StateStore {
  /** What was saved, with only the last record per identity (type+map+key or type+name); undefined if empty. Records with state null are omitted. */
  load(): Promise<LoadedState | undefined>;
  /** Appends; resolves once durable per the sync policy (group commit: many calls share one fsync). */
  append(meta: StoredMeta, records: readonly StoredRecord[]): Promise<void>;
  /** Replaces everything with this full state, atomically (crash-safe at every point). */
  compact(meta: StoredMeta, records: Iterable<StoredRecord>): Promise<void>;
  /** Bytes appended since the last compaction (the caller compacts when this grows past its snapshot). */
  readonly logBytes: number;
  /** Flushes and releases the directory lock. Idempotent. */
  close(): Promise<void>;
}

/**
 * Checks a meta and returns a plain copy with only its three fields.
 * @internal shared by the store implementations
 * @throws TypeError when a field is missing or of the wrong type.
 */
export function checkedMeta(meta: StoredMeta): StoredMeta {
  if (
    meta === null ||
    typeof meta !== 'object' ||
    typeof meta.replica !== 'string' ||
    typeof meta.hlc !== 'number' ||
    !Number.isFinite(meta.hlc) ||
    typeof meta.savedAt !== 'number' ||
    !Number.isFinite(meta.savedAt)
  ) {
    throw new TypeError('StoredMeta needs a string replica and finite numbers hlc and savedAt');
  }
  return { replica: meta.replica, hlc: meta.hlc, savedAt: meta.savedAt };
}

/**
 * Checks a record and returns its JSON text with only the record's own
 * fields, in a fixed order (what a store saves).
 * @internal shared by the store implementations
 * @throws TypeError when the record is malformed or its state is not JSON.
 */
export function recordJson(record: StoredRecord): string {
  if (record === null || typeof record !== 'object' || record.state === undefined) {
    throw new TypeError('A StoredRecord needs a JSON state (null for a removed key)');
  }
  if (record.type === 'key' && typeof record.map === 'string' && typeof record.key === 'string') {
    return JSON.stringify({ type: 'key', map: record.map, key: record.key, state: record.state });
  }
  if (record.type === 'counter' && typeof record.name === 'string') {
    return JSON.stringify({ type: 'counter', name: record.name, state: record.state });
  }
  throw new TypeError("A StoredRecord is { type: 'key', map, key, state } or { type: 'counter', name, state } with string names");
}

/**
 * The latest record of each identity, as records are replayed in order.
 * A null state removes the identity.
 * @internal shared by the store implementations
 */
export class RecordIndex {
  private readonly keys = new Map<string, Map<string, StoredRecord>>();
  private readonly counters = new Map<string, StoredRecord>();

  /** Applies one record: it replaces the previous one of its identity, or removes it if its state is null. */
  apply(record: StoredRecord): void {
    if (record.type === 'counter') {
      if (record.state === null) this.counters.delete(record.name);
      else this.counters.set(record.name, record);
      return;
    }
    let map = this.keys.get(record.map);
    if (record.state === null) {
      map?.delete(record.key);
      if (map?.size === 0) this.keys.delete(record.map);
      return;
    }
    if (map === undefined) {
      map = new Map();
      this.keys.set(record.map, map);
    }
    map.set(record.key, record);
  }

  /** Every live record: keys first (grouped by map), then counters. */
  records(): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const map of this.keys.values()) for (const record of map.values()) out.push(record);
    for (const record of this.counters.values()) out.push(record);
    return out;
  }
}

/**
 * A store kept in memory, with the semantics of a file store: appends and
 * compactions are copied as JSON at call time (later mutation of the caller's
 * objects does not change what was saved), the last record per identity wins,
 * null states are omitted, and `logBytes` counts the UTF-8 JSON bytes of
 * appended records (one more per record for its line end).
 *
 * Unlike a file store, it holds no lock and survives `close()`: close only
 * resolves, and the same store may be handed to a "restarted" replica (which
 * is what the simulator does to model a restart with durable state).
 */
export function memoryStateStore(): StateStore {
  let meta: StoredMeta | undefined;
  let snapshot: StoredRecord[] = [];
  let log: StoredRecord[] = [];
  let logBytes = 0;

  const copy = (json: string): StoredRecord => JSON.parse(json) as StoredRecord;

  return {
    get logBytes() {
      return logBytes;
    },
    async load() {
      if (meta === undefined) return undefined;
      const index = new RecordIndex();
      for (const record of snapshot) index.apply(record);
      for (const record of log) index.apply(record);
      return { meta: { ...meta }, records: index.records().map((record) => copy(JSON.stringify(record))) };
    },
    async append(newMeta, records) {
      const checked = checkedMeta(newMeta);
      const texts = records.map(recordJson);
      meta = checked;
      for (const text of texts) {
        log.push(copy(text));
        logBytes += Buffer.byteLength(text, 'utf8') + 1;
      }
    },
    async compact(newMeta, records) {
      const checked = checkedMeta(newMeta);
      const index = new RecordIndex();
      for (const record of records) index.apply(copy(recordJson(record)));
      meta = checked;
      snapshot = index.records();
      log = [];
      logBytes = 0;
    },
    async close() {},
  };
}
