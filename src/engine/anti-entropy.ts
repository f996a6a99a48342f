/**
 * Anti-entropy: now and then, compare this server's table with one other
 * server's and trade what differs (digests first; whole lists, or the
 * buckets that differ, only where they do), so that whatever dissemination
 * missed is repaired. Also the exchange that introduces a server at start.
 */
import { safeLog } from '../core/logger.js';
import { randomBetween } from '../core/random.js';
import { bucketOf } from '../membership/digest.js';
import type { MemberEntry } from '../membership/entry.js';
import type { MembershipTable } from '../membership/table.js';
import type { EngineCore } from './core.js';
import type { GossipSender } from './gossip-sender.js';
import type { Merger } from './merger.js';
import { choosePeer, type PeerPool } from './peer-selection.js';

/** Below this many entries a whole list costs less than bucket digests: mismatches send whole lists. */
export const BUCKET_SYNC_MIN_ENTRIES = 256;

/** Every entry of `table` whose server falls in one of `buckets`. */
export function entriesInBuckets(table: MembershipTable, buckets: readonly number[]): MemberEntry[] {
  const wanted = new Set(buckets);
  const out: MemberEntry[] = [];
  for (const e of table.values()) if (wanted.has(bucketOf(e.baseUrl))) out.push(e);
  return out;
}

/** The periodic anti-entropy rounds and the exchange they (and introductions) make. */
export class AntiEntropy {
  /** The up peers, for {@link choosePeer}. */
  readonly #peerPool: PeerPool;

  constructor(
    private readonly core: EngineCore,
    private readonly sender: GossipSender,
    private readonly merger: Merger,
  ) {
    const table = core.table;
    this.#peerPool = {
      get size(): number {
        return table.upPeerCount();
      },
      pick: () => table.sampleUpPeers(core.random, 1)[0],
      all: () => table.upPeerUrls(),
    };
  }

  /** Schedules the next round, `gossipIntervalMs` ± jitter from now; each round schedules the next while running. */
  schedule(): void {
    const core = this.core;
    const { gossipIntervalMs: base, gossipJitter: j } = core.config;
    core.after(Math.round(base * randomBetween(core.random, 1 - j, 1 + j)), 'anti-entropy', async () => {
      const now = core.clock.now();
      for (const gone of core.table.prune(now, core.config.maxOfflineAgeMs)) {
        safeLog(core.log, 'debug', 'forgot offline server', { baseUrl: gone.baseUrl });
      }
      core.stats.antiEntropyRounds++;
      const peer = this.#peer(now);
      const lost = this.#pickFailed();
      await Promise.all([peer === undefined ? undefined : this.exchange(peer), lost === undefined ? undefined : this.exchange(lost)]);
      if (core.status === 'running') this.schedule();
    });
  }

  /**
   * The partner of an anti-entropy round. Every reply carries its sender's
   * digest, so the probes have compared this server's table with a server
   * every period already, for free (the probe target: a different server
   * every few periods, a random permutation of the ring). If the last such
   * comparison is recent (two probe periods, or one anti-entropy interval if
   * shorter), it decides: equal digests mean
   * the round has nothing to do, and no exchange is sent; different ones make
   * that server the partner. Otherwise the partner is drawn as usual, monitors
   * preferred. At rest, anti-entropy then sends nothing of its own (it cost
   * about 50 bytes a second per server on the wire, a tenth of the total).
   */
  #peer(now: number): string | undefined {
    const core = this.core;
    const check = core.lastDigestCheck;
    if (check !== undefined && now - check.at <= Math.min(2 * core.hot.probeIntervalMs, core.config.gossipIntervalMs)) {
      if (check.same) return undefined;
      const entry = core.table.get(check.peer);
      if (entry !== undefined && entry.state !== 'offline') return check.peer;
    }
    return choosePeer(this.#peerPool, core.monitors, core.random, core.config.monitorWeight);
  }

  /**
   * A server declared failed, at random, to try once more (Serf's
   * reconnect): after a partition each side holds the other as failed and
   * probes only servers it holds up, so without this the halves would wait
   * for the master list to bring them together. Servers that left or were
   * taken offline by an operator are not retried. Its URL came from an
   * authenticated message, like every URL this server contacts.
   */
  #pickFailed(): string | undefined {
    const failed = this.core.failed;
    if (failed.size === 0) return undefined;
    let i = Math.floor(this.core.random.float() * failed.size);
    for (const url of failed) if (i-- === 0) return url;
    return undefined;
  }

  /**
   * One anti-entropy exchange: digests first, whole lists only where they
   * differ. The peer answers with its whole list if its digest differs from
   * ours; if ours still differs from its afterwards, we hold something it
   * lacks and push our whole list. A seed-format peer gets whole lists.
   */
  async exchange(peer: string, announce = false): Promise<void> {
    const core = this.core;
    const timeoutMs = core.config.exchangeTimeoutMs;
    if (core.legacyPeers.has(peer)) {
      await this.sender.send(peer, { entries: 'full', kind: 'anti-entropy' }, timeoutMs);
      return;
    }
    const entries = core.dissemination.take();
    // A server introducing itself (bootstrap, or servers the master list just
    // revealed) puts its own entry in every such request, not only in the few
    // its retransmit limit allows: each of them learns it on arrival and
    // passes it on at once, instead of one round trip and a push-back later.
    if (announce && !entries.some((e) => e.baseUrl === core.baseUrl)) entries.unshift(this.merger.self());
    const reply = await this.sender.send(peer, { entries, digest: true, kind: 'anti-entropy' }, timeoutMs);
    if (reply === undefined || reply.digest === undefined) return;
    if (reply.buckets !== undefined) {
      // Large tables: trade only the buckets that differ, both ways, in one exchange.
      const want = core.digest.differing(reply.buckets);
      if (want.length > 0) await this.sender.send(peer, { entries: entriesInBuckets(core.table, want), ping: true, want, kind: 'anti-entropy' }, timeoutMs);
      return;
    }
    if (reply.digest !== core.digest.toString()) {
      await this.sender.send(peer, { entries: 'full', ping: true, kind: 'anti-entropy' }, timeoutMs);
    }
  }
}
