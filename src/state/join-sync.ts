/**
 * The initial sync of a replica that starts (empty, or restored from its
 * store): ask up to three peers for their map roots, and pull every map it
 * does not hold in chunks of at most `chunkBytes`, the leaf range split
 * between the peers that answered so they stream in parallel. A chunk that
 * fails is asked again, from where it stopped, of another peer (the cursor
 * is the next leaf). Then one repair pass with a peer: it brings what a
 * restored map missed (only the differing leaves travel), pushes what this
 * replica holds that others lack, and catches what was written meanwhile.
 *
 * Readiness policy (docs/state.md): ready once that pass has completed; at
 * once when no other server is listed up (the first server of a cluster);
 * and, if servers are listed but none answers within `syncTimeoutMs`, ready
 * anyway with a warning, serving what this replica holds (a cluster
 * restarting all at once must not wait forever for itself).
 */
import { safeLog } from '../core/logger.js';
import { DIGEST_LEAVES } from './map-digest.js';
import type { Repairer } from './repair.js';
import type { ReplicaCore } from './replica-core.js';
import { isRecord } from './wire.js';

const RETRY_MS = 500;

export interface SyncStats {
  chunks: number;
  keys: number;
  failedChunks: number;
  outcome: 'pending' | 'synced' | 'alone' | 'timed out';
  tookMs: number | undefined;
}

export class JoinSync {
  readonly stats: SyncStats = { chunks: 0, keys: 0, failedChunks: 0, outcome: 'pending', tookMs: undefined };

  constructor(private readonly core: ReplicaCore, private readonly repairer: Repairer) {}

  /** Runs the sync; resolves when this replica may report ready. Never rejects. */
  async run(): Promise<void> {
    const { clock } = this.core.host;
    const started = clock.now();
    const deadline = started + this.core.settings.syncTimeoutMs;
    while (this.core.running()) {
      const peers = this.core.samplePeers(3);
      if (peers.length === 0) {
        this.#done('alone', started);
        return;
      }
      const outcome = await this.#syncWith(peers);
      if (outcome !== 'failed') {
        this.#done(outcome, started);
        return;
      }
      if (clock.now() >= deadline) {
        safeLog(this.core.host.log, 'warn', 'state sync: no peer answered in time; serving what this replica holds', { timeoutMs: this.core.settings.syncTimeoutMs });
        this.#done('timed out', started);
        return;
      }
      await new Promise<void>((resolve) => this.core.host.after(RETRY_MS, 'state sync retry', resolve));
    }
  }

  #done(outcome: SyncStats['outcome'], started: number): void {
    this.stats.outcome = outcome;
    this.stats.tookMs = this.core.host.clock.now() - started;
  }

  /** 'synced'; 'alone' when every peer answered without a state (older versions); 'failed' otherwise. */
  async #syncWith(peers: readonly string[]): Promise<'synced' | 'alone' | 'failed'> {
    const counters = this.core.countersField();
    let older = 0;
    const replies = await Promise.all(peers.map(async (peer) => {
      const r = await this.core.host.exchange(peer, { op: 'roots', ...(counters === undefined ? {} : { c: { n: counters } }) }, this.core.host.config.exchangeTimeoutMs);
      if (r === null) older++; // it answered, without a state section: a version without the replicated state
      return isRecord(r) && isRecord(r['roots']) ? { peer, roots: r['roots'], reply: r } : undefined;
    }));
    const answered = replies.filter((r) => r !== undefined);
    if (answered.length === 0) return older === peers.length ? 'alone' : 'failed';
    for (const a of answered) this.core.handleReplySection(a.reply, a.peer);
    const names = new Set<string>();
    for (const a of answered) for (const name of Object.keys(a.roots)) names.add(name);
    for (const name of names) {
      // A map this replica holds (restored from its store) is repaired below: only its differences travel.
      const slot = this.core.slot(name, false);
      if (slot !== undefined && slot.state.size > 0) continue;
      const mine = slot?.state.digest.root() ?? '0:0000000000000000';
      const holders = answered.filter((a) => a.roots[name] !== undefined && a.roots[name] !== mine).map((a) => a.peer);
      if (holders.length === 0) continue;
      if (!(await this.#pullMap(name, holders))) return 'failed';
    }
    // Push what only we hold, and catch what was written while we pulled.
    return (await this.repairer.repair(answered[0]!.peer)) ? 'synced' : 'failed';
  }

  /** Pulls every leaf of `map`, the range split between `peers`; a failed range moves to another peer. */
  async #pullMap(map: string, peers: readonly string[]): Promise<boolean> {
    const parts = peers.length;
    const ranges = peers.map((_, i) => ({ from: Math.floor((i * DIGEST_LEAVES) / parts), to: Math.floor(((i + 1) * DIGEST_LEAVES) / parts) }));
    const results = await Promise.all(ranges.map(async (range, i) => {
      // Each range is tried with its own peer first, then with the others in turn.
      for (let attempt = 0; attempt < peers.length; attempt++) {
        const peer = peers[(i + attempt) % peers.length]!;
        if (await this.#pullRange(peer, map, range)) return true;
        this.stats.failedChunks++;
      }
      return false;
    }));
    return results.every(Boolean);
  }

  /** Pulls leaves [range.from, range.to) from `peer`, advancing `range.from` as chunks arrive (so a retry resumes). */
  async #pullRange(peer: string, map: string, range: { from: number; to: number }): Promise<boolean> {
    while (range.from < range.to && this.core.running()) {
      const r = await this.core.host.exchange(peer, { op: 'chunk', map, from: range.from, to: range.to }, this.core.host.config.exchangeTimeoutMs);
      if (!isRecord(r)) return false;
      const next = r['next'];
      if (next !== null && (!Number.isInteger(next) || (next as number) <= range.from || (next as number) > range.to)) return false;
      this.stats.chunks++;
      this.stats.keys += this.core.applyChangesField(r['c'] ?? {}, 'sync', peer);
      range.from = next === null ? range.to : (next as number);
    }
    return range.from >= range.to;
  }
}
