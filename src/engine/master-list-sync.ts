/**
 * The engine and the master list: the bootstrap read and its background
 * retries, the periodic announce (GET, merge, PUT), and the introductions
 * to servers a read revealed.
 */
import { safeLog } from '../core/logger.js';
import { randomBetween, sample } from '../core/random.js';
import type { MemberEntry } from '../membership/entry.js';
import type { AntiEntropy } from './anti-entropy.js';
import { redactUrl, type EngineCore } from './core.js';
import { fetchMasterList, MasterListError, putMasterList, type MasterListIo } from './master-list-client.js';
import type { Merger } from './merger.js';

/** Reads and writes the master list for one engine. */
export class MasterListSync {
  #bootstrapRetries = 0;

  constructor(
    private readonly core: EngineCore,
    private readonly merger: Merger,
    private readonly antiEntropy: AntiEntropy,
  ) {}

  /**
   * Reads the master list and exchanges with a fan-out of it. Returns whether
   * the list named this server as online, or undefined if it could not be read.
   */
  async bootstrap(): Promise<boolean | undefined> {
    const core = this.core;
    let listed: boolean | undefined;
    try {
      const snapshot = await this.#read();
      this.merger.merge(snapshot.entries, false);
      listed = snapshot.entries.some((e) => e.baseUrl === core.baseUrl && e.state === 'online');
    } catch (e) {
      safeLog(core.log, 'warn', 'could not read the master list at start; retrying in the background', {
        url: redactUrl(core.config.masterListUrl), error: e,
      });
      this.#scheduleBootstrapRetry();
    }
    // Each exchange may be followed by a push-back: bound the whole fan-out.
    await core.withTimeout(core.fanout((peer) => this.antiEntropy.exchange(peer, true)), core.config.exchangeTimeoutMs).catch(() => undefined);
    return listed;
  }

  #read() {
    const core = this.core;
    return core.withTimeout(fetchMasterList(this.#io(), core.config.masterListUrl, () => core.clock.now()), core.config.masterListTimeoutMs);
  }

  #scheduleBootstrapRetry(): void {
    const core = this.core;
    const base = Math.min(core.config.bootstrapRetryMaxMs, core.config.bootstrapRetryMinMs * 2 ** this.#bootstrapRetries);
    this.#bootstrapRetries++;
    core.after(Math.round(randomBetween(core.random, base / 2, base)), 'master-list retry', async () => {
      if (!core.isActive()) return;
      try {
        const snapshot = await this.#read();
        this.merger.merge(snapshot.entries, false);
        safeLog(core.log, 'info', 'master list read after retry', { attempts: this.#bootstrapRetries, entries: snapshot.entries.length });
        this.#bootstrapRetries = 0;
        await core.fanout((peer) => this.antiEntropy.exchange(peer, true));
        if (!snapshot.entries.some((e) => e.baseUrl === core.baseUrl && e.state === 'online')) await this.announce();
      } catch (e) {
        safeLog(core.log, 'warn', 'master list still unreadable', { attempts: this.#bootstrapRetries, error: e });
        this.#scheduleBootstrapRetry();
      }
    });
  }

  /** The delay before the next announce: `masterAnnounceMinimumMs + uniform(0, masterAnnounceIntervalMs)`. */
  announceDelay(): number {
    const c = this.core.config;
    return Math.round(c.masterAnnounceMinimumMs + this.core.random.float() * c.masterAnnounceIntervalMs);
  }

  /** Announces after `delayMs`, then again after each {@link announceDelay} while running. */
  scheduleAnnounce(delayMs: number): void {
    this.core.after(delayMs, 'announce', async () => {
      await this.announce();
      if (this.core.status === 'running') this.scheduleAnnounce(this.announceDelay());
    });
  }

  /**
   * GET, merge, PUT. Never PUTs after a failed GET (a list we could not read
   * is never overwritten); sends If-Match when the store gave an ETag and
   * starts over, at most three times, when another server wrote in between.
   */
  async announce(): Promise<void> {
    const core = this.core;
    const updateUrl = core.config.masterListUpdateUrl;
    if (updateUrl === undefined) return;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const snapshot = await this.#read();
        this.#mergeFromMasterList(snapshot.entries);
        await core.withTimeout(putMasterList(this.#io(), updateUrl, core.config.masterListUpdateAuth, core.table.entries(), snapshot), core.config.masterListTimeoutMs);
        safeLog(core.log, 'debug', 'announced to the master list', { entries: core.table.size });
        return;
      } catch (e) {
        if (e instanceof MasterListError && e.kind === 'conflict' && attempt < 3) continue;
        safeLog(core.log, 'warn', 'master list announce failed', { url: redactUrl(updateUrl), error: e });
        return;
      }
    }
  }

  /**
   * Merges a master list read after start. Servers it names that this server
   * did not know as up get an anti-entropy exchange at once (up to `fanout`
   * of them), as at bootstrap: they may not know this server either, e.g.
   * when several servers start together from an empty list.
   */
  #mergeFromMasterList(entries: readonly MemberEntry[]): void {
    const core = this.core;
    const known = new Set(core.table.upPeerUrls());
    this.merger.merge(entries, false);
    const fresh = core.table.upPeerUrls().filter((u) => !known.has(u));
    for (const peer of sample(core.random, fresh, core.config.fanout)) core.spawn('introduction', () => this.antiEntropy.exchange(peer, true));
  }

  #io(): MasterListIo {
    const core = this.core;
    return { transport: core.transport, timeoutMs: core.config.masterListTimeoutMs, maxResponseBytes: core.config.maxResponseBytes, limits: core.limits };
  }
}
