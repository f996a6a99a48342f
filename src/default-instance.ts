import { consoleLogger, silentLogger } from './core/logger.js';
import { optionsFromEnv } from './config.js';
import { NotStartedError } from './errors.js';
import { createCluster, type Cluster } from './engine/cluster.js';
import type { ControlMessage, GossipMessage, ServerList } from './types.js';

/**
 * The seed README's module-level API drives one default instance configured
 * from the `SHAZBOT_*` environment variables.
 */
let instance: Cluster | undefined;

/**
 * Starts the default instance: reads and validates the `SHAZBOT_*` variables
 * (rejecting with one ConfigError that lists every problem), downloads the
 * master list, exchanges with up to 20 servers and every monitor, and starts
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
    }
    return instance.start();
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Moves this server offline, tells up to 20 servers and every monitor, and
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

function requireInstance(): Cluster {
  if (instance === undefined) throw new NotStartedError();
  return instance;
}
