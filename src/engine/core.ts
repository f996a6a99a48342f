/**
 * The state an engine's parts share (the membership table and what is
 * derived from it, the peers' formats, the counters, the lifecycle status
 * and the timers), and the few services every part uses: timers that are
 * cancelled at shutdown, background work whose failure is logged, time
 * limits on the clock. Internal: the public face of an engine is the
 * `Cluster` of cluster.ts, and nothing here is exported from the package.
 *
 * The core is also what the failure detector and dissemination see of the
 * engine ({@link EnginePorts}); its `send` and `applyOwnChange` are the
 * sender's and the merger's, linked once the engine is assembled.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { safeLog, silentLogger, type Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';
import type { Transport } from '../core/transport.js';
import { systemClock } from '../core/system-clock.js';
import { cryptoRandom } from '../core/system-random.js';
import { createHttpTransport } from '../core/http-transport.js';
import type { ResolvedConfig } from '../config.js';
import { HostAllowList } from '../membership/allow-list.js';
import { BucketedDigest } from '../membership/digest.js';
import type { MemberEntry, OfflineReason } from '../membership/entry.js';
import type { MemberChange } from '../membership/merge.js';
import { MembershipTable } from '../membership/table.js';
import { endpointUrl, normalizeBaseUrl } from '../membership/url.js';
import { ReplayGuard } from '../protocol/replay-guard.js';
import type { GossipExtras, MessageLimits } from '../protocol/validate.js';
import type { ClusterDeps } from './cluster.js';
import { Dissemination } from './dissemination.js';
import { Emitter, type ClusterEvents, type ClusterStatus } from './events.js';
import type { ExtensionRuntime } from './extension-runtime.js';
import { FailureDetector } from './failure-detector.js';
import { hotSettings, type HotSettings } from './hot-settings.js';
import { Insight } from './insight.js';
import type { EnginePorts, Outgoing } from './ports.js';

/** What this server wants its own entry to say. */
export interface DesiredSelf {
  state: 'online' | 'offline';
  reason?: OfflineReason;
}

/** The parts the core's ports hand on to (see {@link EngineCore.link}). */
export interface CoreLinks {
  send(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined>;
  applyOwnChange(change: MemberChange | undefined): void;
}

/** The engine's shared state and services. Fields are plain so that the parts (one file each) can share them. */
export class EngineCore implements EnginePorts {
  readonly config: ResolvedConfig;
  readonly baseUrl: string;
  readonly selfUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly table: MembershipTable;
  readonly transport: Transport;
  readonly events: Emitter<ClusterEvents>;
  readonly replay: ReplayGuard;
  readonly limits: MessageLimits;
  /** What every exchange reads of the configuration, shared across engines (see hot-settings.ts). */
  readonly hot: HotSettings;
  readonly gossipUrl: string;
  digest = new BucketedDigest();
  readonly monitors = new Set<string>();
  /** Servers other servers declared failed: tried again now and then, so partitions heal. */
  readonly failed = new Set<string>();
  /** Peers that answered without a digest: they speak only the seed format and get full lists. */
  readonly legacyPeers = new Set<string>();
  /** With `legacyAuth`: peers that refused a signed request and took a 1.x one (raw secret, unsigned). */
  readonly v1Peers = new Set<string>();
  readonly allow: HostAllowList;
  readonly dissemination: Dissemination;
  readonly detector: FailureDetector;
  readonly timers = new Set<TimerHandle>();
  status: ClusterStatus = 'idle';
  desired: DesiredSelf = { state: 'online' };
  /** The last answer to a probe or push that carried a digest: when, from whom, and whether it equalled ours once merged. */
  lastDigestCheck: { at: number; peer: string; same: boolean } | undefined;
  /** When each peer last answered one of our exchanges with a valid signed reply. */
  readonly lastContact = new Map<string, number>();
  readonly exchangeObservers = new Set<(peer: string, ms: number, ok: boolean) => void>();
  /** The timeline and exchange statistics of the info view. */
  readonly insight: Insight;
  readonly stats = {
    exchanges: 0, exchangeFailures: 0, antiEntropyRounds: 0, bytesIn: 0, bytesOut: 0, signatureRejections: 0, extensionRejections: 0,
  };
  /** The registered extensions, once there is one (see extension-runtime.ts); until then they cost nothing. */
  ext: ExtensionRuntime | undefined;
  #links: CoreLinks | undefined;

  constructor(config: ResolvedConfig, deps: ClusterDeps) {
    this.config = config;
    this.baseUrl = normalizeBaseUrl(config.baseUrl, config.maxUrlLength);
    this.selfUrl = this.baseUrl;
    this.gossipUrl = endpointUrl(this.baseUrl, 'gossip');
    this.allow = HostAllowList.parse(config.allowedHosts) as HostAllowList; // validated by resolveOptions
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
    this.transport = deps.transport ?? createHttpTransport();
    this.log = deps.logger ?? silentLogger;
    this.events = new Emitter<ClusterEvents>(this.log);
    this.table = new MembershipTable(this.baseUrl);
    this.replay = new ReplayGuard({ windowMs: config.signatureWindowMs, maxEntries: config.replayCacheSize });
    this.hot = hotSettings(config);
    this.limits = this.hot.limits;
    this.dissemination = new Dissemination(this);
    this.detector = new FailureDetector(this, this.dissemination);
    this.table.onEntryChange((before, after) => {
      if (before !== undefined) this.digest.remove(before);
      if (after !== undefined) this.digest.add(after);
      const url = (after ?? before)!.baseUrl;
      if (url !== this.baseUrl && after !== undefined && after.state !== 'offline' && after.monitor) this.monitors.add(url);
      else this.monitors.delete(url);
      if (after === undefined) this.lastContact.delete(url);
      if (url !== this.baseUrl && after?.state === 'offline' && after.reason === 'failed') this.failed.add(url);
      else this.failed.delete(url);
      this.detector.onChange(before, after);
      if (this.ext !== undefined) this.ext.memberChanged(before, after);
    });
    this.insight = new Insight(this.table, this.clock, this.baseUrl, config);
    this.exchangeObservers.add(this.insight.observeExchange);
    if (deps.snapshot !== undefined) this.#restore(deps.snapshot);
  }

