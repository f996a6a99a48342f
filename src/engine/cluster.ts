import type { Clock, TimerHandle } from '../core/clock.js';
import { safeLog, silentLogger, type Logger } from '../core/logger.js';
import { randomBetween, sample, type Random } from '../core/random.js';
import type { Transport, TransportResponse } from '../core/transport.js';
import { systemClock } from '../core/system-clock.js';
import { cryptoRandom } from '../core/system-random.js';
import { createHttpTransport } from '../core/http-transport.js';
import { resolveOptions, type ClusterOptions, type ResolvedConfig } from '../config.js';
import { warnIfShortSecrets } from '../secret-strength.js';
import { NotStartedError, UnauthorizedError } from '../errors.js';
import { HostAllowList } from '../membership/allow-list.js';
import { BucketedDigest, bucketOf } from '../membership/digest.js';
import type { MemberEntry, OfflineReason } from '../membership/entry.js';
import type { MemberChange } from '../membership/merge.js';
import { MembershipTable, isExpiredTombstone } from '../membership/table.js';
import { endpointUrl, normalizeBaseUrl } from '../membership/url.js';
import { ReplayGuard } from '../protocol/replay-guard.js';
import {
  checkBearer, checkControlAuthorization, makeNonce, parseSignedHeader, signReplySized, signRequestCanonical, verifyReply, verifyRequestCanonical,
} from '../protocol/signature.js';
import { canonicalJson } from '../protocol/canonical-json.js';
import type { SignedParams } from '../protocol/signature.js';
import {
  parseControlMessage, parseGossipExtras, parseGossipMessage, toServerList, type GossipExtras, type MessageLimits,
} from '../protocol/validate.js';
import type { ControlMessage, GossipMessage, ServerList } from '../types.js';
import { Dissemination } from './dissemination.js';
import type { ClusterInfo, ClusterStats, HealthReport, ServerInfo } from './info.js';
import { Emitter, type ClusterEvents, type ClusterStatus } from './events.js';
import { FailureDetector } from './failure-detector.js';
import { hotSettings, type HotSettings } from './hot-settings.js';
import { Insight } from './insight.js';
import { fetchMasterList, MasterListError, putMasterList, type MasterListIo } from './master-list-client.js';
import { choosePeer, type PeerPool } from './peer-selection.js';
import type { EnginePorts, Outgoing } from './ports.js';

/** The collaborators of a cluster instance; each defaults to the real one. */
export interface ClusterDeps {
  /** @default the system clock */
  clock?: Clock;
  /** @default node:crypto randomness */
  random?: Random;
  /** @default fetch for http(s), the file system for file: */
  transport?: Transport;
  /** @default silent */
  logger?: Logger;
  /**
   * Membership to start from, e.g. a snapshot saved before a restart (or, in
   * the simulator, the whole cluster, so that thousands of servers need not
   * bootstrap at once). Entries are validated by the caller. @default none
   */
  snapshot?: readonly MemberEntry[];
}

/** One member of a cluster: its state, its handlers and its events. */
export interface Cluster {
  /** Lifecycle status. */
  readonly status: ClusterStatus;
  /** This server's normalised base URL. */
  readonly baseUrl: string;
  /** The resolved configuration (includes secrets: do not log it). */
  readonly config: ResolvedConfig;
  /**
   * Downloads the master list, exchanges with up to `fanout` random servers and
   * every monitor, then starts the probe, anti-entropy and announce timers.
   * Resolves within `masterListTimeoutMs + exchangeTimeoutMs` even if the store
   * or peers hang; a failed download is retried in the background. Idempotent.
   */
  start(): Promise<void>;
  /**
   * Marks this server offline (`left`), tells up to `fanout` random servers and
   * every monitor, optionally updates the master list, and stops every timer.
   * Resolves within `shutdownTimeoutMs`. Idempotent.
   */
  shutdown(): Promise<void>;
  /** Handles `POST /clustershazbot/gossip`: verifies, merges, answers signed. */
  handleGossip(authorization: string, body: unknown): Promise<GossipMessage>;
  /**
   * {@link handleGossip} for adapters that have the request's text: `raw`,
   * if given, must be the exact text `body` was parsed from. The signature is
   * checked over it first (peers send the canonical text they signed), and
   * over the canonical form of `body` only if that fails. Resolves the reply
   * with its JSON text, ready to send.
   */
  handleGossipWire(authorization: string, body: unknown, raw?: string): Promise<{ reply: GossipMessage; text: string }>;
  /** Handles `GET /clustershazbot/list`: online servers, plus offline ones with the control secret. */
  handleList(authorization: string): Promise<ServerList>;
  /** Handles `POST /clustershazbot/control`: takes this server offline or brings it back. */
  handleControl(authorization: string, body: unknown): Promise<void>;
  /** Every entry of the membership table, sorted by base URL. */
  members(): MemberEntry[];
  /** One server's entry, by base URL (normalised before lookup). */
  member(baseUrl: string): MemberEntry | undefined;
  /** This server's own entry. */
  self(): MemberEntry;
  /** Servers listed online (online or suspect), this one included if it is online, sorted by base URL. */
  online(): MemberEntry[];
  /** Servers listed offline, sorted by base URL. */
  offline(): MemberEntry[];
  /** An order-independent digest of the membership table (equal tables, equal digests). */
  digest(): string;
  /** Subscribes to an event; returns the unsubscribe function. A listener that throws is logged, never breaks the engine. */
  on<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void;
  /** Health for a load balancer: healthy when running (started and joined). */
  health(): HealthReport;
  /** What this server sees, for operators: members, states, versions, last contact, settings (no secret), counters. */
  info(): ClusterInfo;
  /** Handles `GET /clustershazbot/info`: {@link info}, behind the control secret (Bearer, or Basic with it as password). */
  handleInfo(authorization: string): Promise<ClusterInfo>;
  /** Counters since this instance was created. */
  stats(): ClusterStats;
  /**
   * Calls `observer` after every exchange this server starts, with the peer,
   * the time to a valid reply (or to the failure) in ms, and whether it
   * succeeded. For metrics; returns the function that unsubscribes.
   */
  observeExchanges(observer: (peer: string, ms: number, ok: boolean) => void): () => void;
}

