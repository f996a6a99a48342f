import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';
import type { Transport } from '../core/transport.js';
import { resolveOptions, type ClusterOptions, type ResolvedConfig } from '../config.js';
import type { MemberEntry } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
import type { GossipMessage, ServerList } from '../types.js';
import { AntiEntropy } from './anti-entropy.js';
import { EngineCore, redactUrl } from './core.js';
import type { ClusterEvents, ClusterStatus } from './events.js';
import type { EngineExtension } from './extension.js';
import { ExtensionRuntime } from './extension-runtime.js';
import { GossipReceiver } from './gossip-receiver.js';
import { GossipSender } from './gossip-sender.js';
import type { ClusterInfo, ClusterStats, HealthReport, ServerInfo } from './info.js';
import { Lifecycle } from './lifecycle.js';
import { MasterListSync } from './master-list-sync.js';
import { Merger } from './merger.js';
import { StateReplica, type StateOptions } from '../state/replica.js';
import { openFileStateStore } from '../state/file-store.js';
import type { ReplicatedState } from '../state/types.js';

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
  /**
   * The replicated state (`cluster.state`): a durable store (overriding
   * `stateDir`) and tunables, or `false` for none (the simulator's default:
   * `cluster.state` then throws). @default on, with the file store of `stateDir` if set
   */
  state?: StateOptions | false;
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
  /**
   * Registers an extension (see extension.ts and docs/extensions.md): a
   * capability riding on this server's gossip. Calls its `attach` with what
   * it may use of the engine, and its `started` at once if the engine
   * already runs (otherwise when it starts). Allowed before or after
   * {@link start}. Throws ConfigError for a name that is not 1 to 32
   * characters `[a-z][a-z0-9-]*` or is already registered, TypeError for
   * something that is not an extension; what `attach` throws reaches the
   * caller, and the extension is then not registered.
   */
  use(extension: EngineExtension): void;
  /**
   * Whether this server is ready to serve: running, and every extension
   * ready (its `ready()`, true if it has none). Feeds
   * `GET /clustershazbot/health/ready`.
   */
  ready(): boolean;
  /**
   * The replicated state every server shares: maps and counters (see
   * docs/state.md). Readiness of its initial sync feeds {@link ready}.
   */
  readonly state: ReplicatedState;
}

/** Creates a cluster instance. Nothing happens until {@link Cluster.start}. Throws ConfigError. */
export function createCluster(options: ClusterOptions, deps: ClusterDeps = {}): Cluster {
  const config = resolveOptions(options);
  const engine = new ClusterEngine(config, deps);
  if (deps.state !== false) {
    // The replicated state plugs in as an extension, like any capability.
    const dir = config.stateDir;
    const store = deps.state?.store ?? (dir === '' ? undefined : () => openFileStateStore(dir));
    const replica = new StateReplica({ ...deps.state, ...(store === undefined ? {} : { store }) });
    engine.use(replica);
    engine.state = replica.api();
  }
  return engine;
}

/** `cluster.state` of an instance created with `state: false`. */
const NO_STATE: ReplicatedState = new Proxy({} as ReplicatedState, {
  get(_target, property) {
    // Symbols (inspection, iteration checks, deep equality) read nothing: only the API throws.
    if (typeof property === 'symbol') return undefined;
    throw new TypeError('this cluster was created with deps.state = false: it has no replicated state');
  },
});

/**
 * A {@link Cluster}: the engine's parts, one file each, assembled around
 * their shared {@link EngineCore}, behind the public interface.
 */
class ClusterEngine implements Cluster {
  /** Set by {@link createCluster} once the state extension is registered. */
  state: ReplicatedState = NO_STATE;
  readonly #core: EngineCore;
  readonly #merger: Merger;
  readonly #sender: GossipSender;
  readonly #receiver: GossipReceiver;
  readonly #lifecycle: Lifecycle;

  constructor(config: ResolvedConfig, deps: ClusterDeps) {
    const core = new EngineCore(config, deps);
    const merger = new Merger(core);
    const sender = new GossipSender(core, merger);
    core.link({ send: (peer, out, timeoutMs) => sender.send(peer, out, timeoutMs), applyOwnChange: (change) => merger.applyOwnChange(change) });
    const antiEntropy = new AntiEntropy(core, sender, merger);
    const masterList = new MasterListSync(core, merger, antiEntropy);
    this.#core = core;
    this.#merger = merger;
    this.#sender = sender;
    this.#receiver = new GossipReceiver(core, merger, sender);
    this.#lifecycle = new Lifecycle(core, { merger, sender, antiEntropy, masterList });
  }

