/**
 * The application's handle on a replicated map ({@link StateMap}): local
 * synchronous reads, and writes checked against the map's limits and
 * `ifVersion` before anything changes, then committed through the replica.
 */
import { MalformedError } from '../errors.js';
import { KeyNotFoundError, LimitExceededError, VersionMismatchError } from './errors.js';
import type { MapSlot } from './map-slot.js';
import { deleteDelta, setDelta, storedBytes, updateDelta, visible, type KeyState } from './register.js';
import { encodeToken } from './session.js';
import { utf8Length } from './utf8.js';
import { parseVersion, versionEquals, versionWallMs } from './version.js';
import type {
  Change, CreateResult, Entry, JsonValue, ReadOptions, StateMap, Version, WriteOptions, WriteResult,
} from './types.js';

/** What a map needs of its replica. */
export interface MapWriter {
  /** Resolves once the durable store (if any) is loaded; rejects once the replica has stopped. */
  ensureOpen(): Promise<void>;
  nextVersion(): Version;
  commit(slot: MapSlot, key: string, delta: KeyState<JsonValue>, version: Version | undefined, options: WriteOptions | undefined): Promise<WriteResult>;
  caughtUp(token: string, timeoutMs?: number): Promise<void>;
  writerOf(version: Version): string;
}

export class ReplicatedMap<V extends JsonValue> implements StateMap<V> {
  constructor(private readonly slot: MapSlot, private readonly writer: MapWriter) {}

  get name(): string {
    return this.slot.name;
  }

  get(key: string): V | undefined;
  get(key: string, options: ReadOptions): Promise<V | undefined>;
  get(key: string, options?: ReadOptions): V | undefined | Promise<V | undefined> {
    if (options === undefined) return this.#value(key);
    return this.writer.caughtUp(options.atLeast, options.timeoutMs).then(() => this.#value(key));
  }

  #value(key: string): V | undefined {
    const s = this.slot.state.get(key);
    return s === undefined ? undefined : (visible(s)?.value as V | undefined);
  }

  has(key: string): boolean {
    const s = this.slot.state.get(key);
    return s !== undefined && s.writes.length > 0;
  }

  get size(): number {
    return this.slot.state.liveCount;
  }

