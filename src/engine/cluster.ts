import type { Clock, TimerHandle } from '../core/clock.js';
import { safeLog, silentLogger, type Logger } from '../core/logger.js';
import { randomBetween, sample, type Random } from '../core/random.js';
import type { Transport } from '../core/transport.js';
import { systemClock } from '../core/system-clock.js';
import { cryptoRandom } from '../core/system-random.js';
import { createHttpTransport } from '../core/http-transport.js';
import { resolveOptions, type ClusterOptions, type ResolvedConfig } from '../config.js';
import { NotStartedError, UnauthorizedError } from '../errors.js';
import type { MemberEntry, OfflineReason, ServerState } from '../membership/entry.js';
import type { MemberChange } from '../membership/merge.js';
import { MembershipTable, isExpiredTombstone } from '../membership/table.js';
import { endpointUrl, normalizeBaseUrl } from '../membership/url.js';
import { ReplayGuard } from '../protocol/replay-guard.js';
import {
  checkBearer, makeNonce, parseSignedHeader, signReply, signRequest, verifyReply, verifyRequest,
} from '../protocol/signature.js';
import { parseControlMessage, parseGossipMessage, toServerList, type MessageLimits } from '../protocol/validate.js';
import type { ControlMessage, GossipMessage, ServerList } from '../types.js';
import { Emitter, type ClusterEvents, type ClusterStatus } from './events.js';
import { fetchMasterList, MasterListError, putMasterList, type MasterListIo } from './master-list-client.js';
import { choosePeer } from './peer-selection.js';

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
   * every monitor, then starts the gossip and announce timers. Resolves within
   * `masterListTimeoutMs + exchangeTimeoutMs` even if the store or peers hang;
   * a failed download is retried in the background. Idempotent.
   */
  start(): Promise<void>;
  /**
   * Marks this server offline (`left`), tells up to `fanout` random servers and
   * every monitor, optionally updates the master list, and stops every timer.
   * Resolves within `shutdownTimeoutMs`. Idempotent.
   */
  shutdown(): Promise<void>;
  /** Handles `POST /clustershazbot/gossip`: verifies, merges, answers with the full signed list. */
  handleGossip(authorization: string, body: unknown): Promise<GossipMessage>;
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
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void;
}

/** Creates a cluster instance. Nothing happens until {@link Cluster.start}. Throws ConfigError. */
export function createCluster(options: ClusterOptions, deps: ClusterDeps = {}): Cluster {
  return new ClusterEngine(resolveOptions(options), deps);
}

interface DesiredSelf {
  state: ServerState;
  reason?: OfflineReason;
}

class ClusterEngine implements Cluster {
  readonly config: ResolvedConfig;
  readonly baseUrl: string;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #events: Emitter<ClusterEvents>;
  readonly #table: MembershipTable;
  readonly #replay: ReplayGuard;
  readonly #limits: MessageLimits;
  readonly #gossipUrl: string;
  readonly #timers = new Set<TimerHandle>();
  readonly #sleepers = new Set<() => void>();
  #status: ClusterStatus = 'idle';
  #desired: DesiredSelf = { state: 'online' };
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<void> | undefined;
  #bootstrapRetries = 0;

  constructor(config: ResolvedConfig, deps: ClusterDeps) {
    this.config = config;
    this.baseUrl = normalizeBaseUrl(config.baseUrl, config.maxUrlLength);
    this.#gossipUrl = endpointUrl(this.baseUrl, 'gossip');
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.random ?? cryptoRandom;
    this.#transport = deps.transport ?? createHttpTransport();
    this.#log = deps.logger ?? silentLogger;
    this.#events = new Emitter<ClusterEvents>(this.#log);
    this.#table = new MembershipTable(this.baseUrl);
    this.#replay = new ReplayGuard({ windowMs: config.signatureWindowMs, maxEntries: config.replayCacheSize });
    this.#limits = { maxEntries: config.maxEntries, maxUrlLength: config.maxUrlLength, maxFutureMs: config.maxFutureMs };
  }

  get status(): ClusterStatus {
    return this.#status;
  }

