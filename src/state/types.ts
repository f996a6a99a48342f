/**
 * The public types of the replicated state (`cluster.state`): maps of
 * last-writer-wins registers with add-wins deletes, PN-counters, and what
 * their writes, reads and events carry. See docs/state.md for the rules.
 */

/** A JSON value: what a map may hold (it travels as JSON). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A write's version, totally ordered: first by `t`, then by `replica`.
 * `t` is a hybrid logical clock in microseconds since the epoch (wall time
 * × 1000, bumped past every version this replica has seen); `replica` names
 * the writer: its base URL and an incarnation that is new on every start
 * without durable state (`http://10.0.0.1:3000#k3x9q2m1`).
 */
export interface Version {
  readonly t: number;
  readonly replica: string;
}

/** How many replicas must hold a write before it resolves. */
export type Consistency = 'local' | 'majority' | 'all';

/** Options of one write. */
export interface WriteOptions {
  /** @default the map's `consistency` option, itself 'local' by default */
  consistency?: Consistency;
  /** How long to wait for the acknowledgements of 'majority' or 'all'. @default the map's `timeoutMs` (5,000) */
  timeoutMs?: number;
  /**
   * Only write if the key's current version is exactly this one (compare and
   * set, checked on this replica only: see docs/state.md). `null` requires
   * the key to be absent.
   */
  ifVersion?: Version | string | null;
}

/** What a write resolves with. */
export interface WriteResult {
  /** The version this write created (for a delete of an absent key: undefined). */
  readonly version: Version | undefined;
  /**
   * A session token: pass it to `get(key, { atLeast })` on any replica (or
   * send it back in the `clustershazbot-session` header) to read this write
   * or a newer one. Opaque, URL-safe, a few hundred bytes at most.
   */
  readonly token: string;
  /** Replicas that acknowledged the write, this one included. */
  readonly acks: number;
}

/** What `create` resolves with: the entry now under the key, and whether this call made it. */
export interface CreateResult<V> extends WriteResult {
  readonly created: boolean;
  readonly entry: Entry<V>;
}

/** A value with its version. */
export interface Entry<V> {
  readonly key: string;
  readonly value: V;
  readonly version: Version;
  /** The writer's base URL. */
  readonly writer: string;
  /** The version's wall time, ms since the epoch. */
  readonly time: number;
}

/** Where a change came from. */
export type ChangeOrigin = 'local' | 'remote' | 'sync';

/** One change of a map, as `on('change')` reports it. */
export interface Change<V> {
  readonly key: string;
  /** The new value; undefined when the key was deleted. */
  readonly value: V | undefined;
  readonly previous: V | undefined;
  readonly version: Version | undefined;
  readonly origin: ChangeOrigin;
}

/** Options of a map; every replica of a map should use the same limits. */
export interface MapOptions {
  /** @default 'local' */
  consistency?: Consistency;
  /** @default 5000 */
  timeoutMs?: number;
  /** Keys at most (deleted keys waiting for collection not counted). @default 100,000 */
  maxKeys?: number;
  /** Bytes of one value's JSON at most. @default 65,536 */
  maxValueBytes?: number;
  /** Bytes of every key and value's JSON together at most. @default 67,108,864 (64 MiB) */
  maxTotalBytes?: number;
  /** Bytes of a key (UTF-8) at most. @default 512 */
  maxKeyBytes?: number;
}

/** Options of a read that must see a given write. */
export interface ReadOptions {
  /** A session token from a write; the read waits until this replica holds that write or a newer one. */
  atLeast: string;
  /** How long to wait at most. @default 2000; past it, rejects with StaleReadError */
  timeoutMs?: number;
}

/** A replicated map of JSON values. Reads are local and synchronous; writes are async. */
export interface StateMap<V extends JsonValue = JsonValue> {
  readonly name: string;
  get(key: string): V | undefined;
  /** Waits (bounded) until this replica holds the write behind `options.atLeast`, then reads. */
  get(key: string, options: ReadOptions): Promise<V | undefined>;
  has(key: string): boolean;
  readonly size: number;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
  getEntry(key: string): Entry<V> | undefined;
  set(key: string, value: V, options?: WriteOptions): Promise<WriteResult>;
  /** Inserts if absent; an existing key resolves with its entry and `created: false`. */
  create(key: string, value: V, options?: WriteOptions): Promise<CreateResult<V>>;
  /**
   * Replaces the value with `fn(current)` if the key exists (KeyNotFoundError
   * if not). The write carries the version it read: a delete that had seen
   * that version wins over it on every replica, however late it arrives.
   */
  update(key: string, fn: (current: V) => V, options?: WriteOptions): Promise<WriteResult>;
  /** Deletes the key if present; `version` is undefined if it was absent. */
  delete(key: string, options?: WriteOptions): Promise<WriteResult>;
  /** Subscribes to batches of changes; returns the unsubscribe function. A listener that throws is logged. */
  on(event: 'change', listener: (batch: readonly Change<V>[]) => void): () => void;
}

/** A replicated PN-counter. */
export interface StateCounter {
  readonly name: string;
  value(): number;
  increment(by?: number, options?: WriteOptions): Promise<WriteResult>;
  decrement(by?: number, options?: WriteOptions): Promise<WriteResult>;
  on(event: 'change', listener: (value: number, previous: number) => void): () => void;
}

/** `cluster.state`. */
export interface ReplicatedState {
  map<V extends JsonValue = JsonValue>(name: string, options?: MapOptions): StateMap<V>;
  counter(name: string): StateCounter;
  /** Resolves once this replica has verified its initial sync (see docs/state.md for the policy). */
  ready(): Promise<void>;
  /** Whether {@link ready} has resolved. */
  isReady(): boolean;
  /** Resolves once this replica holds every write named in `token` (bounded by `timeoutMs`; rejects with StaleReadError). */
  caughtUp(token: string, timeoutMs?: number): Promise<void>;
}