  get status(): ClusterStatus {
    return this.#core.status;
  }

  get baseUrl(): string {
    return this.#core.baseUrl;
  }

  get config(): ResolvedConfig {
    return this.#core.config;
  }

  start(): Promise<void> {
    return this.#lifecycle.start();
  }

  shutdown(): Promise<void> {
    return this.#lifecycle.shutdown();
  }

  async handleGossip(authorization: string, body: unknown): Promise<GossipMessage> {
    return (await this.#receiver.handleGossipWire(authorization, body)).reply;
  }

  handleGossipWire(authorization: string, body: unknown, raw?: string): Promise<{ reply: GossipMessage; text: string }> {
    return this.#receiver.handleGossipWire(authorization, body, raw);
  }

  handleList(authorization: string): Promise<ServerList> {
    return this.#receiver.handleList(authorization);
  }

  handleControl(authorization: string, body: unknown): Promise<void> {
    return this.#receiver.handleControl(authorization, body);
  }

  on<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void {
    return this.#core.events.on(event, listener);
  }

  members(): MemberEntry[] {
    return this.#core.table.entries();
  }

  member(baseUrl: string): MemberEntry | undefined {
    try {
      return this.#core.table.get(normalizeBaseUrl(baseUrl, this.#core.config.maxUrlLength));
    } catch {
      return undefined;
    }
  }

  self(): MemberEntry {
    return this.#merger.self();
  }

  online(): MemberEntry[] {
    return this.#core.table.online();
  }

  offline(): MemberEntry[] {
    return this.#core.table.offline();
  }

  digest(): string {
    return this.#core.digest.toString();
  }

  health(): HealthReport {
    const status = this.#core.status;
    return { healthy: status === 'running', status };
  }

  stats(): ClusterStats {
    return { ...this.#core.stats, probeRounds: this.#core.detector.probeRounds };
  }

  observeExchanges(observer: (peer: string, ms: number, ok: boolean) => void): () => void {
    const observers = this.#core.exchangeObservers;
    observers.add(observer);
    return () => {
      observers.delete(observer);
    };
  }

  use(extension: EngineExtension): void {
    const core = this.#core;
    const runtime = core.ext ?? new ExtensionRuntime(core, this.#sender);
    runtime.use(extension);
    // Only once one is registered do messages carry an ext field.
    core.ext = runtime;
  }

  ready(): boolean {
    const core = this.#core;
    return core.status === 'running' && (core.ext === undefined || core.ext.ready());
  }

  info(): ClusterInfo {
    const core = this.#core;
    const counts = { online: 0, suspect: 0, offline: 0 };
    const now = core.clock.now();
    const servers: ServerInfo[] = core.table.entries().map((e) => {
      counts[e.state]++;
      const self = e.baseUrl === core.baseUrl;
      const exchanges = self ? undefined : core.insight.exchangesWith(e.baseUrl, now);
      return {
        baseUrl: e.baseUrl, state: e.state, ...(e.reason === undefined ? {} : { reason: e.reason }), monitor: e.monitor,
        version: e.lastUpdate, lastContactAt: self ? null : (core.lastContact.get(e.baseUrl) ?? null), self,
        ...(exchanges === undefined ? {} : { exchanges }),
      };
    });
    const c = core.config;
    return {
      baseUrl: core.baseUrl,
      status: core.status,
      now,
      servers,
      counts,
      config: {
        gossipIntervalMs: c.gossipIntervalMs, probeIntervalMs: c.probeIntervalMs, probeTimeoutMs: c.probeTimeoutMs,
        indirectProbes: c.indirectProbes, suspicionMult: c.suspicionMult, monitor: c.monitor,
        masterList: redactUrl(c.masterListUrl), announces: c.masterListUpdateUrl !== undefined,
      },
      stats: this.stats(),
      events: core.insight.events(),
      exchanges: core.insight.exchangeTotals(now),
      ...(core.ext === undefined ? {} : { extensions: core.ext.info() }),
    };
  }

  async handleInfo(authorization: string): Promise<ClusterInfo> {
    this.#receiver.authorizeInfo(authorization);
    return this.info();
  }
}
