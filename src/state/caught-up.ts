/**
 * Waiting for a session token: resolves once this replica holds, for every
 * write the token names, that version or a newer one (a newer write, or a
 * delete that had seen it), and rejects with StaleReadError past the
 * timeout. Checked again after every change, cheaply: a wait re-examines
 * only its own few keys.
 */
import { StaleReadError } from './errors.js';
import type { ReplicaCore } from './replica-core.js';
import { decodeToken, type SessionWrite } from './session.js';
import { compareVersions } from './version.js';

/** Default wait of a session read, ms. */
export const DEFAULT_CAUGHT_UP_MS = 2_000;

interface Waiter {
  readonly writes: readonly SessionWrite[];
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  done: boolean;
}

export class CaughtUp {
  readonly #waiters = new Set<Waiter>();

  constructor(private readonly core: ReplicaCore) {}

  /** Whether this replica holds every write of `writes`. */
  holds(writes: readonly SessionWrite[]): boolean {
    return writes.every((w) => {
      const s = this.core.slot(w.map, false)?.state.get(w.key);
      if (s === undefined) return false;
      if (s.del !== undefined && compareVersions(s.del, w.version) >= 0) return true;
      if (s.delAt !== undefined && compareVersions(s.delAt, w.version) >= 0) return true;
      return s.writes.some((x) => compareVersions(x.v, w.version) >= 0);
    });
  }

  wait(token: string, timeoutMs = DEFAULT_CAUGHT_UP_MS): Promise<void> {
    let writes: SessionWrite[];
    try {
      writes = decodeToken(token);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.holds(writes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { writes, resolve, reject, done: false };
      this.#waiters.add(waiter);
      this.core.host.after(timeoutMs, 'session read', () => {
        if (waiter.done) return;
        waiter.done = true;
        this.#waiters.delete(waiter);
        reject(new StaleReadError(timeoutMs));
      });
    });
  }

  /** The replica stopped (its timers are gone): every wait rejects now. */
  stopAll(error: Error): void {
    for (const w of this.#waiters) {
      w.done = true;
      w.reject(error);
    }
    this.#waiters.clear();
  }

  /** Called after every change: resolves the waits it completes. */
  changed(): void {
    if (this.#waiters.size === 0) return;
    for (const w of this.#waiters) {
      if (w.done || !this.holds(w.writes)) continue;
      w.done = true;
      this.#waiters.delete(w);
      w.resolve();
    }
  }
}
