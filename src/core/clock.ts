import { MinHeap } from './min-heap.js';

/**
 * Time, as the engine sees it. The engine never reads `Date.now()` or calls
 * `setTimeout` itself: it asks a Clock, so the same code runs against real
 * time in a server and against virtual time in tests and the simulator.
 */

/** Opaque handle returned by {@link Clock.setTimer}. */
export interface TimerHandle {
  readonly id: number;
}

/** A source of wall-clock time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch, like `Date.now()`. */
  now(): number;
  /** Runs `fn` once, `delayMs` milliseconds from now (negative delays count as 0). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a timer; cancelling a fired or unknown timer is a no-op. */
  clearTimer(handle: TimerHandle): void;
}

interface PendingTimer {
  readonly id: number;
  readonly at: number;
  /** Insertion order: timers due at the same instant fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A Clock whose time moves only when told to. Timers fire in order of their
 * due time, then of creation. Between timers, {@link ManualClock.advance}
 * yields to the event loop so that promise continuations (for example a
 * transport reply resolved by a timer) run and can set further timers before
 * time moves on.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #nextId = 1;
  readonly #heap = new MinHeap<PendingTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #cancelled = new Set<number>();

  /** @param startMs initial time in ms since the epoch. @default 1_700_000_000_000 */
  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.#nextId++;
    // Whole milliseconds, like Date.now(): fractional delays round up.
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? Math.ceil(delayMs) : 0;
    this.#heap.push({ id, at: this.#now + delay, seq: this.#seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    if (this.#heap.some((t) => t.id === handle.id)) this.#cancelled.add(handle.id);
  }

  /** Number of timers still waiting to fire. */
  get pendingTimers(): number {
    return this.#heap.size - this.#cancelled.size;
  }

  /** Due time of the earliest pending timer, or undefined. */
  nextTimerAt(): number | undefined {
    this.#dropCancelledHead();
    return this.#heap.peek()?.at;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way,
   * each at its own due time. Resolves once time has reached `now + ms` and
   * the event loop has settled.
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + Math.max(0, ms));
  }

  /** Like {@link advance}, to an absolute time. */
  async advanceTo(targetMs: number): Promise<void> {
    targetMs = Math.floor(targetMs);
    await settle();
    for (;;) {
      this.#dropCancelledHead();
      const head = this.#heap.peek();
      if (head === undefined || head.at > targetMs) break;
      this.#heap.pop();
      if (head.at > this.#now) this.#now = head.at;
      head.fn();
      await settle();
    }
    if (targetMs > this.#now) this.#now = targetMs;
    await settle();
  }

  /** Fires timers until none remain or `maxMs` of virtual time has passed. */
  async runAll(maxMs = 365 * 24 * 3600_000): Promise<void> {
    const limit = this.#now + maxMs;
    for (;;) {
      const at = this.nextTimerAt();
      if (at === undefined || at > limit) return;
      await this.advanceTo(at);
    }
  }

  #dropCancelledHead(): void {
    for (let head = this.#heap.peek(); head !== undefined && this.#cancelled.has(head.id); head = this.#heap.peek()) {
      this.#cancelled.delete(head.id);
      this.#heap.pop();
    }
  }
}

/** Lets every pending promise continuation run (a macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