/** Creates a cluster instance. Nothing happens until {@link Cluster.start}. Throws ConfigError. */
export function createCluster(options: ClusterOptions, deps: ClusterDeps = {}): Cluster {
  return new ClusterEngine(resolveOptions(options), deps);
}

interface DesiredSelf {
  state: 'online' | 'offline';
  reason?: OfflineReason;
}

class ClusterEngine implements Cluster, EnginePorts {
  readonly config: ResolvedConfig;
  readonly baseUrl: string;
  readonly selfUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly table: MembershipTable;
  readonly #transport: Transport;
  readonly #events: Emitter<ClusterEvents>;
  readonly #replay: ReplayGuard;
  readonly #limits: MessageLimits;
  /** What every exchange reads of the configuration, shared across engines (see hot-settings.ts). */
  readonly #hot: HotSettings;
  readonly #gossipUrl: string;
  #digest = new BucketedDigest();
  readonly #monitors = new Set<string>();
  /** Servers other servers declared failed: tried again now and then, so partitions heal. */
  readonly #failed = new Set<string>();
  /** Peers that answered without a digest: they speak only the seed format and get full lists. */
  readonly #legacyPeers = new Set<string>();
  /** With `legacyAuth`: peers that refused a signed request and took a 1.x one (raw secret, unsigned). */
  readonly #v1Peers = new Set<string>();
  readonly #allow: HostAllowList;
  readonly #dissemination: Dissemination;
  readonly #detector: FailureDetector;
  readonly #timers = new Set<TimerHandle>();
  #status: ClusterStatus = 'idle';
  #desired: DesiredSelf = { state: 'online' };
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<void> | undefined;
  #bootstrapRetries = 0;
  /** The last answer to a probe or push that carried a digest: when, from whom, and whether it equalled ours once merged. */
  #lastDigestCheck: { at: number; peer: string; same: boolean } | undefined;
  /** When each peer last answered one of our exchanges with a valid signed reply. */
  readonly #lastContact = new Map<string, number>();
  readonly #exchangeObservers = new Set<(peer: string, ms: number, ok: boolean) => void>();
  /** The timeline and exchange statistics of the info view. */
  readonly #insight: Insight;
  readonly #stats = {
    exchanges: 0, exchangeFailures: 0, antiEntropyRounds: 0, bytesIn: 0, bytesOut: 0, signatureRejections: 0,
  };

  constructor(config: ResolvedConfig, deps: ClusterDeps) {
    this.config = config;
    this.baseUrl = normalizeBaseUrl(config.baseUrl, config.maxUrlLength);
    this.selfUrl = this.baseUrl;
    this.#gossipUrl = endpointUrl(this.baseUrl, 'gossip');
    this.#allow = HostAllowList.parse(config.allowedHosts) as HostAllowList; // validated by resolveOptions
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
    this.#transport = deps.transport ?? createHttpTransport();
    this.log = deps.logger ?? silentLogger;
    this.#events = new Emitter<ClusterEvents>(this.log);
    this.table = new MembershipTable(this.baseUrl);
    this.#replay = new ReplayGuard({ windowMs: config.signatureWindowMs, maxEntries: config.replayCacheSize });
    this.#hot = hotSettings(config);
    this.#limits = this.#hot.limits;
    this.#dissemination = new Dissemination(this);
    this.#detector = new FailureDetector(this, this.#dissemination);
    this.table.onEntryChange((before, after) => {
      if (before !== undefined) this.#digest.remove(before);
      if (after !== undefined) this.#digest.add(after);
      const url = (after ?? before)!.baseUrl;
      if (url !== this.baseUrl && after !== undefined && after.state !== 'offline' && after.monitor) this.#monitors.add(url);
      else this.#monitors.delete(url);
      if (after === undefined) this.#lastContact.delete(url);
      if (url !== this.baseUrl && after?.state === 'offline' && after.reason === 'failed') this.#failed.add(url);
      else this.#failed.delete(url);
      this.#detector.onChange(before, after);
    });
    this.#insight = new Insight(this.table, this.clock, this.baseUrl, config);
    this.#exchangeObservers.add(this.#insight.observeExchange);
    if (deps.snapshot !== undefined) this.#restore(deps.snapshot);
  }

  get status(): ClusterStatus {
    return this.#status;
  }

  /**
   * Loads a snapshot in bulk and rebuilds the derived indexes once. Work
   * that depends only on the snapshot (its digest, its probe-ring order) is
   * shared by every instance restoring the same snapshot array.
   */
  #restore(snapshot: readonly MemberEntry[]): void {
    if (this.#allow.restricts) {
      snapshot = snapshot.filter((e) => this.#allow.allows(e.baseUrl));
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
    this.#digest = facts.digest.clone();
    for (const n of facts.notable) {
      const e = this.table.get(n.baseUrl);
      if (e === undefined) continue;
      if (e.baseUrl === this.baseUrl) continue;
      if (e.state === 'offline') {
        if (e.reason === 'failed') this.#failed.add(e.baseUrl);
        continue;
      }
      if (e.monitor) this.#monitors.add(e.baseUrl);
      if (e.state === 'suspect') this.#detector.onChange(undefined, e);
    }
  }

  /** The status, read through a call so that TypeScript does not narrow it across awaits. */
  #currentStatus(): ClusterStatus {
    return this.#status;
  }

  isActive(): boolean {
    return this.#status === 'running' || this.#status === 'starting';
  }

  on<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  members(): MemberEntry[] {
    return this.table.entries();
  }

  member(baseUrl: string): MemberEntry | undefined {
    try {
      return this.table.get(normalizeBaseUrl(baseUrl, this.config.maxUrlLength));
    } catch {
      return undefined;
    }
  }

  self(): MemberEntry {
    return this.table.get(this.baseUrl) ?? this.#assertSelf();
  }

  online(): MemberEntry[] {
    return this.table.online();
  }

  offline(): MemberEntry[] {
    return this.table.offline();
  }

  digest(): string {
    return this.#digest.toString();
  }

  health(): HealthReport {
    return { healthy: this.#status === 'running', status: this.#status };
  }

  stats(): ClusterStats {
    return { ...this.#stats, probeRounds: this.#detector.probeRounds };
  }

  observeExchanges(observer: (peer: string, ms: number, ok: boolean) => void): () => void {
    this.#exchangeObservers.add(observer);
    return () => {
      this.#exchangeObservers.delete(observer);
    };
  }

  info(): ClusterInfo {
    const counts = { online: 0, suspect: 0, offline: 0 };
    const now = this.clock.now();
    const servers: ServerInfo[] = this.table.entries().map((e) => {
      counts[e.state]++;
      const self = e.baseUrl === this.baseUrl;
      const exchanges = self ? undefined : this.#insight.exchangesWith(e.baseUrl, now);
      return {
        baseUrl: e.baseUrl, state: e.state, ...(e.reason === undefined ? {} : { reason: e.reason }), monitor: e.monitor,
        version: e.lastUpdate, lastContactAt: self ? null : (this.#lastContact.get(e.baseUrl) ?? null), self,
        ...(exchanges === undefined ? {} : { exchanges }),
      };
    });
    const c = this.config;
    return {
      baseUrl: this.baseUrl,
      status: this.#status,
      now,
      servers,
      counts,
      config: {
        gossipIntervalMs: c.gossipIntervalMs, probeIntervalMs: c.probeIntervalMs, probeTimeoutMs: c.probeTimeoutMs,
        indirectProbes: c.indirectProbes, suspicionMult: c.suspicionMult, monitor: c.monitor,
        masterList: redactUrl(c.masterListUrl), announces: c.masterListUpdateUrl !== undefined,
      },
      stats: this.stats(),
      events: this.#insight.events(),
      exchanges: this.#insight.exchangeTotals(now),
    };
  }

  async handleInfo(authorization: string): Promise<ClusterInfo> {
    if (typeof authorization !== 'string' || !checkControlAuthorization(authorization, this.config.controlSecrets)) {
      // A browser's first request carries no credentials: only a wrong secret counts.
      if (authorization !== '') this.#stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
    return this.info();
  }

  // ---- lifecycle -------------------------------------------------------------

  start(): Promise<void> {
    if (this.#startPromise === undefined) this.#startPromise = this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    if (this.#status !== 'idle') return;
    this.#setStatus('starting');
    this.#assertSelf();
    safeLog(this.log, 'info', 'starting', { baseUrl: this.baseUrl, monitor: this.config.monitor });
    if (this.config.legacyAuth) {
      safeLog(this.log, 'warn', 'SHAZBOT_LEGACY_AUTH is on: 1.x peers send the gossip and control secrets in plain text, and this server does too when it talks to them. Turn it off once every server runs 2.x.');
      warnIfShortSecrets(this.log, this.config);
    }
    const listed = await this.#bootstrap();
    if (this.#currentStatus() !== 'starting') return; // shut down while bootstrapping
    this.#setStatus('running');
    this.#detector.start();
    this.#scheduleAntiEntropy();
    this.#scheduleAnnounce(this.#announceDelay());
    // A server the master list does not know yet announces at once, so the
    // next server to start finds it instead of forming a cluster of its own.
    if (listed === false) this.#spawn('announce', () => this.#announce());
    safeLog(this.log, 'info', 'running', { known: this.table.size, up: this.table.upPeerCount() + 1 });
  }

  /**
   * Reads the master list and exchanges with a fan-out of it. Returns whether
   * the list named this server as online, or undefined if it could not be read.
   */
  async #bootstrap(): Promise<boolean | undefined> {
    let listed: boolean | undefined;
    try {
      const snapshot = await this.#readMasterList();
      this.#merge(snapshot.entries, false);
      listed = snapshot.entries.some((e) => e.baseUrl === this.baseUrl && e.state === 'online');
    } catch (e) {
      safeLog(this.log, 'warn', 'could not read the master list at start; retrying in the background', {
        url: redactUrl(this.config.masterListUrl), error: e,
      });
      this.#scheduleBootstrapRetry();
    }
    // Each exchange may be followed by a push-back: bound the whole fan-out.
    await this.#withTimeout(this.#fanout((peer) => this.#antiEntropy(peer, true)), this.config.exchangeTimeoutMs).catch(() => undefined);
    return listed;
  }

  #readMasterList() {
    return this.#withTimeout(fetchMasterList(this.#io(), this.config.masterListUrl, () => this.clock.now()), this.config.masterListTimeoutMs);
  }

  #scheduleBootstrapRetry(): void {
    const base = Math.min(this.config.bootstrapRetryMaxMs, this.config.bootstrapRetryMinMs * 2 ** this.#bootstrapRetries);
    this.#bootstrapRetries++;
    this.after(Math.round(randomBetween(this.random, base / 2, base)), 'master-list retry', async () => {
      if (!this.isActive()) return;
      try {
        const snapshot = await this.#readMasterList();
        this.#merge(snapshot.entries, false);
        safeLog(this.log, 'info', 'master list read after retry', { attempts: this.#bootstrapRetries, entries: snapshot.entries.length });
        this.#bootstrapRetries = 0;
        await this.#fanout((peer) => this.#antiEntropy(peer, true));
        if (!snapshot.entries.some((e) => e.baseUrl === this.baseUrl && e.state === 'online')) await this.#announce();
      } catch (e) {
        safeLog(this.log, 'warn', 'master list still unreadable', { attempts: this.#bootstrapRetries, error: e });
        this.#scheduleBootstrapRetry();
      }
    });
  }

  /** Runs `exchange` with up to `fanout` random up servers plus every up monitor, concurrently. */
  async #fanout(exchange: (peer: string) => Promise<unknown>): Promise<void> {
    const targets = [...this.#monitors, ...this.table.sampleUpPeers(this.random, this.config.fanout, this.#monitors)];
    await Promise.all(targets.map(exchange));
  }

  shutdown(): Promise<void> {
    if (this.#shutdownPromise === undefined) this.#shutdownPromise = this.#shutdown();
    return this.#shutdownPromise;
  }

  async #shutdown(): Promise<void> {
    if (this.#status === 'idle' || this.#status === 'stopped') {
      this.#setStatus('stopped');
      return;
    }
    this.#setStatus('stopping');
    this.#cancelTimers();
    this.#desired = { state: 'offline', reason: 'left' };
    const self = this.#assertSelf();
    safeLog(this.log, 'info', 'shutting down: telling peers this server leaves');
    const timeout = Math.min(this.config.exchangeTimeoutMs, this.config.shutdownTimeoutMs);
    const work = [this.#fanout((peer) => this.send(peer, { entries: [self], ping: true }, timeout))];
    if (this.config.updateMasterListOnShutdown) work.push(this.#announce());
    await this.#withTimeout(Promise.all(work), this.config.shutdownTimeoutMs).catch(() => {
      safeLog(this.log, 'warn', 'shutdown notifications did not all finish in time', { timeoutMs: this.config.shutdownTimeoutMs });
    });
    this.#cancelTimers();
    this.#setStatus('stopped');
  }

  // ---- request handlers ------------------------------------------------------

  async handleGossip(authorization: string, body: unknown): Promise<GossipMessage> {
    return (await this.handleGossipWire(authorization, body)).reply;
  }

  async handleGossipWire(authorization: string, body: unknown, raw?: string): Promise<{ reply: GossipMessage; text: string }> {
    this.#assertServing();
    if (this.#hot.legacyAuth && this.#isRawSecret(authorization, this.#hot.secrets)) return this.#handleV1Gossip(body, raw);
    let header: SignedParams;
    try {
      header = this.#authenticateGossip(authorization, body, raw);
    } catch (e) {
      if (e instanceof UnauthorizedError) this.#stats.signatureRejections++;
      throw e;
    }
    const now = this.clock.now();
    const entries = parseGossipMessage(body, now, this.#limits);
    const extras = parseGossipExtras(body, this.#limits);
    // A message without any of our optional fields comes from a seed-format
    // peer: it sent its whole list and expects ours.
    const seedFormat = !extras.ping && extras.digest === undefined && extras.probe === undefined;
    const corrections = this.#merge(entries, seedFormat || extras.full || extras.want !== undefined ? this.#passOnWholeLists() : true);
    const probeOk = extras.probe === undefined ? undefined : await this.#probeFor(extras.probe);
    const mine = this.#digest.toString();
    const differs = extras.digest !== undefined && extras.digest !== mine;
    // Whole lists for seed-format peers and small tables; bucket digests for large ones.
    const bucketed = differs && this.table.size >= BUCKET_SYNC_MIN_ENTRIES;
    const full = seedFormat || (differs && !bucketed);
    let answer: MemberEntry[];
    if (full) answer = this.table.entries();
    else if (extras.want !== undefined) answer = this.#entriesIn(extras.want);
    else answer = [...corrections, ...this.#dissemination.take(entries)];
    // Keys in canonical (sorted) order, which lets canonicalJson take its fast path.
    const list = toServerList(answer);
    const reply: Record<string, unknown> = {};
    if (bucketed) reply['buckets'] = this.#digest.buckets();
    reply['digest'] = mine;
    if (full || extras.want !== undefined) reply['full'] = true;
    reply['message'] = 'gossip';
    reply['offline'] = list.offline;
    reply['online'] = list.online;
    if (probeOk !== undefined) reply['probeOk'] = probeOk;
    const signed = signReplySized(this.#hot.secrets[0]!, this.#gossipUrl, header.n, reply, this.clock.now(), makeNonce(this.random));
    this.#stats.bytesOut += signed.bytes;
    return { reply: signed.reply as unknown as GossipMessage, text: signed.text };
  }

  /**
   * A 1.x request (`legacyAuth` only): authorised by the raw gossip secret,
   * an unsigned seed-format body, answered with this server's whole list,
   * unsigned, as 1.x expects. Entries are validated like any others.
   */
  #handleV1Gossip(body: unknown, raw: string | undefined): { reply: GossipMessage; text: string } {
    const entries = parseGossipMessage(body, this.clock.now(), this.#limits);
    this.#stats.bytesIn += raw === undefined ? Buffer.byteLength(JSON.stringify(body)) : Buffer.byteLength(raw);
    this.#merge(entries, this.#passOnWholeLists());
    const reply: GossipMessage = { message: 'gossip', ...toServerList(this.table.entries()) };
    const text = JSON.stringify(reply);
    this.#stats.bytesOut += Buffer.byteLength(text);
    return { reply, text };
  }

  /** Whether `authorization` is one of `secrets` verbatim (1.x style), compared in constant time. */
  #isRawSecret(authorization: string, secrets: readonly string[]): boolean {
    return typeof authorization === 'string' && authorization !== '' && checkBearer(`Bearer ${authorization}`, secrets);
  }

  /** The control secret as `Bearer <secret>`, or verbatim (1.x) with `legacyAuth`. */
  #isControlAuthorized(authorization: string): boolean {
    if (typeof authorization !== 'string') return false;
    return checkBearer(authorization, this.config.controlSecrets) || (this.config.legacyAuth && this.#isRawSecret(authorization, this.config.controlSecrets));
  }

  /**
   * Checks a gossip request's signature, timestamp and nonce; returns its
   * signed parameters. Throws UnauthorizedError (or MalformedError for a
   * body no peer could have signed).
   */
  #authenticateGossip(authorization: string, body: unknown, raw: string | undefined): SignedParams {
    if (typeof authorization !== 'string' || authorization === '') throw new UnauthorizedError('missing signature');
    const header = parseSignedHeader(authorization);
    const now = this.clock.now();
    if (Math.abs(now - header.t) > this.#hot.signatureWindowMs) throw new UnauthorizedError('stale signature timestamp');
    // The received text, when it is what the peer signed (this implementation
    // sends the canonical text); otherwise the canonical form of the parsed body.
    if (typeof raw === 'string' && verifyRequestCanonical(this.#hot.secrets, this.#gossipUrl, raw, header)) {
      this.#stats.bytesIn += Buffer.byteLength(raw);
    } else {
      const canonical = canonicalJson(body);
      this.#stats.bytesIn += Buffer.byteLength(canonical);
      if (!verifyRequestCanonical(this.#hot.secrets, this.#gossipUrl, canonical, header)) throw new UnauthorizedError('invalid signature');
    }
    const seen = this.#replay.check(header.t, header.n, now);
    if (seen === 'replayed') throw new UnauthorizedError('replayed request', 'REPLAYED');
    if (seen === 'stale') throw new UnauthorizedError('stale signature timestamp');
    return header;
  }

  async handleList(authorization: string): Promise<ServerList> {
    this.#assertServing();
    const list = toServerList(this.table.entries());
    if (authorization === undefined || authorization === null || authorization === '') return { online: list.online };
    if (!this.#isControlAuthorized(authorization)) {
      this.#stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
    return list;
  }

  async handleControl(authorization: string, body: unknown): Promise<void> {
    this.#assertServing();
    if (!this.#isControlAuthorized(authorization)) {
      this.#stats.signatureRejections++;
      throw new UnauthorizedError('invalid control authorization');
    }
    const { online } = parseControlMessage(body as ControlMessage);
    if (this.#status === 'stopping') throw new NotStartedError('shutting down', 'STOPPED');
    const want: DesiredSelf = online ? { state: 'online' } : { state: 'offline', reason: 'admin' };
    if (want.state === this.#desired.state && want.reason === this.#desired.reason) return;
    this.#desired = want;
    const self = this.#assertSelf();
    safeLog(this.log, 'info', online ? 'operator brought this server online' : 'operator took this server offline', { version: self.lastUpdate });
  }

  #assertServing(): void {
    if (this.#status === 'idle') throw new NotStartedError();
    if (this.#status === 'stopped') throw new NotStartedError('clustershazbot has shut down', 'STOPPED');
  }

  /**
   * Probes `target` on a peer's behalf. Only a member this server itself
   * lists as up is ever contacted: a URL in a request never makes this server
   * send anything to an address it did not already trust.
   */
  async #probeFor(target: string): Promise<boolean> {
    if (target === this.baseUrl) return true;
    const entry = this.table.get(target);
    if (entry === undefined || entry.state === 'offline') return false;
    const reply = await this.send(target, { entries: this.#dissemination.take(), ping: true }, this.config.probeTimeoutMs);
    return reply !== undefined;
  }

  // ---- exchanges ---------------------------------------------------------------

  #scheduleAntiEntropy(): void {
    const { gossipIntervalMs: base, gossipJitter: j } = this.config;
    this.after(Math.round(base * randomBetween(this.random, 1 - j, 1 + j)), 'anti-entropy', async () => {
      const now = this.clock.now();
      for (const gone of this.table.prune(now, this.config.maxOfflineAgeMs)) {
        safeLog(this.log, 'debug', 'forgot offline server', { baseUrl: gone.baseUrl });
      }
      this.#stats.antiEntropyRounds++;
      const peer = this.#antiEntropyPeer(now);
      const lost = this.#pickFailed();
      await Promise.all([peer === undefined ? undefined : this.#antiEntropy(peer), lost === undefined ? undefined : this.#antiEntropy(lost)]);
      if (this.#status === 'running') this.#scheduleAntiEntropy();
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
  #antiEntropyPeer(now: number): string | undefined {
    const check = this.#lastDigestCheck;
    if (check !== undefined && now - check.at <= Math.min(2 * this.#hot.probeIntervalMs, this.config.gossipIntervalMs)) {
      if (check.same) return undefined;
      const entry = this.table.get(check.peer);
      if (entry !== undefined && entry.state !== 'offline') return check.peer;
    }
    return choosePeer(this.#peerPool, this.#monitors, this.random, this.config.monitorWeight);
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
    if (this.#failed.size === 0) return undefined;
    let i = Math.floor(this.random.float() * this.#failed.size);
    for (const url of this.#failed) if (i-- === 0) return url;
    return undefined;
  }

  /**
   * One anti-entropy exchange: digests first, whole lists only where they
   * differ. The peer answers with its whole list if its digest differs from
   * ours; if ours still differs from its afterwards, we hold something it
   * lacks and push our whole list. A seed-format peer gets whole lists.
   */
  async #antiEntropy(peer: string, announce = false): Promise<void> {
    if (this.#legacyPeers.has(peer)) {
      await this.send(peer, { entries: 'full' }, this.config.exchangeTimeoutMs);
      return;
    }
    const entries = this.#dissemination.take();
    // A server introducing itself (bootstrap, or servers the master list just
    // revealed) puts its own entry in every such request, not only in the few
    // its retransmit limit allows: each of them learns it on arrival and
    // passes it on at once, instead of one round trip and a push-back later.
    if (announce && !entries.some((e) => e.baseUrl === this.baseUrl)) entries.unshift(this.self());
    const reply = await this.send(peer, { entries, digest: true }, this.config.exchangeTimeoutMs);
    if (reply === undefined || reply.digest === undefined) return;
    if (reply.buckets !== undefined) {
      // Large tables: trade only the buckets that differ, both ways, in one exchange.
      const want = this.#digest.differing(reply.buckets);
      if (want.length > 0) await this.send(peer, { entries: this.#entriesIn(want), ping: true, want }, this.config.exchangeTimeoutMs);
      return;
    }
    if (reply.digest !== this.#digest.toString()) {
      await this.send(peer, { entries: 'full', ping: true }, this.config.exchangeTimeoutMs);
    }
  }

  /** Every entry whose server falls in one of `buckets`. */
  #entriesIn(buckets: readonly number[]): MemberEntry[] {
    const wanted = new Set(buckets);
    const out: MemberEntry[] = [];
    for (const e of this.table.values()) if (wanted.has(bucketOf(e.baseUrl))) out.push(e);
    return out;
  }

  /**
   * One exchange: signed, or 1.x style with a peer that refused signed
   * requests (`legacyAuth` only; such a peer is retried signed if it starts
   * refusing 1.x requests, as it will once upgraded with legacy mode off).
   * Never throws; resolves the reply's extras, or undefined if it failed.
   */
  send(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined> {
    // Without legacyAuth a signed exchange is never 'refused' (see #sendSigned).
    if (!this.#hot.legacyAuth) return this.#sendSigned(peer, out, timeoutMs) as Promise<GossipExtras | undefined>;
    return this.#sendLegacyAware(peer, out, timeoutMs);
  }

  async #sendLegacyAware(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined> {
    const v1 = this.#v1Peers.has(peer);
    const first = v1 ? await this.#sendV1(peer, timeoutMs) : await this.#sendSigned(peer, out, timeoutMs);
    if (first !== 'refused') return first;
    if (v1) this.#v1Peers.delete(peer);
    else this.#v1Peers.add(peer);
    const second = v1 ? await this.#sendSigned(peer, out, timeoutMs) : await this.#sendV1(peer, timeoutMs);
    if (second === 'refused') {
      this.#v1Peers.delete(peer);
      return undefined;
    }
    return second;
  }

  /**
   * A 1.x exchange: the whole list, unsigned, authorised by the raw gossip
   * secret (what 1.x expects), and an unsigned seed-format answer. 'refused'
   * on a 401 or 403.
   */
  async #sendV1(peer: string, timeoutMs: number): Promise<GossipExtras | 'refused' | undefined> {
    const t = this.clock.now();
    this.#stats.exchanges++;
    try {
      const text = JSON.stringify({ message: 'gossip', ...toServerList(this.table.entries()) });
      const res = await this.#post(endpointUrl(peer, 'gossip'), text, this.config.secrets[0]!, timeoutMs);
      if (res.status === 401 || res.status === 403) {
        this.#observeExchange(peer, this.clock.now() - t, false);
        return 'refused';
      }
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      const now = this.clock.now();
      this.#merge(parseGossipMessage(JSON.parse(res.body), now, this.#limits), this.#passOnWholeLists());
      this.#legacyPeers.add(peer);
      this.#lastContact.set(peer, now);
      this.#observeExchange(peer, now - t, true);
      return { digest: undefined, ping: false, probe: undefined, probeOk: undefined, full: true, buckets: undefined, want: undefined };
    } catch (e) {
      this.#stats.exchangeFailures++;
      this.#observeExchange(peer, this.clock.now() - t, false);
      safeLog(this.log, 'debug', '1.x exchange failed', { peer, error: e });
      return undefined;
    }
  }

  /** One signed exchange. Never throws; 'refused' on a 401 if `legacyAuth` is on (the peer may be 1.x). */
  async #sendSigned(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | 'refused' | undefined> {
    const target = endpointUrl(peer, 'gossip');
    // Keys in canonical (sorted) order, which lets canonicalJson take its fast path.
    const list = toServerList(out.entries === 'full' ? this.table.entries() : out.entries);
    const body: Record<string, unknown> = {};
    if (out.digest) body['digest'] = this.#digest.toString();
    if ((out.entries === 'full' && (out.ping || out.digest)) || out.want !== undefined) body['full'] = true;
    body['message'] = 'gossip';
    body['offline'] = list.offline;
    body['online'] = list.online;
    if (out.ping) body['ping'] = true;
    if (out.probe !== undefined) body['probe'] = out.probe;
    if (out.want !== undefined) body['want'] = out.want;
    const t = this.clock.now();
    const nonce = makeNonce(this.random);
    this.#stats.exchanges++;
    try {
      // The canonical text is both what is signed and what is sent, so the receiver can check the bytes it got.
      const text = canonicalJson(body);
      const res = await this.#post(target, text, signRequestCanonical(this.#hot.secrets[0]!, target, text, t, nonce), timeoutMs);
      if (this.#hot.legacyAuth && res.status === 401) {
        this.#observeExchange(peer, this.clock.now() - t, false);
        return 'refused';
      }
      // Any 2xx: a Nest @Post() answers 201.
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      let reply: unknown;
      try {
        reply = JSON.parse(res.body);
      } catch {
        throw new Error('reply is not JSON');
      }
      const signed = verifyReply(this.#hot.secrets, target, nonce, reply, res.body);
      if (signed === undefined) {
        this.#stats.signatureRejections++;
        throw new Error('reply signature invalid');
      }
      const now = this.clock.now();
      if (Math.abs(now - signed.t) > this.#hot.signatureWindowMs) throw new Error('reply timestamp outside the signature window');
      const entries = parseGossipMessage(reply, now, this.#limits);
      const extras = parseGossipExtras(reply, this.#limits);
      if (extras.digest === undefined) this.#legacyPeers.add(peer);
      else if (this.#legacyPeers.size > 0) this.#legacyPeers.delete(peer);
      this.#merge(entries, extras.full || extras.digest === undefined ? this.#passOnWholeLists() : true);
      // Probes and pushes compare digests for free; an anti-entropy exchange acts on its own comparison.
      if (extras.digest !== undefined && !out.digest) this.#lastDigestCheck = { at: now, peer, same: extras.digest === this.#digest.toString() };
      this.#lastContact.set(peer, now);
      this.#observeExchange(peer, now - t, true);
      return extras;
    } catch (e) {
      this.#stats.exchangeFailures++;
      this.#observeExchange(peer, this.clock.now() - t, false);
      safeLog(this.log, 'debug', 'exchange failed', { peer, error: e });
      return undefined;
    }
  }

  /** POSTs a JSON `text` to a gossip endpoint with `authorization`, within `timeoutMs`, counting the payload bytes both ways. */
  async #post(url: string, text: string, authorization: string, timeoutMs: number): Promise<TransportResponse> {
    this.#stats.bytesOut += Buffer.byteLength(text);
    const res = await this.#withTimeout(this.#transport.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization },
      body: text,
      timeoutMs,
      maxResponseBytes: this.#hot.maxResponseBytes,
    }), timeoutMs);
    this.#stats.bytesIn += Buffer.byteLength(res.body);
    return res;
  }

  #observeExchange(peer: string, ms: number, ok: boolean): void {
    for (const observer of this.#exchangeObservers) {
      try {
        observer(peer, ms, ok);
      } catch (e) {
        safeLog(this.log, 'error', 'exchange observer threw', { error: e });
      }
    }
  }

  // ---- merging -------------------------------------------------------------------

  /**
   * Merges validated entries: drops tombstones past the horizon, applies the
   * CRDT join, reacts to each change (events, suspicion timers, and, for
   * changes that arrived as news rather than in a whole list, onward
   * dissemination), counts suspicion confirmations, and refutes false claims
   * about this server.
   */
  #merge(entries: readonly MemberEntry[], rebroadcast: boolean): MemberEntry[] {
    if (entries.length === 0) {
      // Most probes and their answers carry no news.
      this.#assertSelf();
      return [];
    }
    const now = this.clock.now();
    const fresh = entries.filter((e) => !isExpiredTombstone(e, now, this.config.maxOfflineAgeMs) && (!this.#allow.restricts || this.#allow.allows(e.baseUrl)));
    for (const change of this.table.apply(fresh)) this.#react(change, rebroadcast);
    // Refute first, so that a claim about this server is answered with the refutation.
    this.#assertSelf();
    const corrections: MemberEntry[] = [];
    for (const e of fresh) {
      if (e.state === 'suspect' && e.by !== undefined && e.baseUrl !== this.baseUrl && this.#detector.confirm(e) && rebroadcast) {
        this.#dissemination.enqueue(e, `${e.baseUrl}#${e.by}`);
      }
      // A failure claim older than what we hold is still travelling after its
      // refutation: answer it with the newer entry, and spread that again, so
      // that a server which caught the stale rumor cannot time it out.
      const current = this.table.get(e.baseUrl);
      if (e.state !== 'online' && current !== undefined && current.lastUpdate > e.lastUpdate && !corrections.includes(current)) {
        corrections.push(current);
        if (rebroadcast) this.#dissemination.enqueue(current);
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
  #passOnWholeLists(): boolean {
    return this.#status === 'running';
  }

  applyOwnChange(change: MemberChange | undefined): void {
    if (change !== undefined) this.#react(change, true);
  }

  #react({ before, after }: MemberChange, rebroadcast: boolean): void {
    if (rebroadcast) this.#dissemination.enqueue(after);
    if (after.baseUrl === this.baseUrl) return;
    const wasUp = before !== undefined && before.state !== 'offline';
    if (after.state !== 'offline' && !wasUp) this.#events.emit('server:up', after);
    if (after.state === 'suspect' && before?.state !== 'suspect') this.#events.emit('server:suspect', after);
    if (after.state === 'offline' && wasUp) this.#events.emit('server:down', after, after.reason ?? 'unknown');
  }

  /**
   * Makes the table's entry for this server say what this server wants it to
   * say. A claim that this server is suspect or offline (or online, after an
   * operator took it offline) is overwritten with a higher version: the
   * refutation. Every change of the own entry is disseminated.
   */
  #assertSelf(): MemberEntry {
    const current = this.table.get(this.baseUrl);
    const want = this.#desired;
    if (current !== undefined && current.state === want.state && current.reason === want.reason && current.monitor === this.config.monitor) {
      return current;
    }
    const entry = this.table.setSelf({ state: want.state, monitor: this.config.monitor, ...(want.reason ? { reason: want.reason } : {}) }, this.clock.now());
    // A claim by others (suspect, or failed) is what a refutation answers; an
    // operator bringing the server back is not one.
    if (current !== undefined && (current.state === 'suspect' || current.reason === 'failed') && want.state === 'online') {
      this.#detector.awareness.apply(1); // being suspected is a sign of our own slowness (Lifeguard)
      safeLog(this.log, 'warn', 'refuted a claim that this server is down', { claimed: current.state, version: entry.lastUpdate });
    }
    this.#dissemination.enqueue(entry);
    return entry;
  }

  // ---- master list -----------------------------------------------------------

  #announceDelay(): number {
    return Math.round(this.config.masterAnnounceMinimumMs + this.random.float() * this.config.masterAnnounceIntervalMs);
  }

  #scheduleAnnounce(delayMs: number): void {
    this.after(delayMs, 'announce', async () => {
      await this.#announce();
      if (this.#status === 'running') this.#scheduleAnnounce(this.#announceDelay());
    });
  }

  /**
   * GET, merge, PUT. Never PUTs after a failed GET (a list we could not read
   * is never overwritten); sends If-Match when the store gave an ETag and
   * starts over, at most three times, when another server wrote in between.
   */
  async #announce(): Promise<void> {
    const updateUrl = this.config.masterListUpdateUrl;
    if (updateUrl === undefined) return;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const snapshot = await this.#readMasterList();
        this.#mergeFromMasterList(snapshot.entries);
        await this.#withTimeout(putMasterList(this.#io(), updateUrl, this.config.masterListUpdateAuth, this.table.entries(), snapshot), this.config.masterListTimeoutMs);
        safeLog(this.log, 'debug', 'announced to the master list', { entries: this.table.size });
        return;
      } catch (e) {
        if (e instanceof MasterListError && e.kind === 'conflict' && attempt < 3) continue;
        safeLog(this.log, 'warn', 'master list announce failed', { url: redactUrl(updateUrl), error: e });
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
    const known = new Set(this.table.upPeerUrls());
    this.#merge(entries, false);
    const fresh = this.table.upPeerUrls().filter((u) => !known.has(u));
    for (const peer of sample(this.random, fresh, this.config.fanout)) this.#spawn('introduction', () => this.#antiEntropy(peer, true));
  }

  /** The up peers, for {@link choosePeer}. */
  readonly #peerPool: PeerPool = ((engine: ClusterEngine): PeerPool => ({
    get size(): number {
      return engine.table.upPeerCount();
    },
    pick: () => engine.table.sampleUpPeers(engine.random, 1)[0],
    all: () => engine.table.upPeerUrls(),
  }))(this);

  #io(): MasterListIo {
    return { transport: this.#transport, timeoutMs: this.config.masterListTimeoutMs, maxResponseBytes: this.config.maxResponseBytes, limits: this.#limits };
  }

  // ---- timers ----------------------------------------------------------------

  #setStatus(next: ClusterStatus): void {
    const previous = this.#status;
    if (previous === next) return;
    this.#status = next;
    this.#events.emit('status:change', next, previous);
  }

  after(delayMs: number, what: string, task: () => Promise<void> | void): void {
    const handle = this.clock.setTimer(delayMs, () => {
      this.#timers.delete(handle);
      this.#spawn(what, task);
    });
    this.#timers.add(handle);
  }

  /** Starts background work whose failure is logged, never left unhandled. */
  #spawn(what: string, task: () => Promise<void> | void): void {
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
  #withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const handle = this.clock.setTimer(ms, () => {
        this.#timers.delete(handle);
        reject(new Error(`timed out after ${ms} ms`));
      });
      this.#timers.add(handle);
      promise.then(
        (v) => {
          this.clock.clearTimer(handle);
          this.#timers.delete(handle);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimer(handle);
          this.#timers.delete(handle);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  #cancelTimers(): void {
    for (const t of this.#timers) this.clock.clearTimer(t);
    this.#timers.clear();
    this.#detector.stop();
  }
}

/**
 * Per restored snapshot array (the table a snapshot makes does not depend on
 * who loads it): its digest, and its entries that are not plain online ones
 * (monitors, suspects, offline), the only ones a restore must act on.
 */
const snapshotFacts = new WeakMap<readonly MemberEntry[], { digest: BucketedDigest; notable: readonly MemberEntry[] }>();

/** Below this many entries a whole list costs less than bucket digests: mismatches send whole lists. */
const BUCKET_SYNC_MIN_ENTRIES = 256;

/** A URL fit for a log line: no credentials, no query (it may hold a token). */
function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid URL]';
  }
}
