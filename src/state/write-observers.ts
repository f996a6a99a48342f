/**
 * Observers of local map writes: what the adapters' read-your-writes
 * sessions (session-context.ts) need to learn which writes a request made,
 * without the map code knowing about requests.
 *
 * The replica calls {@link notifyWrite} once per successful local write of a
 * map (`set`, `create` that created, `update`, `delete` of a present key),
 * right after the write is applied on this replica and before any
 * acknowledgement is awaited: a `majority` write that later times out has
 * been applied here, is not rolled back, and is reported. Counter writes
 * have no per-key version and are not reported; neither are changes that
 * arrive from peers or from the store.
 *
 * The listeners are process-wide (every cluster instance of the process
 * reports here). Each is called synchronously, in the writer's own async
 * context (so an AsyncLocalStorage store of the code that wrote is visible),
 * and must be quick and must not block. One that throws is ignored: it never
 * fails the write, nor stops the other listeners.
 */
import type { Version } from './types.js';

/** One successful local write of a map. */
export interface StateWrite {
  /** The map's name. */
  readonly map: string;
  readonly key: string;
  /** The version the write created. */
  readonly version: Version;
}

/** Called after each successful local map write; see the module's notes for how. */
export type StateWriteListener = (write: StateWrite) => void;

const listeners = new Set<StateWriteListener>();

/**
 * Subscribes `listener` to every successful local map write of this process
 * (all cluster instances). Returns the function that unsubscribes;
 * subscribing the same function twice subscribes it once.
 */
export function onStateWrite(listener: StateWriteListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Reports one local map write to every listener (the replica calls it; see the module's notes). Never throws. */
export function notifyWrite(map: string, key: string, version: Version): void {
  if (listeners.size === 0) return;
  const write: StateWrite = { map, key, version };
  for (const listener of listeners) {
    try {
      listener(write);
    } catch {
      // A listener's failure is its own: the write has happened and stays.
    }
  }
}
