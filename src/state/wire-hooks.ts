/**
 * The replicated state's side of the engine's wire hooks: what rides on
 * probes, pushes and anti-entropy requests (queued changes, and now and
 * then the state digest), what a request's section gets as an answer, and
 * what a reply's section does here. A differing digest starts a repair with
 * that peer, one at a time per peer; an equal one is recorded as a sync
 * (tombstone collection counts on them).
 */
import { safeLog } from '../core/logger.js';
import type { ExchangeKind } from '../engine/extension.js';
import type { Repairer } from './repair.js';
import type { ReplicaCore } from './replica-core.js';
import { serveOp } from './serve.js';
import type { Spreader } from './spread.js';
import { isRecord } from './wire.js';

/** What the hooks need of the replica beyond its core. */
export interface HookedReplica extends ReplicaCore {
  readonly spread: Spreader;
  readonly repairer: Repairer;
  readonly stats: { rejectedSections: number };
  isReady(): boolean;
  hasData(): boolean;
}

/** How long a repair waits after a differing digest was seen, ms. */
const REPAIR_DELAY_MS = 500;

export class WireHooks {
  #lastDigestSent = -Infinity;
  /** When each peer's state was last seen equal to ours. */
  readonly lastEqual = new Map<string, number>();
  readonly #repairing = new Set<string>();

  constructor(private readonly r: HookedReplica) {}

  request(kind: ExchangeKind): unknown {
    if (kind !== 'probe' && kind !== 'anti-entropy' && kind !== 'push') return undefined;
    const { settings, host } = this.r;
    const out: Record<string, unknown> = {};
    const c = this.r.spread.take(settings.maxPiggyback, settings.chunkBytes / 4);
    if (c !== undefined) out['c'] = c;
    const now = host.clock.now();
    // An empty replica sends no digest (a peer with data sends its own, and repairs): an unused state costs nothing at rest.
    if (this.r.isReady() && now - this.#lastDigestSent >= settings.digestIntervalMs && this.r.hasData()) {
      this.#lastDigestSent = now;
      out['d'] = this.r.stateDigest();
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }

  onRequest(section: unknown, from: string | undefined): unknown {
    if (section === undefined) return undefined;
    if (!isRecord(section)) {
      this.r.stats.rejectedSections++;
      return undefined;
    }
    try {
      if (typeof section['op'] === 'string') return serveOp(this.r, section, from);
      const reply: Record<string, unknown> = {};
      if (section['c'] !== undefined) this.r.applyChangesField(section['c'], 'remote', from);
      if (section['a'] === 1) reply['ok'] = 1;
      // A replica still joining neither confirms nor disputes a digest: its peers would repair it
      // in the middle of its chunked pull (bench:state saw the 100,000-key join read 1.45 x the state).
      if (typeof section['d'] === 'string' && this.r.isReady()) {
        if (section['d'] === this.r.stateDigest()) {
          reply['eq'] = 1;
          if (from !== undefined) this.lastEqual.set(from, this.r.host.clock.now());
        } else {
          reply['d'] = this.r.stateDigest();
        }
      }
      return Object.keys(reply).length === 0 ? undefined : reply;
    } catch (e) {
      this.r.stats.rejectedSections++;
      safeLog(this.r.host.log, 'warn', 'state: ignored a malformed section', { from, error: e });
      return undefined;
    }
  }

  onReply(section: unknown, peer: string, kind: ExchangeKind): void {
    if (kind === 'direct') return; // the caller of exchange() handles it
    this.handleReplySection(section, peer);
  }

  handleReplySection(section: unknown, peer: string): void {
    if (!isRecord(section)) return;
    try {
      if (section['c'] !== undefined) this.r.applyChangesField(section['c'], 'remote', peer);
      if (section['eq'] === 1) this.lastEqual.set(peer, this.r.host.clock.now());
      // Under writes, digests differ mostly by changes still in flight: the repair starts a moment
      // later (its first step compares the digests of each map again), so pushes land first.
      if (typeof section['d'] === 'string' && section['d'] !== this.r.stateDigest()) this.r.host.after(REPAIR_DELAY_MS, 'state repair', () => this.#repair(peer));
    } catch (e) {
      this.r.stats.rejectedSections++;
      safeLog(this.r.host.log, 'warn', 'state: ignored a malformed reply section', { peer, error: e });
    }
  }

  /** A member left the table: its syncs no longer count. */
  forget(peer: string): void {
    this.lastEqual.delete(peer);
  }

  async #repair(peer: string): Promise<void> {
    if (this.#repairing.has(peer) || !this.r.running()) return;
    this.#repairing.add(peer);
    try {
      await this.r.repairer.repair(peer);
    } finally {
      this.#repairing.delete(peer);
    }
  }
}
