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
 * partitions, loss and master-list announces, the engine needs at most 10
 * turns (simulation.test.ts keeps checking that: two thirds of this); 16
 * leaves room for engine changes. Each turn costs a promise, and a
 * simulation of 10,000 servers fires about 33,000 timers per probe round:
 * the drains were the simulator's largest source of garbage at 24 turns.
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
    /** Dropped when the timer is cleared: a cleared timer stays in its bucket until its due time, and should not keep its callback's world alive. */
    public fn: (() => void) | undefined,
  ) {}
}

/**
 * A virtual Clock for the simulator. Time is whole milliseconds (delays
 * round up; negative or NaN delays count as 0), so timers are kept in one
 * bucket per due millisecond, in creation order, with a min-heap of the
 * due times that have a bucket: timers fire by (due time, creation) as
 * with one heap of timers, but setting one is a map lookup and an append
 * (a heap push only for a new due time), and firing one is an array read.
 * Thousands of simulated servers keep tens of thousands of timers pending
 * over a few thousand distinct due times, so this does far fewer
 * comparisons, each between two numbers rather than two objects. Clearing
 * is O(1): a cleared timer is skipped when its bucket comes up. Time moves
 * only in {@link runUntil} / {@link runFor}, which fire each due timer at
 * its own time and let its promise continuations run (see
 * {@link DRAIN_DEPTH}) before the next one.
 */
export class SimClock implements Clock {
  #now: number;
  #nextId = 1;
  #live = 0;
  #running = false;
  /** Microtask turn of the current drain (0 = inside a timer callback). */
  #turn = 0;
  #deepest = 0;
  /** Pending (and cleared) timers by due time, each bucket in creation order. */
  readonly #buckets = new Map<number, SimTimer[]>();
  /** Due times that have a bucket. */
  readonly #times = new MinHeap<number>((a, b) => a < b);
  /** The bucket of the earliest due time, and how far it has been consumed. */
  #bucket: SimTimer[] | undefined;
  #bucketAt = 0;
  #bucketPos = 0;
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
    const at = this.#now + delay;
    const t = new SimTimer(this.#nextId++, at, fn);
    const bucket = this.#buckets.get(at);
    if (bucket !== undefined) {
      bucket.push(t);
    } else {
      this.#buckets.set(at, [t]);
      this.#times.push(at);
      if (this.#bucket !== undefined && at < this.#bucketAt) this.#unloadBucket();
    }
    this.#live++;
    if (this.#turn > this.#deepest) this.#deepest = this.#turn;
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    // Only this class makes SimTimers; anything else is not ours and is ignored.
    if (handle instanceof SimTimer && handle.state === PENDING) {
      handle.state = CANCELLED;
      handle.fn = undefined;
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
        this.#bucketPos++;
        t.state = FIRED;
        this.#live--;
        if (t.at > this.#now) this.#now = t.at;
        this.firedTimers++;
        t.fn!();
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

  /**
   * Puts the loaded bucket back among the others, without its used part: a
   * timer was just set before it (between runs, after {@link nextTimerAt}
   * or a run that stopped short of it had loaded it).
   */
  #unloadBucket(): void {
    this.#bucket!.splice(0, this.#bucketPos);
    this.#times.push(this.#bucketAt);
    this.#bucket = undefined;
  }

  /**
   * The earliest pending timer, left in place (the caller advances
   * `#bucketPos` to take it); skips cleared ones and drops used-up buckets.
   * Timers set meanwhile for the current due time are appended to the
   * current bucket, so they are seen here too, after the earlier ones.
   */
  #head(): SimTimer | undefined {
    for (;;) {
      const bucket = this.#bucket;
      if (bucket !== undefined) {
        while (this.#bucketPos < bucket.length) {
          const t = bucket[this.#bucketPos]!;
          if (t.state === PENDING) return t;
          this.#bucketPos++;
        }
        this.#buckets.delete(this.#bucketAt);
        this.#bucket = undefined;
      }
      const at = this.#times.pop();
      if (at === undefined) return undefined;
      this.#bucket = this.#buckets.get(at)!;
      this.#bucketAt = at;
      this.#bucketPos = 0;
    }
  }
}