  /** The status, read through a call so that TypeScript does not narrow it across awaits. */
  #currentStatus(): ClusterStatus {
    return this.#status;
  }

  on<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  members(): MemberEntry[] {
    return this.#table.entries();
  }

  member(baseUrl: string): MemberEntry | undefined {
    try {
      return this.#table.get(normalizeBaseUrl(baseUrl, this.config.maxUrlLength));
    } catch {
      return undefined;
    }
  }

  self(): MemberEntry {
    return this.#table.get(this.baseUrl) ?? this.#assertSelf();
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
    safeLog(this.#log, 'info', 'starting', { baseUrl: this.baseUrl, monitor: this.config.monitor });
    const listed = await this.#bootstrap();
    if (this.#currentStatus() !== 'starting') return; // shut down while bootstrapping
    this.#setStatus('running');
    this.#scheduleGossip();
    this.#scheduleAnnounce(this.#announceDelay());
    // A server the master list does not know yet announces at once, so the
    // next server to start finds it instead of forming a cluster of its own.
    if (listed === false) this.#spawn('announce', () => this.#announce());
    safeLog(this.#log, 'info', 'running', { known: this.#table.size, online: this.#table.online().length });
  }

  /**
   * Reads the master list and exchanges with a fan-out of it. Returns whether
   * the list named this server as online, or undefined if it could not be read.
   */
  async #bootstrap(): Promise<boolean | undefined> {
    let listed: boolean | undefined;
    try {
      const snapshot = await this.#withTimeout(fetchMasterList(this.#io(), this.config.masterListUrl, () => this.#clock.now()), this.config.masterListTimeoutMs);
      this.#merge(snapshot.entries);
      listed = snapshot.entries.some((e) => e.baseUrl === this.baseUrl && e.state === 'online');
    } catch (e) {
      safeLog(this.#log, 'warn', 'could not read the master list at start; retrying in the background', {
        url: redactUrl(this.config.masterListUrl), error: e,
      });
      this.#scheduleBootstrapRetry();
    }
    await this.#fanout();
    return listed;
  }

  #scheduleBootstrapRetry(): void {
    const base = Math.min(this.config.bootstrapRetryMaxMs, this.config.bootstrapRetryMinMs * 2 ** this.#bootstrapRetries);
    this.#bootstrapRetries++;
    this.#after(Math.round(randomBetween(this.#random, base / 2, base)), 'master-list retry', async () => {
      if (this.#status !== 'running' && this.#status !== 'starting') return;
      try {
        const snapshot = await this.#withTimeout(fetchMasterList(this.#io(), this.config.masterListUrl, () => this.#clock.now()), this.config.masterListTimeoutMs);
        this.#merge(snapshot.entries);
        safeLog(this.#log, 'info', 'master list read after retry', { attempts: this.#bootstrapRetries, entries: snapshot.entries.length });
        this.#bootstrapRetries = 0;
        await this.#fanout();
        if (!snapshot.entries.some((e) => e.baseUrl === this.baseUrl && e.state === 'online')) await this.#announce();
      } catch (e) {
        safeLog(this.#log, 'warn', 'master list still unreadable', { attempts: this.#bootstrapRetries, error: e });
        this.#scheduleBootstrapRetry();
      }
    });
  }

  /** Exchanges at once with up to `fanout` random online servers plus every online monitor. */
  async #fanout(): Promise<void> {
    const peers = this.#table.onlinePeers();
    const targets = [...peers.filter((p) => p.monitor), ...sample(this.#random, peers.filter((p) => !p.monitor), this.config.fanout)];
    await Promise.all(targets.map((p) => this.#exchange(p.baseUrl)));
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
    this.#assertSelf();
    safeLog(this.#log, 'info', 'shutting down: telling peers this server leaves');
    const work = [this.#fanout()];
    if (this.config.updateMasterListOnShutdown) work.push(this.#announce());
    await this.#withTimeout(Promise.all(work), this.config.shutdownTimeoutMs).catch(() => {
      safeLog(this.#log, 'warn', 'shutdown notifications did not all finish in time', { timeoutMs: this.config.shutdownTimeoutMs });
    });
    this.#cancelTimers();
    this.#setStatus('stopped');
  }

  // ---- request handlers ------------------------------------------------------

  async handleGossip(authorization: string, body: unknown): Promise<GossipMessage> {
    this.#assertServing();
    if (typeof authorization !== 'string' || authorization === '') throw new UnauthorizedError('missing signature');
    const header = parseSignedHeader(authorization);
    const now = this.#clock.now();
    if (Math.abs(now - header.t) > this.config.signatureWindowMs) throw new UnauthorizedError('stale signature timestamp');
    if (!verifyRequest(this.config.secrets, this.#gossipUrl, body, header)) throw new UnauthorizedError('invalid signature');
    const seen = this.#replay.check(header.t, header.n, now);
    if (seen === 'replayed') throw new UnauthorizedError('replayed request', 'REPLAYED');
    if (seen === 'stale') throw new UnauthorizedError('stale signature timestamp');
    this.#merge(parseGossipMessage(body, now, this.#limits));
    const reply = { message: 'gossip', ...toServerList(this.#table.entries()) };
    return signReply(this.config.secrets[0]!, this.#gossipUrl, header.n, reply, now, makeNonce(this.#random)) as unknown as GossipMessage;
  }

  async handleList(authorization: string): Promise<ServerList> {
    this.#assertServing();
    const list = toServerList(this.#table.entries());
    if (authorization === undefined || authorization === null || authorization === '') return { online: list.online };
    if (typeof authorization !== 'string' || !checkBearer(authorization, this.config.controlSecrets)) {
      throw new UnauthorizedError('invalid control authorization');
    }
    return list;
  }

  async handleControl(authorization: string, body: unknown): Promise<void> {
    this.#assertServing();
    if (typeof authorization !== 'string' || !checkBearer(authorization, this.config.controlSecrets)) {
      throw new UnauthorizedError('invalid control authorization');
    }
    const { online } = parseControlMessage(body as ControlMessage);
    if (this.#status === 'stopping') throw new NotStartedError('shutting down', 'STOPPED');
    const want: DesiredSelf = online ? { state: 'online' } : { state: 'offline', reason: 'admin' };
    if (want.state === this.#desired.state && want.reason === this.#desired.reason) return;
    this.#desired = want;
    const self = this.#assertSelf();
    safeLog(this.#log, 'info', online ? 'operator brought this server online' : 'operator took this server offline', { version: self.lastUpdate });
    // Tell a few servers at once instead of waiting for the next round.
    this.#spawn('control push', () => this.#push(3));
  }

  #assertServing(): void {
    if (this.#status === 'idle') throw new NotStartedError();
    if (this.#status === 'stopped') throw new NotStartedError('clustershazbot has shut down', 'STOPPED');
  }

  // ---- gossip ----------------------------------------------------------------

  #scheduleGossip(): void {
    const { gossipIntervalMs: base, gossipJitter: j } = this.config;
    this.#after(Math.round(base * randomBetween(this.#random, 1 - j, 1 + j)), 'gossip round', async () => {
      await this.#gossipRound();
      if (this.#status === 'running') this.#scheduleGossip();
    });
  }

  /** One anti-entropy round: exchange with one peer; if it and one retry fail, mark the peer offline. */
  async #gossipRound(): Promise<void> {
    const now = this.#clock.now();
    for (const gone of this.#table.prune(now, this.config.maxOfflineAgeMs)) {
      safeLog(this.#log, 'debug', 'forgot offline server', { baseUrl: gone.baseUrl });
    }
    const peer = choosePeer(this.#table.onlinePeers(), this.#random, this.config.monitorWeight);
    if (peer === undefined) return;
    if (await this.#exchange(peer.baseUrl)) return;
    await this.#sleep(this.config.retryDelayMs);
    if (this.#status !== 'running') return;
    if (await this.#exchange(peer.baseUrl)) return;
    const current = this.#table.get(peer.baseUrl);
    // If the entry moved on meanwhile (the peer refuted, or someone else
    // already marked it), the failures we saw say nothing about the new version.
    if (current === undefined || current.state !== 'online' || current.lastUpdate !== peer.lastUpdate) return;
    const change = this.#table.markOffline(peer.baseUrl, 'failed', this.#clock.now());
    if (change !== undefined) {
      safeLog(this.#log, 'warn', 'peer unreachable after a retry: marked offline', { baseUrl: peer.baseUrl });
      this.#emitChanges([change]);
    }
  }

  /** Exchanges with `count` random online peers at once (used after a local change). */
  async #push(count: number): Promise<void> {
    const targets = sample(this.#random, this.#table.onlinePeers(), count);
    await Promise.all(targets.map((p) => this.#exchange(p.baseUrl)));
  }

  /** One signed push-pull exchange. Never throws; resolves whether it succeeded. */
  async #exchange(peerUrl: string): Promise<boolean> {
    const target = endpointUrl(peerUrl, 'gossip');
    const body = { message: 'gossip', ...toServerList(this.#table.entries()) };
    const t = this.#clock.now();
    const nonce = makeNonce(this.#random);
    try {
      const res = await this.#withTimeout(this.#transport.request({
        method: 'POST',
        url: target,
        headers: { 'content-type': 'application/json', authorization: signRequest(this.config.secrets[0]!, target, body, t, nonce) },
        body: JSON.stringify(body),
        timeoutMs: this.config.exchangeTimeoutMs,
        maxResponseBytes: this.config.maxResponseBytes,
      }), this.config.exchangeTimeoutMs);
      // Any 2xx: a Nest @Post() answers 201.
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      let reply: unknown;
      try {
        reply = JSON.parse(res.body);
      } catch {
        throw new Error('reply is not JSON');
      }
      const signed = verifyReply(this.config.secrets, target, nonce, reply);
      if (signed === undefined) throw new Error('reply signature invalid');
      const now = this.#clock.now();
      if (Math.abs(now - signed.t) > this.config.signatureWindowMs) throw new Error('reply timestamp outside the signature window');
      this.#merge(parseGossipMessage(reply, now, this.#limits));
      return true;
    } catch (e) {
      safeLog(this.#log, 'debug', 'exchange failed', { peer: peerUrl, error: e });
      return false;
    }
  }

  /** Merges validated entries, drops tombstones past the horizon, and refutes false claims about this server. */
  #merge(entries: readonly MemberEntry[]): void {
    const now = this.#clock.now();
    const fresh = entries.filter((e) => !isExpiredTombstone(e, now, this.config.maxOfflineAgeMs));
    this.#emitChanges(this.#table.apply(fresh));
    this.#assertSelf();
  }

  /**
   * Makes the table's entry for this server say what this server wants it to
   * say. A claim that this server is offline (or online, after an operator
   * took it offline) is overwritten with a higher version: the refutation.
   */
  #assertSelf(): MemberEntry {
    const current = this.#table.get(this.baseUrl);
    const want = this.#desired;
    if (current !== undefined && current.state === want.state && current.reason === want.reason && current.monitor === this.config.monitor) {
      return current;
    }
    const entry = this.#table.setSelf({ state: want.state, monitor: this.config.monitor, ...(want.reason ? { reason: want.reason } : {}) }, this.#clock.now());
    if (current !== undefined && this.#status !== 'stopping') {
      safeLog(this.#log, current.state === 'offline' && want.state === 'online' ? 'warn' : 'debug', 'refuted a claim about this server', {
        claimed: current.state, version: entry.lastUpdate,
      });
    }
    return entry;
  }

  #emitChanges(changes: readonly MemberChange[]): void {
    for (const { before, after } of changes) {
      if (after.baseUrl === this.baseUrl) continue;
      if (after.state === 'online' && before?.state !== 'online') this.#events.emit('server:up', after);
      else if (after.state === 'offline' && before?.state === 'online') this.#events.emit('server:down', after, after.reason ?? 'unknown');
    }
  }

  // ---- master list -----------------------------------------------------------

  #announceDelay(): number {
    return Math.round(this.config.masterAnnounceMinimumMs + this.#random.float() * this.config.masterAnnounceIntervalMs);
  }

  #scheduleAnnounce(delayMs: number): void {
    this.#after(delayMs, 'announce', async () => {
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
        const snapshot = await this.#withTimeout(fetchMasterList(this.#io(), this.config.masterListUrl, () => this.#clock.now()), this.config.masterListTimeoutMs);
        this.#merge(snapshot.entries);
        await this.#withTimeout(putMasterList(this.#io(), updateUrl, this.config.masterListUpdateAuth, this.#table.entries(), snapshot), this.config.masterListTimeoutMs);
        safeLog(this.#log, 'debug', 'announced to the master list', { entries: this.#table.size });
        return;
      } catch (e) {
        if (e instanceof MasterListError && e.kind === 'conflict' && attempt < 3) continue;
        safeLog(this.#log, 'warn', 'master list announce failed', { url: redactUrl(updateUrl), error: e });
        return;
      }
    }
  }

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

  /** Runs `task` after `delayMs` on the clock; errors are logged, never thrown. */
  #after(delayMs: number, what: string, task: () => Promise<void>): void {
    const handle = this.#clock.setTimer(delayMs, () => {
      this.#timers.delete(handle);
      this.#spawn(what, task);
    });
    this.#timers.add(handle);
  }

  /** Starts background work whose failure is logged, never left unhandled. */
  #spawn(what: string, task: () => Promise<void>): void {
    void (async () => {
      try {
        await task();
      } catch (e) {
        safeLog(this.#log, 'error', `${what} failed unexpectedly`, { error: e });
      }
    })();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleepers.delete(wake);
        resolve();
      };
      this.#sleepers.add(wake);
      const handle = this.#clock.setTimer(ms, () => {
        this.#timers.delete(handle);
        wake();
      });
      this.#timers.add(handle);
    });
  }

  /** Rejects if `promise` has not settled after `ms` on the clock, whatever the transport does. */
  #withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const handle = this.#clock.setTimer(ms, () => {
        this.#timers.delete(handle);
        reject(new Error(`timed out after ${ms} ms`));
      });
      this.#timers.add(handle);
      promise.then(
        (v) => {
          this.#clock.clearTimer(handle);
          this.#timers.delete(handle);
          resolve(v);
        },
        (e: unknown) => {
          this.#clock.clearTimer(handle);
          this.#timers.delete(handle);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  #cancelTimers(): void {
    for (const t of this.#timers) this.#clock.clearTimer(t);
    this.#timers.clear();
    for (const wake of [...this.#sleepers]) wake();
  }
}

/** A URL fit for a log line: no credentials, no query (it may hold a token). */
function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid URL]';
  }
}

