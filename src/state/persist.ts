/**
 * The glue between a replica and its durable store: every change (local,
 * remote or from a sync) is recorded; records noted in the same tick are
 * appended together (the store group-commits them further); a local write
 * resolves only once its record is durable. The log is compacted into a
 * snapshot when it outgrows the last snapshot.
 */
import { safeLog, type Logger } from '../core/logger.js';
import { encodeCounter, encodeKeyState } from './codec.js';
import type { CounterState } from './counter-state.js';
import type { KeyState } from './register.js';
import type { StateStore, StoredMeta, StoredRecord } from './store.js';
import type { JsonValue } from './types.js';

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a failure is reported to the writes waiting on it, never unhandled
  return { promise, resolve, reject };
}

/** Compaction happens once the log passes this many bytes and the size of the last snapshot. */
const MIN_COMPACT_BYTES = 16 * 1024 * 1024;

export class Persistence {
  #pending: StoredRecord[] = [];
  #next: Deferred | undefined;
  #snapshotBytes = 0;
  #compacting = false;
  /** Records appended, and failures, for info. */
  readonly stats = { appended: 0, failures: 0, compactions: 0 };

  constructor(
    private readonly store: StateStore,
    private readonly meta: () => StoredMeta,
    private readonly everything: () => Iterable<StoredRecord>,
    private readonly log: Logger,
  ) {}

  noteKey(map: string, key: string, state: KeyState<JsonValue> | null): void {
    this.#note({ type: 'key', map, key, state: state === null ? null : encodeKeyState(state) });
  }

  noteCounter(name: string, state: CounterState): void {
    this.#note({ type: 'counter', name, state: encodeCounter(state) });
  }

  /** Resolves once every record noted so far is durable; rejects if the store failed to write it. */
  durable(): Promise<void> {
    return this.#next?.promise ?? Promise.resolve();
  }

  #note(record: StoredRecord): void {
    this.#pending.push(record);
    if (this.#next === undefined) {
      this.#next = deferred();
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    const records = this.#pending;
    const done = this.#next!;
    this.#pending = [];
    this.#next = undefined;
    this.store.append(this.meta(), records).then(() => {
      this.stats.appended += records.length;
      done.resolve();
    }, (e: unknown) => {
      this.stats.failures++;
      safeLog(this.log, 'error', 'state store: append failed', { records: records.length, error: e });
      done.reject(e);
    });
  }

  /** Compacts when the log has outgrown the snapshot. */
  async maybeCompact(): Promise<void> {
    if (this.#compacting || this.store.logBytes < Math.max(MIN_COMPACT_BYTES, this.#snapshotBytes)) return;
    this.#compacting = true;
    try {
      await this.durable();
      const records = [...this.everything()];
      const bytes = this.store.logBytes;
      await this.store.compact(this.meta(), records);
      this.#snapshotBytes = bytes;
      this.stats.compactions++;
    } catch (e) {
      safeLog(this.log, 'error', 'state store: compaction failed', { error: e });
    } finally {
      this.#compacting = false;
    }
  }

  async close(): Promise<void> {
    await this.durable().catch(() => undefined);
    await this.store.close();
  }
}
