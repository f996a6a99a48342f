/**
 * Merging what arrives into the table, and keeping this server's own entry
 * what it wants it to be: the CRDT join, the reactions to each change
 * (events, onward dissemination, suspicion confirmations), corrections of
 * stale failure claims, and refutations.
 */
import { safeLog } from '../core/logger.js';
import type { MemberEntry } from '../membership/entry.js';
import type { MemberChange } from '../membership/merge.js';
import { isExpiredTombstone } from '../membership/table.js';
import type { EngineCore } from './core.js';

/** Merges entries into the table and asserts this server's own entry. */
export class Merger {
  constructor(private readonly core: EngineCore) {}

  /**
   * Merges validated entries: drops tombstones past the horizon, applies the
   * CRDT join, reacts to each change (events, suspicion timers, and, for
   * changes that arrived as news rather than in a whole list, onward
   * dissemination), counts suspicion confirmations, and refutes false claims
   * about this server.
   */
  merge(entries: readonly MemberEntry[], rebroadcast: boolean): MemberEntry[] {
    if (entries.length === 0) {
      // Most probes and their answers carry no news.
      this.assertSelf();
      return [];
    }
    const core = this.core;
    const now = core.clock.now();
    const fresh = entries.filter((e) => !isExpiredTombstone(e, now, core.config.maxOfflineAgeMs) && (!core.allow.restricts || core.allow.allows(e.baseUrl)));
    for (const change of core.table.apply(fresh)) this.#react(change, rebroadcast);
    // Refute first, so that a claim about this server is answered with the refutation.
    this.assertSelf();
    const corrections: MemberEntry[] = [];
    for (const e of fresh) {
      if (e.state === 'suspect' && e.by !== undefined && e.baseUrl !== core.baseUrl && core.detector.confirm(e) && rebroadcast) {
        core.dissemination.enqueue(e, `${e.baseUrl}#${e.by}`);
      }
      // A failure claim older than what we hold is still travelling after its
      // refutation: answer it with the newer entry, and spread that again, so
      // that a server which caught the stale rumor cannot time it out.
      const current = core.table.get(e.baseUrl);
      if (e.state !== 'online' && current !== undefined && current.lastUpdate > e.lastUpdate && !corrections.includes(current)) {
        corrections.push(current);
        if (rebroadcast) core.dissemination.enqueue(current);
      }
    }
    return corrections;
  }

  /**
   * Whether the news in a whole list (a reply to a digest that differed, a
   * push after one, a seed-format or 1.x exchange) is passed on like any
   * other change. It is, once this server runs: only the changes it did not
   * know are queued, so a whole list costs no more to pass on than the same
   * news arriving one by one. A server still starting does not: it is the
   * one catching up, and what it learns is old news to the cluster.
   *
   * Not passing them on left joins stranded in a fleet that starts together:
   * a newcomer told its bootstrap fan-out (then 20 servers) directly, but
   * only the few that got its entry piggybacked (the retransmit limit, 8 at
   * N = 30) spread it; the others learned it from its whole list and kept
   * quiet. In 6 of 20 simulated runs a server heard of some newcomer only at
   * an anti-entropy round, 24 to 49 s later (issue 15; the cold-start section of
   * bench:sim reproduces it).
   */
  passOnWholeLists(): boolean {
    return this.core.status === 'running';
  }

  /** Records a change this server made itself (a suspicion, a verdict), as a merge would. */
  applyOwnChange(change: MemberChange | undefined): void {
    if (change !== undefined) this.#react(change, true);
  }

  #react({ before, after }: MemberChange, rebroadcast: boolean): void {
    const core = this.core;
    if (rebroadcast) core.dissemination.enqueue(after);
    if (after.baseUrl === core.baseUrl) return;
    const wasUp = before !== undefined && before.state !== 'offline';
    if (after.state !== 'offline' && !wasUp) core.events.emit('server:up', after);
    if (after.state === 'suspect' && before?.state !== 'suspect') core.events.emit('server:suspect', after);
    if (after.state === 'offline' && wasUp) core.events.emit('server:down', after, after.reason ?? 'unknown');
  }

  /** This server's own entry, asserted first if the table does not hold it yet. */
  self(): MemberEntry {
    return this.core.table.get(this.core.baseUrl) ?? this.assertSelf();
  }

  /**
   * Makes the table's entry for this server say what this server wants it to
   * say. A claim that this server is suspect or offline (or online, after an
   * operator took it offline) is overwritten with a higher version: the
   * refutation. Every change of the own entry is disseminated.
   */
  assertSelf(): MemberEntry {
    const core = this.core;
    const current = core.table.get(core.baseUrl);
    const want = core.desired;
    if (current !== undefined && current.state === want.state && current.reason === want.reason && current.monitor === core.config.monitor) {
      return current;
    }
    const entry = core.table.setSelf({ state: want.state, monitor: core.config.monitor, ...(want.reason ? { reason: want.reason } : {}) }, core.clock.now());
    // A claim by others (suspect, or failed) is what a refutation answers; an
    // operator bringing the server back is not one.
    if (current !== undefined && (current.state === 'suspect' || current.reason === 'failed') && want.state === 'online') {
      core.detector.awareness.apply(1); // being suspected is a sign of our own slowness (Lifeguard)
      safeLog(core.log, 'warn', 'refuted a claim that this server is down', { claimed: current.state, version: entry.lastUpdate });
    }
    core.dissemination.enqueue(entry);
    return entry;
  }
}
