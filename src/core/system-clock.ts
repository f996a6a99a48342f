import type { Clock, TimerHandle } from './clock.js';

interface SystemTimerHandle extends TimerHandle {
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * The real clock: `Date.now()` and unref'd `setTimeout`, so that a pending
 * gossip timer never keeps a process alive on its own.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref?.();
    return { id: 0, timer } as SystemTimerHandle;
  },
  clearTimer(handle) {
    const timer = (handle as Partial<SystemTimerHandle>).timer;
    if (timer !== undefined) clearTimeout(timer);
  },
};
