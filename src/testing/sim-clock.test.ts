import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { TimerHandle } from '../core/clock.js';
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

  it('fires in (due time, creation) order whatever is set and cleared, and when (property)', async () => {
    // One script drives both this clock and a plain sorted-list model: each
    // timer, when it fires, logs itself, may set children (delays 0-4 ms, so
    // some land at the instant being fired) and may clear any timer made so far.
    const step = fc.record({
      delay: fc.integer({ min: -1, max: 12 }),
      children: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }),
      clear: fc.option(fc.nat(60), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 30 }), async (script, until) => {
        const drive = async (clock: Pick<SimClock, 'now' | 'setTimer' | 'clearTimer' | 'runUntil'>): Promise<string[]> => {
          const log: string[] = [];
          const handles: TimerHandle[] = [];
          const make = (delay: number): void => {
            const id = handles.length;
            const s = script[id % script.length]!;
            handles.push(
              clock.setTimer(delay, () => {
                log.push(`${id}@${clock.now()}`);
                if (handles.length < 150) for (const d of s.children) make(d);
                if (s.clear !== undefined && s.clear < handles.length) clock.clearTimer(handles[s.clear]!);
              }),
            );
          };
          for (const s of script) make(s.delay);
          await clock.runUntil(until);
          log.push(`pause@${clock.now()}`);
          // Between runs, with the next timer already looked at: new timers may be due before it.
          if (clock instanceof SimClock) clock.nextTimerAt();
          for (const s of script.slice(0, 5)) make(s.delay);
          await clock.runUntil(until + 20);
          log.push(`end@${clock.now()}`);
          return log;
        };
        expect(await drive(new SimClock(0))).toEqual(await drive(new ModelClock()));
      }),
    );
  });
});

/** The specification of SimClock's order: a list scanned for the smallest (due time, creation). */
class ModelClock {
  #now = 0;
  #seq = 0;
  readonly #pending: Array<{ at: number; seq: number; fn: () => void; handle: TimerHandle }> = [];

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const handle: TimerHandle = { id: this.#seq };
    this.#pending.push({ at: this.#now + (delayMs > 0 ? Math.ceil(delayMs) : 0), seq: this.#seq++, fn, handle });
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    const i = this.#pending.findIndex((p) => p.handle === handle);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  async runUntil(target: number): Promise<void> {
    for (;;) {
      let best = -1;
      this.#pending.forEach((p, i) => {
        const b = this.#pending[best];
        if (p.at <= target && (b === undefined || p.at < b.at || (p.at === b.at && p.seq < b.seq))) best = i;
      });
      if (best < 0) break;
      const [p] = this.#pending.splice(best, 1);
      this.#now = p!.at;
      p!.fn();
    }
    if (target > this.#now) this.#now = target;
  }
}