  *keys(): IterableIterator<string> {
    for (const [key, s] of this.slot.state.entries()) if (s.writes.length > 0) yield key;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const [key, s] of this.slot.state.entries()) {
      const w = visible(s);
      if (w !== undefined) yield [key, w.value as V];
    }
  }

  getEntry(key: string): Entry<V> | undefined {
    const s = this.slot.state.get(key);
    const w = s === undefined ? undefined : visible(s);
    if (w === undefined) return undefined;
    return { key, value: w.value as V, version: w.v, writer: this.writer.writerOf(w.v), time: versionWallMs(w.v) };
  }

  on(event: 'change', listener: (batch: readonly Change<V>[]) => void): () => void {
    if (event !== 'change') throw new TypeError(`unknown event ${String(event)}`);
    return this.slot.on(listener as (batch: readonly Change<JsonValue>[]) => void);
  }

  async set(key: string, value: V, options?: WriteOptions): Promise<WriteResult> {
    const bytes = this.#checkValue(value);
    await this.writer.ensureOpen();
    this.#checkKey(key);
    const current = this.slot.state.get(key);
    this.#checkIfVersion(current, options);
    this.#checkLimits(key, current, bytes);
    const v = this.writer.nextVersion();
    return this.writer.commit(this.slot, key, setDelta(v, value, bytes), v, options);
  }

  async create(key: string, value: V, options?: WriteOptions): Promise<CreateResult<V>> {
    const bytes = this.#checkValue(value);
    await this.writer.ensureOpen();
    this.#checkKey(key);
    const existing = this.getEntry(key);
    if (existing !== undefined) {
      return { created: false, entry: existing, version: existing.version, token: encodeToken([{ map: this.name, key, version: existing.version }]), acks: 1 };
    }
    const current = this.slot.state.get(key);
    this.#checkLimits(key, current, bytes);
    const v = this.writer.nextVersion();
    const result = await this.writer.commit(this.slot, key, setDelta(v, value, bytes), v, options);
    const entry = this.getEntry(key) ?? { key, value, version: v, writer: this.writer.writerOf(v), time: versionWallMs(v) };
    return { ...result, created: true, entry };
  }

  async update(key: string, fn: (current: V) => V, options?: WriteOptions): Promise<WriteResult> {
    // What the caller sees is what it updates: the key's state is read now,
    // before waiting for the store to open (values restored or synced
    // meanwhile are not what it saw; see delete).
    const seen = typeof key === 'string' ? this.slot.state.get(key) : undefined;
    await this.writer.ensureOpen();
    this.#checkKey(key);
    const read = seen === undefined ? undefined : visible(seen);
    if (read === undefined) throw new KeyNotFoundError(this.name, key);
    this.#checkIfVersion(seen, options);
    const value = fn(read.value as V);
    const bytes = this.#checkValue(value);
    this.#checkLimits(key, this.slot.state.get(key), bytes);
    const v = this.writer.nextVersion();
    return this.writer.commit(this.slot, key, updateDelta(v, read.v, value, bytes), v, options);
  }

  async delete(key: string, options?: WriteOptions): Promise<WriteResult> {
    // A delete removes what the caller could see when it called: the key's
    // state is read now, before waiting for the store to open. Read after
    // the wait, it would remove values restored or synced meanwhile that the
    // caller was never shown (found by npm run check:state: "blind deletes"
    // during a restart, which removed an acknowledged write).
    const seen = typeof key === 'string' ? this.slot.state.get(key) : undefined;
    await this.writer.ensureOpen();
    this.#checkKey(key);
    this.#checkIfVersion(seen, options);
    if (seen === undefined || visible(seen) === undefined) return this.writer.commit(this.slot, key, { writes: [] }, undefined, { ...options, consistency: 'local' });
    const v = this.writer.nextVersion();
    const delta = deleteDelta(seen, v)!;
    return this.writer.commit(this.slot, key, delta, v, options);
  }

  #checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) throw new MalformedError('key: must be a non-empty string');
    const max = this.slot.options.maxKeyBytes;
    if (utf8Length(key) > max) {
      this.slot.stats.rejectedWrites++;
      throw new LimitExceededError('maxKeyBytes', `key: longer than maxKeyBytes (${max} bytes)`);
    }
  }

  /** The value's JSON size; rejects what JSON cannot carry, and values past maxValueBytes. */
  #checkValue(value: unknown): number {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw new MalformedError('value: must be a JSON value');
    const bytes = Buffer.byteLength(text);
    const max = this.slot.options.maxValueBytes;
    if (bytes > max) {
      this.slot.stats.rejectedWrites++;
      throw new LimitExceededError('maxValueBytes', `value: ${bytes} bytes, more than maxValueBytes (${max})`);
    }
    return bytes;
  }

  #checkIfVersion(current: KeyState<JsonValue> | undefined, options: WriteOptions | undefined): void {
    if (options === undefined || options.ifVersion === undefined) return;
    const want = options.ifVersion === null ? undefined : typeof options.ifVersion === 'string' ? parseVersion(options.ifVersion) : options.ifVersion;
    const have = current === undefined ? undefined : visible(current)?.v;
    if (!versionEquals(want, have)) throw new VersionMismatchError(have);
  }

  #checkLimits(key: string, current: KeyState<JsonValue> | undefined, bytes: number): void {
    const o = this.slot.options;
    const live = current !== undefined && current.writes.length > 0;
    if (!live && this.slot.state.liveCount >= o.maxKeys) {
      this.slot.stats.rejectedWrites++;
      throw new LimitExceededError('maxKeys', `map ${JSON.stringify(this.name)} holds maxKeys (${o.maxKeys}) keys`);
    }
    const freed = current === undefined ? 0 : storedBytes(current);
    const total = this.slot.state.storedBytes - freed + bytes + (current === undefined ? utf8Length(key) : 0);
    if (total > o.maxTotalBytes) {
      this.slot.stats.rejectedWrites++;
      throw new LimitExceededError('maxTotalBytes', `map ${JSON.stringify(this.name)} would hold more than maxTotalBytes (${o.maxTotalBytes})`);
    }
  }
}
