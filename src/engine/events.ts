import { safeLog, type Logger } from '../core/logger.js';
import type { MemberEntry, OfflineReason } from '../membership/entry.js';

/** Lifecycle of a cluster instance. */
export type ClusterStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Events of a cluster instance and their listener signatures. For one change,
 * listeners run synchronously in subscription order, after the membership
 * table already shows the change.
 */
export interface ClusterEvents {
  /** Another server became online in this server's view (learned, or refuted a claim). */
  'server:up': (server: MemberEntry) => void;
  /** Another server became suspected of having failed (it may still refute). */
  'server:suspect': (server: MemberEntry) => void;
  /** Another server went from online to offline in this server's view. */
  'server:down': (server: MemberEntry, reason: OfflineReason | 'unknown') => void;
  /** This instance's lifecycle moved on. */
  'status:change': (status: ClusterStatus, previous: ClusterStatus) => void;
}

/** A tiny typed emitter whose throwing listeners are logged, never propagated. */
export class Emitter<E extends { [K in keyof E]: (...args: never[]) => void }> {
  readonly #listeners = new Map<keyof E, Set<E[keyof E]>>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Calls every listener of `event`; a listener that throws is logged and skipped. */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<E[K]>) => void)(...args);
      } catch (e) {
        safeLog(this.logger, 'error', `listener of ${String(event)} threw`, { error: e });
      }
    }
  }
}
