/**
 * Time as one simulated node sees it: the global virtual clock plus the
 * node's skew, with timers that live and die with its process; and a
 * helper that runs the global clock until a promise settles.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { SimClock } from './sim-clock.js';
import type { SimProcess } from './sim-host.js';

/** A node's timer: it fires only while its process lives, waits while it is paused, and honours a clear that came meanwhile. */
class NodeTimer implements TimerHandle {
  cancelled = false;
  inner: TimerHandle | undefined;
  constructor(
    private readonly proc: SimProcess,
    private readonly fn: () => void,
  ) {}

  get id(): number {
    return this.inner?.id ?? 0;
  }

  readonly fire = (): void => {
    if (!this.cancelled) this.proc.run(this.#runIfLive);
  };

  readonly #runIfLive = (): void => {
    if (!this.cancelled) this.fn();
  };
}

/**
 * One node's view of time: global virtual time plus its skew; its timers
 * run on the global clock through its process, so a crashed or replaced
 * instance's timers never fire and a paused one's wait.
 */
export class NodeClock implements Clock {
  constructor(
    private readonly global: SimClock,
    private readonly proc: SimProcess,
    public skewMs: number,
  ) {}

  now(): number {
    return this.global.now() + this.skewMs;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = new NodeTimer(this.proc, fn);
    t.inner = this.global.setTimer(delayMs, t.fire);
    return t;
  }

  clearTimer(handle: TimerHandle): void {
    if (!(handle instanceof NodeTimer) || handle.cancelled) return;
    handle.cancelled = true;
    if (handle.inner !== undefined) this.global.clearTimer(handle.inner);
  }
}

/**
 * Runs `clock` timer by timer until `p` settles; rejects with p's error, or
 * if no timer is left (or none within `limitMs`) while p is still pending.
 */
export async function runUntilSettled(clock: SimClock, p: Promise<unknown>, limitMs: number, what: string): Promise<void> {
  let done = false;
  let failed = false;
  let error: unknown;
  p.then(
    () => {
      done = true;
    },
    (e: unknown) => {
      done = failed = true;
      error = e;
    },
  );
  const limit = clock.now() + limitMs;
  await clock.runUntil(clock.now());
  while (!done) {
    const next = clock.nextTimerAt();
    if (next === undefined || next > limit) throw new Error(`simulation: ${what} did not finish within ${limitMs} ms of virtual time`);
    await clock.runUntil(next);
  }
  if (failed) throw error;
}
