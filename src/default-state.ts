/**
 * The replicated state of the default instance, in the seed's module-level
 * style: `shazbotMap(name)` and `shazbotCounter(name)` can be called at any
 * time, before `shazbotStart()` too. Each call on the handle goes to the
 * current default instance: reads before start see an empty map, writes
 * before start reject with NotStartedError (503).
 */
import { getDefaultCluster } from './default-instance.js';
import { NotStartedError } from './errors.js';
import type {
  Change, CreateResult, Entry, JsonValue, MapOptions, ReadOptions, ReplicatedState, StateCounter, StateMap, WriteOptions, WriteResult,
} from './state/types.js';

function state(): ReplicatedState | undefined {
  return getDefaultCluster()?.state;
}

function required(): ReplicatedState {
  const s = state();
  if (s === undefined) throw new NotStartedError('call shazbotStart() before writing to the replicated state');
  return s;
}

class DefaultMap<V extends JsonValue> implements StateMap<V> {
  constructor(readonly name: string, private readonly options: MapOptions) {}

  #map(): StateMap<V> | undefined {
    return state()?.map<V>(this.name, this.options);
  }

  #required(): StateMap<V> {
    return required().map<V>(this.name, this.options);
  }

  get(key: string): V | undefined;
  get(key: string, options: ReadOptions): Promise<V | undefined>;
  get(key: string, options?: ReadOptions): V | undefined | Promise<V | undefined> {
    if (options === undefined) return this.#map()?.get(key);
    try {
      return this.#required().get(key, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  has(key: string): boolean {
    return this.#map()?.has(key) ?? false;
  }

  get size(): number {
    return this.#map()?.size ?? 0;
  }

  keys(): IterableIterator<string> {
    return this.#map()?.keys() ?? [][Symbol.iterator]();
  }

  entries(): IterableIterator<[string, V]> {
    return this.#map()?.entries() ?? ([] as Array<[string, V]>)[Symbol.iterator]();
  }

  getEntry(key: string): Entry<V> | undefined {
    return this.#map()?.getEntry(key);
  }

  set(key: string, value: V, options?: WriteOptions): Promise<WriteResult> {
    return this.#call((m) => m.set(key, value, options));
  }

  create(key: string, value: V, options?: WriteOptions): Promise<CreateResult<V>> {
    return this.#call((m) => m.create(key, value, options));
  }

  update(key: string, fn: (current: V) => V, options?: WriteOptions): Promise<WriteResult> {
    return this.#call((m) => m.update(key, fn, options));
  }

  delete(key: string, options?: WriteOptions): Promise<WriteResult> {
    return this.#call((m) => m.delete(key, options));
  }

  /** Listens on the instance running now (start the default instance first). */
  on(event: 'change', listener: (batch: readonly Change<V>[]) => void): () => void {
    return this.#required().on(event, listener);
  }

  #call<T>(f: (m: StateMap<V>) => Promise<T>): Promise<T> {
    try {
      return f(this.#required());
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** A replicated map of the default instance (see `cluster.state.map`). */
export function shazbotMap<V extends JsonValue = JsonValue>(name: string, options: MapOptions = {}): StateMap<V> {
  return new DefaultMap<V>(name, options);
}

/** A replicated PN-counter of the default instance (see `cluster.state.counter`). */
export function shazbotCounter(name: string): StateCounter {
  const counter = (): StateCounter => required().counter(name);
  return {
    name,
    value: () => state()?.counter(name).value() ?? 0,
    increment: (by, options) => {
      try {
        return counter().increment(by, options);
      } catch (e) {
        return Promise.reject(e);
      }
    },
    decrement: (by, options) => {
      try {
        return counter().decrement(by, options);
      } catch (e) {
        return Promise.reject(e);
      }
    },
    on: (event, listener) => counter().on(event, listener),
  };
}

/** Resolves once the default instance's replicated state has synced (rejects if it is not started). */
export function shazbotStateReady(): Promise<void> {
  try {
    return required().ready();
  } catch (e) {
    return Promise.reject(e);
  }
}
