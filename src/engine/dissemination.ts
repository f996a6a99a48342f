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

  /**
   * Up to `maxPiggyback` queued changes for one outgoing message, fewest-sent
   * first. For a reply, `received` are the entries the request carried:
   * queued changes the requester just sent (or has newer) are not echoed back
   * and do not use up their retransmissions. Without this, a server that
   * learned a change from a push spent most of its retransmissions answering
   * the very servers that were pushing it, all within milliseconds, and the
   * change could die out before reaching everyone (issue 15).
   */
  take(received?: readonly MemberEntry[]): MemberEntry[] {
    if (this.#queue.size === 0) return [];
    const n = this.ports.table.upPeerCount() + 1;
    const limit = retransmitLimit(this.ports.config.retransmitMult, n);
    if (received === undefined || received.length === 0) return this.#queue.take(this.ports.config.maxPiggyback, limit);
    const theirs = new Map<string, MemberEntry>();
    for (const e of received) theirs.set(e.baseUrl, e);
    return this.#queue.take(this.ports.config.maxPiggyback, limit, { max: received.length, test: (e) => holds(theirs.get(e.baseUrl), e) });
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
      void this.ports.send(peer, { entries, ping: true, kind: 'push' }, this.ports.config.exchangeTimeoutMs);
    }
    if (this.#queue.size > 0) this.#schedule(this.ports.config.gossipTickMs);
  }
}

/** Whether a peer that sent `theirs` holds `mine`: a newer version, or the same claim. */
export function holds(theirs: MemberEntry | undefined, mine: MemberEntry): boolean {
  if (theirs === undefined) return false;
  if (theirs.lastUpdate !== mine.lastUpdate) return theirs.lastUpdate > mine.lastUpdate;
  return theirs.state === mine.state && theirs.by === mine.by && theirs.reason === mine.reason;
}
