/**
 * The application's handle on a replicated PN-counter: each replica adds to
 * its own totals (increments and decrements apart), and the value is the sum
 * over replicas, so concurrent increments on different servers all count.
 * For rate limits and quotas; not for a sequence number (two servers can see
 * the same value).
 */
import { counterValue, decrementDelta, incrementDelta } from './counter-state.js';
import type { CounterSlot } from './replica-core.js';
import type { StateReplica } from './replica.js';
import type { StateCounter, WriteOptions, WriteResult } from './types.js';

export class ReplicatedCounter implements StateCounter {
  constructor(readonly name: string, private readonly replica: StateReplica, private readonly slot: CounterSlot) {}

  value(): number {
    return counterValue(this.slot.state);
  }

  increment(by = 1, options?: WriteOptions): Promise<WriteResult> {
    return this.#add(by, options, false);
  }

  decrement(by = 1, options?: WriteOptions): Promise<WriteResult> {
    return this.#add(by, options, true);
  }

  async #add(by: number, options: WriteOptions | undefined, down: boolean): Promise<WriteResult> {
    if (!Number.isSafeInteger(by) || by <= 0) throw new RangeError('by: must be a positive safe integer');
    await this.replica.ensureOpen();
    const who = this.replica.replica;
    const delta = down ? decrementDelta(this.slot.state, who, by) : incrementDelta(this.slot.state, who, by);
    return this.replica.commitCounter(this.name, delta, options);
  }

  on(event: 'change', listener: (value: number, previous: number) => void): () => void {
    if (event !== 'change') throw new TypeError(`unknown event ${String(event)}`);
    this.slot.listeners.add(listener);
    return () => {
      this.slot.listeners.delete(listener);
    };
  }
}