  /** Connects the ports' `send` and `applyOwnChange` to the parts that do them; called once, before anything runs. */
  link(links: CoreLinks): void {
    this.#links = links;
  }

  send(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined> {
    return this.#links!.send(peer, out, timeoutMs);
  }

  applyOwnChange(change: MemberChange | undefined): void {
    this.#links!.applyOwnChange(change);
  }

  /**
   * Loads a snapshot in bulk and rebuilds the derived indexes once. Work
   * that depends only on the snapshot (its digest, its probe-ring order) is
   * shared by every instance restoring the same snapshot array. No
   * extension hears of it: none can be registered yet, and a load calls no
   * change listener.
   */
  #restore(snapshot: readonly MemberEntry[]): void {
    if (this.allow.restricts) {
      snapshot = snapshot.filter((e) => this.allow.allows(e.baseUrl));
      this.table.load(snapshot);
    } else {
      // Shared with every instance restoring the same array (copy-on-write).
      this.table.loadShared(snapshot, () => snapshot);
    }
    // What depends only on the snapshot is computed once per snapshot array.
    let facts = snapshotFacts.get(snapshot);
    if (facts === undefined) {
      facts = {
        digest: BucketedDigest.of(this.table.values()),
        // Only entries other than plain online ones need anything done.
        notable: snapshot.filter((e) => e.state !== 'online' || e.monitor),
      };
      snapshotFacts.set(snapshot, facts);
    }
    this.digest = facts.digest.clone();
    for (const n of facts.notable) {
      const e = this.table.get(n.baseUrl);
      if (e === undefined) continue;
      if (e.baseUrl === this.baseUrl) continue;
      if (e.state === 'offline') {
        if (e.reason === 'failed') this.failed.add(e.baseUrl);
        continue;
      }
      if (e.monitor) this.monitors.add(e.baseUrl);
      if (e.state === 'suspect') this.detector.onChange(undefined, e);
    }
  }

  /** The status, read through a call so that TypeScript does not narrow it across awaits. */
  currentStatus(): ClusterStatus {
    return this.status;
  }

  isActive(): boolean {
    return this.status === 'running' || this.status === 'starting';
  }

  setStatus(next: ClusterStatus): void {
    const previous = this.status;
    if (previous === next) return;
    this.status = next;
    this.events.emit('status:change', next, previous);
  }

  /** Runs `exchange` with up to `fanout` random up servers plus every up monitor, concurrently. */
  async fanout(exchange: (peer: string) => Promise<unknown>): Promise<void> {
    const targets = [...this.monitors, ...this.table.sampleUpPeers(this.random, this.config.fanout, this.monitors)];
    await Promise.all(targets.map(exchange));
  }

  observeExchange(peer: string, ms: number, ok: boolean): void {
    for (const observer of this.exchangeObservers) {
      try {
        observer(peer, ms, ok);
      } catch (e) {
        safeLog(this.log, 'error', 'exchange observer threw', { error: e });
      }
    }
  }

  // ---- timers ----------------------------------------------------------------

  after(delayMs: number, what: string, task: () => Promise<void> | void): void {
    const handle = this.clock.setTimer(delayMs, () => {
      this.timers.delete(handle);
      this.spawn(what, task);
    });
    this.timers.add(handle);
  }

  /** Starts background work whose failure is logged, never left unhandled. */
  spawn(what: string, task: () => Promise<void> | void): void {
    const failed = (e: unknown): void => safeLog(this.log, 'error', `${what} failed unexpectedly`, { error: e });
    let result: Promise<void> | void;
    try {
      result = task();
    } catch (e) {
      failed(e);
      return;
    }
    if (result instanceof Promise) result.then(undefined, failed);
  }

  /** Rejects if `promise` has not settled after `ms` on the clock, whatever the transport does. */
  withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const handle = this.clock.setTimer(ms, () => {
        this.timers.delete(handle);
        reject(new Error(`timed out after ${ms} ms`));
      });
      this.timers.add(handle);
      promise.then(
        (v) => {
          this.clock.clearTimer(handle);
          this.timers.delete(handle);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimer(handle);
          this.timers.delete(handle);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  cancelTimers(): void {
    for (const t of this.timers) this.clock.clearTimer(t);
    this.timers.clear();
    this.detector.stop();
  }
}

/**
 * Per restored snapshot array (the table a snapshot makes does not depend on
 * who loads it): its digest, and its entries that are not plain online ones
 * (monitors, suspects, offline), the only ones a restore must act on.
 */
const snapshotFacts = new WeakMap<readonly MemberEntry[], { digest: BucketedDigest; notable: readonly MemberEntry[] }>();

/** A URL fit for a log line: no credentials, no query (it may hold a token). */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid URL]';
  }
}
