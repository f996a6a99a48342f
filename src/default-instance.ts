import { consoleLogger, silentLogger } from './core/logger.js';
import { optionsFromEnv } from './config.js';
import { NotStartedError } from './errors.js';
import { createCluster, type Cluster } from './engine/cluster.js';
import type { ClusterEvents, ClusterStatus } from './engine/events.js';
import type { ClusterInfo, HealthReport } from './engine/info.js';
import type { MemberEntry } from './membership/entry.js';
import type { ControlMessage, GossipMessage, ServerList } from './types.js';

/**
 * The seed README's module-level API drives one default instance configured
 * from the `SHAZBOT_*` environment variables.
 */
let instance: Cluster | undefined;

/** Listeners added with {@link shazbotOn}: attached to every default instance, present and future. */
interface Subscription {
  readonly event: keyof ClusterEvents;
  readonly listener: ClusterEvents[keyof ClusterEvents];
  detach?: () => void;
}
const subscriptions = new Set<Subscription>();

function attach(sub: Subscription, to: Cluster): void {
  sub.detach = to.on(sub.event, sub.listener as never);
}

/**
 * Starts the default instance: reads and validates the `SHAZBOT_*` variables
 * (rejecting with one ConfigError that lists every problem), downloads the
 * master list, exchanges with up to 5 servers and every monitor (`fanout`), and starts
 * the gossip and announce timers. Resolves within about 10 s with the
 * defaults, even if the master list or peers are down (it keeps retrying in
 * the background). Calling it again while running returns the same promise.
 */
export function shazbotStart(): Promise<void> {
  try {
    // A start during a shutdown waits for it, then starts a fresh instance.
    if (instance?.status === 'stopping') return instance.shutdown().then(() => shazbotStart());
    if (instance === undefined || instance.status === 'stopped') {
      const { options, logLevel } = optionsFromEnv(process.env);
      instance = createCluster(options, { logger: logLevel === 'silent' ? silentLogger : consoleLogger(logLevel) });
      for (const sub of subscriptions) attach(sub, instance);
    }
    return instance.start();
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Moves this server offline, tells up to 5 servers and every monitor (`fanout`), and
 * stops the timers. Resolves within 5 s however peers behave; idempotent, and
 * a no-op if the instance was never started.
 */
export async function shazbotShutDown(): Promise<void> {
  await instance?.shutdown();
}

/** Handles `POST /clustershazbot/gossip`. Throws a ShazbotError (400, 401, 413 or 503) for a bad request. */
export async function shazbotGossipRequest(authorizationHeader: string, body: GossipMessage): Promise<GossipMessage> {
  return requireInstance().handleGossip(authorizationHeader, body);
}

/** Handles `GET /clustershazbot/list`: the online servers; with the control secret, the offline ones too. */
export async function shazbotListRequest(authorizationHeader: string): Promise<ServerList> {
  return requireInstance().handleList(authorizationHeader);
}

/** Handles `POST /clustershazbot/control` (requires `Authorization: Bearer <SHAZBOT_CONTROL_SECRET>`). */
export async function shazbotControlRequest(authorizationHeader: string, message: ControlMessage): Promise<void> {
  return requireInstance().handleControl(authorizationHeader, message);
}

/** The default instance, once {@link shazbotStart} has created it. */
export function getDefaultCluster(): Cluster | undefined {
  return instance;
}

/**
 * Subscribes to an event of the default instance, even before
 * {@link shazbotStart} created it (and across a restart after a shutdown).
 * Returns the function that unsubscribes. A listener that throws is logged
 * and never breaks the engine.
 */
export function shazbotOn<K extends keyof ClusterEvents>(event: K, listener: ClusterEvents[K]): () => void {
  const sub: Subscription = { event, listener };
  subscriptions.add(sub);
  if (instance !== undefined) attach(sub, instance);
  return () => {
    subscriptions.delete(sub);
    sub.detach?.();
  };
}

/** Lifecycle status of the default instance (`idle` before {@link shazbotStart}). */
export function shazbotStatus(): ClusterStatus {
  return instance?.status ?? 'idle';
}

/** Health of the default instance: healthy when running and joined. */
export function shazbotHealth(): HealthReport {
  return instance?.health() ?? { healthy: false, status: 'idle' };
}

/** Every server the default instance knows (online, suspect, offline), sorted by base URL; empty before start. */
export function shazbotServers(): MemberEntry[] {
  return instance?.members() ?? [];
}

/** Servers the default instance lists online (online or suspect), sorted by base URL; empty before start. */
export function shazbotOnlineServers(): MemberEntry[] {
  return instance?.online() ?? [];
}

/** Servers the default instance lists offline, sorted by base URL; empty before start. */
export function shazbotOfflineServers(): MemberEntry[] {
  return instance?.offline() ?? [];
}

/** One server as the default instance sees it, by base URL; undefined if unknown or before start. */
export function shazbotServer(baseUrl: string): MemberEntry | undefined {
  return instance?.member(baseUrl);
}

/** This server's own entry in the default instance; undefined before start. */
export function shazbotSelf(): MemberEntry | undefined {
  return instance?.self();
}

/** Handles `GET /clustershazbot/info` (requires the control secret, as Bearer or Basic password). */
export async function shazbotInfoRequest(authorizationHeader: string): Promise<ClusterInfo> {
  return requireInstance().handleInfo(authorizationHeader);
}

function requireInstance(): Cluster {
  if (instance === undefined) throw new NotStartedError();
  return instance;
}
