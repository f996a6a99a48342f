import type { Clock, TimerHandle } from '../core/clock.js';
import { MinHeap } from '../core/min-heap.js';

/**
 * Microtask turns granted after each fired timer before time moves on.
 *
 * After a timer fires, the work it triggers runs as promise continuations,
 * not as further timers. A typical chain is a reply arriving: the timer
 * resolves the transport promise, then the engine's timeout wrapper
 * resolves its own promise, the awaiting exchange resumes, the round that
 * awaited it resumes, and the next timer is set. Each hop is one turn, or
 * three when an async function returns a promise (resolving with a
 * thenable). Measured with a 1,000-turn drain and
 * {@link SimClock.deepestTimerTurn} over crashes, restarts, pauses,
 * partitions, loss and master-list announces, the engine needs at most 8
 * turns (simulation.test.ts keeps checking it stays at most 10); 16 leaves
 * room for engine changes. Each turn costs a promise: the drains were the
 * simulator's largest source of garbage at 24 turns.
 *
 * A continuation deeper than this is not lost: it runs during the drain of
 * a later timer (k turns deep: ⌈k / DRAIN_DEPTH⌉ − 1 timers later) or at the
 * end of the run, deterministically, but reads that later time from
 * `now()`. In a busy simulation consecutive timers are well under a
 * millisecond of virtual time apart.
 */
export const DRAIN_DEPTH = 16;

/**
 * Timers fired between two yields to the real event loop. Counted, not
 * timed, so where the yields fall (and with them the order of very late
 * continuations) is the same in every run.
 */
export const YIELD_EVERY = 10_000;

const RESOLVED: Promise<void> = Promise.resolve();

const PENDING = 0;
const FIRED = 1;
const CANCELLED = 2;

/**
 * A pending timer; it is its own handle, so cancelling is a field write
 * rather than a hash-set operation on the hot path.
 */
class SimTimer implements TimerHandle {
  state = PENDING;
  constructor(
    readonly id: number,
    readonly at: number,
    readonly fn: () => void,
  ) {}
}

/** Timers fire by due time, then by creation (ids increase): same-instant timers are FIFO. */
function earlier(a: SimTimer, b: SimTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

/**
 * A virtual Clock for the simulator: a binary heap of timers ordered by
 * (due time, creation), O(log n) set, O(1) clear (cancelled timers are
 * skipped when they reach the top). Time is whole milliseconds: delays round
 * up, and negative or NaN delays count as 0. Time moves only in
 * {@link runUntil} / {@link runFor}, which fire each due timer at its own
 * time and let its promise continuations run (see {@link DRAIN_DEPTH})
 * before the next one.
 */
export class SimClock implements Clock {
  #now: number;
  #nextId = 1;
  #live = 0;
  #running = false;
  /** Microtask turn of the current drain (0 = inside a timer callback). */
  #turn = 0;
  #deepest = 0;
  readonly #heap = new MinHeap<SimTimer>(earlier);
  readonly #drainDepth: number;
  /** Timers fired so far (for benchmarks). */
  firedTimers = 0;

  /**
   * @param startMs initial time in ms since the epoch. @default 1_700_000_000_000
   * @param options.drainDepth microtask turns after each timer. @default {@link DRAIN_DEPTH}
   *   (raise it, with {@link deepestTimerTurn}, to measure how deep continuations go)
   */
  constructor(startMs = 1_700_000_000_000, options: { drainDepth?: number } = {}) {
    this.#now = Math.floor(startMs);
    this.#drainDepth = Math.max(1, Math.floor(options.drainDepth ?? DRAIN_DEPTH));
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    // `delayMs > 0` is false for NaN and negatives: both count as 0.
    const delay = delayMs > 0 ? Math.ceil(delayMs) : 0;
    const t = new SimTimer(this.#nextId++, this.#now + delay, fn);
    this.#heap.push(t);
    this.#live++;
    if (this.#turn > this.#deepest) this.#deepest = this.#turn;
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    // Only this class makes SimTimers; anything else is not ours and is ignored.
    if (handle instanceof SimTimer && handle.state === PENDING) {
      handle.state = CANCELLED;
      this.#live--;
    }
  }

  /** Timers set and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.#live;
  }

  /**
   * The deepest microtask turn of a drain (counted from the timer that
   * started it) at which a timer was set so far. A continuation deeper than
   * the drain shows up as a shallow turn of a later drain, so measure with a
   * clock whose `drainDepth` is far above {@link DRAIN_DEPTH}.
   */
  get deepestTimerTurn(): number {
    return this.#deepest;
  }

  /** Due time of the earliest pending timer, or undefined when none is pending. */
  nextTimerAt(): number | undefined {
    return this.#head()?.at;
  }

  /** Fires every timer due up to `now + ms`; see {@link runUntil}. */
  runFor(ms: number): Promise<void> {
    return this.runUntil(this.#now + Math.max(0, ms));
  }

  /**
   * Fires, in order, every timer due at or before `targetMs` (including those
   * set meanwhile), each at its own time followed by a drain of its promise
   * continuations; then sets the time to `targetMs` (never backwards).
   * Rejects if a timer callback throws (the timer counts as fired), or if
   * called while another run is in progress.
   */
  async runUntil(targetMs: number): Promise<void> {
    if (this.#running) throw new Error('SimClock: runUntil is already running');
    this.#running = true;
    try {
      // Work started before the call (e.g. a start() whose first await has
      // not yet set its timer) gets its turns before any timer fires.
      await this.#drain();
      this.#turn = 0;
      let sinceYield = 0;
      for (;;) {
        const t = this.#head();
        if (t === undefined || t.at > targetMs) break;
        this.#heap.pop();
        t.state = FIRED;
        this.#live--;
        if (t.at > this.#now) this.#now = t.at;
        this.firedTimers++;
        t.fn();
        await this.#drain();
        this.#turn = 0;
        if (++sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          // A macrotask turn so that a long run stays interruptible (signals, I/O, test timeouts).
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      if (targetMs > this.#now) this.#now = Math.floor(targetMs);
    } finally {
      this.#running = false;
    }
  }

  /**
   * Resolves after `drainDepth` microtask turns. A chain of `then`s costs
   * about half of as many `await`s in a loop (no generator resumption).
   */
  #drain(): Promise<void> {
    // Continuations queued by the timer run before the first tick: they are turn 1.
    this.#turn = 1;
    let p = RESOLVED;
    for (let i = 0; i < this.#drainDepth; i++) p = p.then(this.#tick);
    return p;
  }

  readonly #tick = (): void => {
    this.#turn++;
  };

  /** The earliest pending timer, dropping cancelled ones that reached the top. */
  #head(): SimTimer | undefined {
    let t = this.#heap.peek();
    while (t !== undefined && t.state !== PENDING) {
      this.#heap.pop();
      t = this.#heap.peek();
    }
    return t;
  }
}
