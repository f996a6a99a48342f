/**
 * Spreading changes (the state's dissemination): every change this replica
 * makes or learns is queued; a batch goes out a few milliseconds later to
 * `pushFanout` random peers, each carrying the *current* state of the
 * queued keys (never a stale copy), and queued changes also ride on probes.
 * Each change is sent a bounded number of times (fewest-sent first, as for
 * membership changes), after which anti-entropy is the safety net:
 *
 * - a change made here: to every peer at once in a cluster of up to
 *   `directPushMax` + 1 servers (1,001 by default) (one message per peer per batch), else
 *   `max(pushFanout, L)` times;
 * - a change learned from a peer: never in such a small cluster (the writer
 *   told everyone), else `L = retransmitMult × ceil(log10(n + 1))` times (4
 *   at 1,000 servers with the default multiplier 1). Infection-style
 *   spreading needs every server that learns a change to pass it on a few
 *   times, not a whole fan-out each.
 *
 * Measured at 5 processes (bench:state), pushing to 3 of the 4 peers and
 * relaying once left about 10 % of (replica, change) pairs to anti-entropy,
 * seconds later: each relay picked the one peer the writer skipped with
 * probability 1/4 only.
 */
import { BroadcastQueue, retransmitLimit } from '../swim/broadcast-queue.js';
import type { CounterState } from './counter-state.js';
import type { KeyState } from './register.js';
import type { ReplicaCore } from './replica-core.js';
import type { JsonValue } from './types.js';
import { approxBytes, encodeChanges } from './wire.js';

/** A push to a peer that did not answer is tried once more after this long, ms (small clusters). */
const RETRY_MS = 100;

/** A queued change: a map key, or a counter. */
interface Item {
  readonly map?: string;
  readonly key?: string;
  readonly counter?: string;
  /** Made here (the writer's queue), not learned. */
  readonly local?: boolean;
}

export class Spreader {
  /** Changes made here. */
  readonly #local = new BroadcastQueue<Item>();
  /** Changes learned from peers. */
  #queue = new BroadcastQueue<Item>();
  #scheduled = false;
  /** Changes sent, for info. */
  sent = 0;

  constructor(private readonly core: ReplicaCore) {}

  get pending(): number {
    return this.#local.size + this.#queue.size;
  }

  /** Queues a change of a map key, made here (`local`) or learned. A newer change of the key replaces a queued one. */
  enqueueKey(map: string, key: string, local: boolean): void {
    const id = `m\n${map}\n${key}`;
    if (local) {
      this.#queue.remove(id);
      this.#local.enqueue(id, { map, key, local: true });
    } else if (!this.#local.has(id) && this.#learnedLimit() > 0) {
      this.#queue.enqueue(id, { map, key });
    }
    this.#schedule();
  }

  /** Whether a change made here goes to every peer directly (a cluster of up to directPushMax + 1 servers). */
  direct(): boolean {
    return this.core.host.upPeerCount() <= this.core.settings.directPushMax;
  }

  /** Takes a change made here off the queue: an acknowledged write's own push carries it to every peer. */
  withdrawKey(map: string, key: string): void {
    this.#local.remove(`m\n${map}\n${key}`);
  }

  /** Queues a counter change (counters are small: always the writer's full fan-out). */
  enqueueCounter(name: string): void {
    this.#local.enqueue(`n\n${name}`, { counter: name, local: true });
    this.#schedule();
  }

  /** Peers a change made here goes to: all of them in a small cluster, else a fan-out. */
  #directPeers(): number {
    const others = this.core.host.upPeerCount();
    return others <= this.core.settings.directPushMax ? others : this.core.host.config.pushFanout;
  }

  /** Sends of a change learned from a peer: none in a small cluster (its writer told everyone). */
  #learnedLimit(): number {
    const others = this.core.host.upPeerCount();
    return others <= this.core.settings.directPushMax ? 0 : retransmitLimit(this.core.settings.retransmitMult, others + 1);
  }

  /** Up to `max` queued changes, encoded as a `c` field (undefined if none), within `budget` bytes. */
  take(max: number, budget: number): Record<string, unknown> | undefined {
    if (this.pending === 0) return undefined;
    // A small cluster gets every change in the writer's own push to each peer, not on probes.
    if (this.direct()) return undefined;
    const learned = this.#learnedLimit();
    const items = this.#local.take(max, Math.max(this.#directPeers(), learned, 1));
    if (items.length < max && this.#queue.size > 0 && learned > 0) items.push(...this.#queue.take(max - items.length, learned));
    else if (learned === 0 && this.#queue.size > 0) this.#queue = new BroadcastQueue<Item>(); // the cluster shrank: nothing to relay
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
        // Put it back, in the queue it came from, for the next message (a change made here must
        // not fall into the relay queue, which a small cluster never sends: found by bench:state).
        if (item.local === true) this.#local.enqueue(`m\n${item.map}\n${item.key}`, item);
        else this.#queue.enqueue(`m\n${item.map}\n${item.key}`, item);
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
    if (this.direct()) {
      this.#flushToAll();
      return;
    }
    const peers = this.core.samplePeers(this.#local.size > 0 ? this.#directPeers() : this.core.host.config.pushFanout);
    if (peers.length === 0) return;
    for (const peer of peers) {
      const c = this.take(this.core.settings.maxItemsPerMessage, this.core.settings.chunkBytes);
      if (c === undefined) break;
      this.core.host.spawn('state push', async () => {
        const reply = await this.core.host.exchange(peer, { c }, this.core.host.config.exchangeTimeoutMs);
        this.core.handleReplySection(reply, peer);
      });
    }
    if (this.pending > 0) this.#schedule();
  }

  /**
   * A small cluster: one batch of changes made here, encoded once, to every
   * peer. What does not fit the byte budget goes back to the queue whole and
   * leaves in the next batch, to every peer as well.
   */
  #flushToAll(): void {
    this.#queue = this.#queue.size > 0 ? new BroadcastQueue<Item>() : this.#queue; // nothing is relayed here
    const peers = this.core.samplePeers(this.core.settings.directPushMax);
    if (peers.length === 0) return;
    const c = this.#encode(this.#local.take(this.core.settings.maxItemsPerMessage, 1), this.core.settings.chunkBytes);
    if (c !== undefined) {
      for (const peer of peers) {
        this.core.host.spawn('state push', async () => {
          // Short tries first: without an answer (a lost message, a busy peer) the push is sent again
          // soon, rather than left to anti-entropy. With one try of exchangeTimeoutMs (5 s), a write's
          // reach p99 was 5.1 s at N = 1,000 with 1 % loss in the simulator; with two, 4.7 s (a write
          // to 999 peers nearly always meets a loss twice somewhere). Pushes are idempotent.
          const { probeTimeoutMs, exchangeTimeoutMs } = this.core.host.config;
          let reply: unknown;
          for (const timeoutMs of [Math.min(250, probeTimeoutMs), probeTimeoutMs, exchangeTimeoutMs]) {
            reply = await this.core.host.exchange(peer, { c }, timeoutMs);
            if (reply !== undefined || !this.core.running()) break;
            await new Promise<void>((resolve) => this.core.host.after(RETRY_MS, 'state push retry', resolve));
          }
          this.core.handleReplySection(reply, peer);
        });
      }
    }
    if (this.pending > 0) this.#schedule();
  }
}
