import type { MemberEntry } from '../membership/entry.js';
import { BroadcastQueue, retransmitLimit } from '../swim/broadcast-queue.js';
import type { EnginePorts } from './ports.js';

/**
 * Spreads changes fast (memberlist's gossip layer, with an immediate first
 * push): every change is queued, pushed at once to `pushFanout` random
 * servers, and then carried by every outgoing message (probes, pushes,
 * replies) until it has been sent `retransmitMult × ceil(log10(n + 1))`
 * times. While anything is queued, a push goes out every `gossipTickMs`; with
 * nothing queued nothing is sent, so bandwidth at rest is zero.
 */
export class Dissemination {
  readonly #queue = new BroadcastQueue<MemberEntry>();
  #flushPending = false;

  constructor(private readonly ports: EnginePorts) {}

  /** Number of changes waiting to be retransmitted. */
  get pending(): number {
    return this.#queue.size;
  }

  /**
   * Queues a change. `key` defaults to the server's URL, so a newer state of
   * a server replaces an older one still in the queue; a suspicion
   * confirmation uses its own key so that it travels alongside.
   */
  enqueue(entry: MemberEntry, key: string = entry.baseUrl): void {
    if (!this.ports.config.pushChanges) return;
    this.#queue.enqueue(key, entry);
    this.#schedule(0);
  }

  /** Up to `maxPiggyback` queued changes for one outgoing message, fewest-sent first. */
  take(): MemberEntry[] {
    if (this.#queue.size === 0) return [];
    const n = this.ports.table.upPeerCount() + 1;
    return this.#queue.take(this.ports.config.maxPiggyback, retransmitLimit(this.ports.config.retransmitMult, n));
  }

  #schedule(delayMs: number): void {
    if (this.#flushPending) return;
    this.#flushPending = true;
    this.ports.after(delayMs, 'push', () => {
      this.#flushPending = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (!this.ports.isActive()) return;
    const peers = this.ports.table.sampleUpPeers(this.ports.random, this.ports.config.pushFanout);
    // Nobody to tell: keep the changes for the next message or the next enqueue.
    if (peers.length === 0) return;
    for (const peer of peers) {
      const entries = this.take();
      if (entries.length === 0) break;
      void this.ports.send(peer, { entries, ping: true }, this.ports.config.exchangeTimeoutMs);
    }
    if (this.#queue.size > 0) this.#schedule(this.ports.config.gossipTickMs);
  }
}
