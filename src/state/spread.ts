/**
 * Spreading changes (the state's dissemination): every change this replica
 * makes or learns is queued; a batch goes out a few milliseconds later to
 * `pushFanout` random peers, each carrying the *current* state of the
 * queued keys (never a stale copy), and queued changes also ride on probes.
 * Each change is sent a bounded number of times (fewest-sent first, as for
 * membership changes), after which anti-entropy is the safety net.
 */
import { BroadcastQueue, retransmitLimit } from '../swim/broadcast-queue.js';
import type { CounterState } from './counter-state.js';
import type { KeyState } from './register.js';
import type { ReplicaCore } from './replica-core.js';
import type { JsonValue } from './types.js';
import { approxBytes, encodeChanges } from './wire.js';

/** A queued change: a map key, or a counter. */
interface Item {
  readonly map?: string;
  readonly key?: string;
  readonly counter?: string;
}

export class Spreader {
  readonly #queue = new BroadcastQueue<Item>();
  #scheduled = false;
  /** Changes sent, for info. */
  sent = 0;

  constructor(private readonly core: ReplicaCore) {}

  get pending(): number {
    return this.#queue.size;
  }

  enqueueKey(map: string, key: string): void {
    this.#queue.enqueue(`m\n${map}\n${key}`, { map, key });
    this.#schedule();
  }

  enqueueCounter(name: string): void {
    this.#queue.enqueue(`n\n${name}`, { counter: name });
    this.#schedule();
  }

  #limit(): number {
    // At least one full fan-out: the first batch reaches pushFanout peers.
    return Math.max(this.core.host.config.pushFanout, retransmitLimit(this.core.settings.retransmitMult, this.core.host.upPeers().length + 1));
  }

  /** Up to `max` queued changes, encoded as a `c` field (undefined if none), within `budget` bytes. */
  take(max: number, budget: number): Record<string, unknown> | undefined {
    if (this.#queue.size === 0) return undefined;
    const items = this.#queue.take(max, this.#limit());
    return this.#encode(items, budget);
  }

  #encode(items: readonly Item[], budget: number): Record<string, unknown> | undefined {
    const maps = new Map<string, Array<[string, KeyState<JsonValue>]>>();
    const counters = new Map<string, CounterState>();
    let bytes = 0;
    for (const item of items) {
      if (item.counter !== undefined) {
        const c = this.core.counters.get(item.counter);
        if (c !== undefined) counters.set(item.counter, c.state);
        bytes += 64;
        continue;
      }
      const s = this.core.slot(item.map!, false)?.state.get(item.key!);
      if (s === undefined) continue; // collected since
      bytes += approxBytes(item.key!, s);
      if (bytes > budget && maps.size + counters.size > 0) {
        // Put it back for the next message.
        this.#queue.enqueue(`m\n${item.map}\n${item.key}`, item);
        continue;
      }
      let list = maps.get(item.map!);
      if (list === undefined) maps.set(item.map!, (list = []));
      list.push([item.key!, s]);
    }
    this.sent += items.length;
    return encodeChanges(maps, counters);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.core.host.after(this.core.settings.batchMs, 'state push', () => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (!this.core.running()) return;
    const peers = this.core.samplePeers(this.core.host.config.pushFanout);
    if (peers.length === 0) return;
    for (const peer of peers) {
      const c = this.take(this.core.settings.maxItemsPerMessage, this.core.settings.chunkBytes);
      if (c === undefined) break;
      this.core.host.spawn('state push', async () => {
        const reply = await this.core.host.exchange(peer, { c }, this.core.host.config.exchangeTimeoutMs);
        this.core.handleReplySection(reply, peer);
      });
    }
    if (this.#queue.size > 0) this.#schedule();
  }
}
