import { describe, it, expect } from 'vitest';
import { DRAIN_DEPTH, SimClock } from './sim-clock.js';

describe('SimClock', () => {
  it('fires timers in due order, each at its own time, and ends at the target', async () => {
    const clock = new SimClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimer(30, () => fired.push(['c', clock.now()]));
    clock.setTimer(10, () => fired.push(['a', clock.now()]));
    clock.setTimer(20, () => fired.push(['b', clock.now()]));
    clock.setTimer(31, () => fired.push(['late', clock.now()]));
    await clock.runUntil(1_030);
    expect(fired).toEqual([['a', 1_010], ['b', 1_020], ['c', 1_030]]);
    expect(clock.now()).toBe(1_030);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.firedTimers).toBe(3);
    await clock.runFor(5);
    expect(fired.at(-1)).toEqual(['late', 1_031]);
    expect(clock.now()).toBe(1_035);
  });

  it('fires timers due at the same instant in the order they were set, including ones set while firing', async () => {
    const clock = new SimClock(0);
    const order: string[] = [];
    clock.setTimer(5, () => {
      order.push('first');
      clock.setTimer(0, () => order.push('set-by-first'));
    });
    clock.setTimer(5, () => order.push('second'));
    clock.setTimer(5, () => order.push('third'));
    await clock.runFor(5);
    expect(order).toEqual(['first', 'second', 'third', 'set-by-first']);
  });

  it('rounds delays up to whole ms and treats negative and NaN delays as 0', async () => {
    const clock = new SimClock(100);
    const at: number[] = [];
    clock.setTimer(0.2, () => at.push(clock.now()));
    clock.setTimer(-50, () => at.push(clock.now()));
    clock.setTimer(Number.NaN, () => at.push(clock.now()));
    await clock.runFor(10);
    expect(at).toEqual([100, 100, 101]);
  });

  it('clearTimer cancels a pending timer and is a no-op for fired, cleared or foreign handles', async () => {
    const clock = new SimClock(0);
    const fired: number[] = [];
    const a = clock.setTimer(1, () => fired.push(1));
    const b = clock.setTimer(2, () => fired.push(2));
    clock.clearTimer(b);
    clock.clearTimer(b);
    clock.clearTimer({ id: a.id });
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt()).toBe(1);
    await clock.runFor(5);
    clock.clearTimer(a);
    expect(fired).toEqual([1]);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it('cancels the head timer lazily: nextTimerAt skips it', () => {
    const clock = new SimClock(0);
    const head = clock.setTimer(1, () => undefined);
    clock.setTimer(7, () => undefined);
    clock.clearTimer(head);
    expect(clock.nextTimerAt()).toBe(7);
  });

  it('lets a chain of awaits after a timer run at that timer time before the next timer', async () => {
    const clock = new SimClock(0);
    const seen: Array<[string, number]> = [];
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimer(ms, resolve));
    const work = async (): Promise<void> => {
      await sleep(10);
      // Several hops of continuations, as an engine's nested async calls make.
      const inner = async (): Promise<number> => {
        await Promise.resolve();
        return clock.now();
      };
      seen.push(['after-sleep', await inner()]);
      await sleep(5);
      seen.push(['after-second-sleep', clock.now()]);
    };
    clock.setTimer(11, () => seen.push(['other-timer', clock.now()]));
    const done = work();
    await clock.runFor(100);
    await done;
    expect(seen).toEqual([['after-sleep', 10], ['other-timer', 11], ['after-second-sleep', 15]]);
  });

  it('runs a continuation deeper than the drain later, still deterministically', async () => {
    const run = async (): Promise<Array<[string, number]>> => {
      const clock = new SimClock(0, { drainDepth: 3 });
      const seen: Array<[string, number]> = [];
      clock.setTimer(1, () => {
        void (async () => {
          for (let i = 0; i < 10; i++) await undefined;
          seen.push(['deep', clock.now()]);
        })();
      });
      clock.setTimer(2, () => seen.push(['t2', clock.now()]));
      clock.setTimer(3, () => seen.push(['t3', clock.now()]));
      clock.setTimer(4, () => seen.push(['t4', clock.now()]));
      await clock.runFor(10);
      return seen;
    };
    const first = await run();
    expect(first).toEqual([['t2', 2], ['t3', 3], ['deep', 3], ['t4', 4]]);
    expect(await run()).toEqual(first);
  });

  it('records how deep into a drain timers were set', async () => {
    const clock = new SimClock(0, { drainDepth: 50 });
    clock.setTimer(1, () => {
      void (async () => {
        for (let i = 0; i < 7; i++) await undefined;
        clock.setTimer(1, () => undefined);
      })();
    });
    await clock.runFor(5);
    expect(clock.deepestTimerTurn).toBeGreaterThanOrEqual(7);
    expect(clock.deepestTimerTurn).toBeLessThanOrEqual(9);
    expect(DRAIN_DEPTH).toBeGreaterThan(clock.deepestTimerTurn);
  });

  it('refuses a second concurrent run and propagates a throwing timer', async () => {
    const clock = new SimClock(0);
    clock.setTimer(1, () => {
      throw new Error('boom');
    });
    const first = clock.runFor(5);
    await expect(clock.runFor(5)).rejects.toThrow(/already running/);
    await expect(first).rejects.toThrow('boom');
    expect(clock.firedTimers).toBe(1);
    // The failed run stopped at the throwing timer's time; the clock still works.
    expect(clock.now()).toBe(1);
    await clock.runFor(5);
    expect(clock.now()).toBe(6);
  });

  it('never moves time backwards', async () => {
    const clock = new SimClock(50);
    await clock.runUntil(10);
    expect(clock.now()).toBe(50);
  });

  it('fires many timers through several event-loop yields in order', async () => {
    const clock = new SimClock(0);
    let last = -1;
    let inOrder = true;
    for (let i = 0; i < 25_000; i++) {
      clock.setTimer(i % 1_000, () => {
        const t = clock.now();
        if (t < last) inOrder = false;
        last = t;
      });
    }
    await clock.runFor(1_000);
    expect(inOrder).toBe(true);
    expect(clock.firedTimers).toBe(25_000);
  });
});
