import type { ClusterStatus } from './events.js';
import type { ExchangeSummary, ExchangeTotals } from './exchange-stats.js';
import type { TimelineEvent } from './timeline.js';
import type { OfflineReason, ServerState } from '../membership/entry.js';

/**
 * What one server knows about one member, as the info view, the dashboard
 * and the CLI show it. Times are ms since the epoch on this server's clock.
 */
export interface ServerInfo {
  /** The member's normalised base URL. */
  readonly baseUrl: string;
  /** online, suspect (may still refute) or offline. */
  readonly state: ServerState;
  /** Why it is offline (left, admin, failed), when it is. */
  readonly reason?: OfflineReason;
  /** Whether it is a monitor server. */
  readonly monitor: boolean;
  /** Its entry's version (`lastUpdate` on the wire, ms since the epoch). */
  readonly version: number;
  /** Last time this server got a signed reply from it, or null if never (or if it is this server). */
  readonly lastContactAt: number | null;
  /** Whether this entry is the answering server itself. */
  readonly self: boolean;
  /**
   * This server's exchanges with it over the recent window (latency, p99,
   * failures, recent series); absent when there were none, and for this server.
   */
  readonly exchanges?: ExchangeSummary;
}

/** Counters since this instance was created. */
export interface ClusterStats {
  /** Exchanges this server started (probes, pushes, anti-entropy). */
  readonly exchanges: number;
  /** Of those, the ones that got no valid signed reply in time. */
  readonly exchangeFailures: number;
  /** Periodic probe rounds run (one per probe period). */
  readonly probeRounds: number;
  /** Periodic anti-entropy rounds run (one per gossip interval). */
  readonly antiEntropyRounds: number;
  /** JSON payload bytes received: request bodies handled and reply bodies read. Headers are not counted. */
  readonly bytesIn: number;
  /** JSON payload bytes sent: request bodies and reply bodies. Headers are not counted. */
  readonly bytesOut: number;
  /** Requests and replies rejected for a missing, malformed, stale, replayed or wrong signature or secret. */
  readonly signatureRejections: number;
  /**
   * Extension fields (`ext`) of signed requests and replies ignored as malformed
   * or too large; the membership part of those messages was used as usual.
   */
  readonly extensionRejections: number;
}

/** Settings worth showing an operator; no secret, no credential, no query string. */
export interface ConfigSummary {
  readonly gossipIntervalMs: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly indirectProbes: number;
  readonly suspicionMult: number;
  readonly monitor: boolean;
  /** The master list's URL without credentials or query. */
  readonly masterList: string;
  /** Whether this server writes the master list at all. */
  readonly announces: boolean;
}

/** The info view: `GET /clustershazbot/info` with the control secret. */
export interface ClusterInfo {
  /** This server's base URL. */
  readonly baseUrl: string;
  /** This instance's lifecycle status. */
  readonly status: ClusterStatus;
  /** This server's clock when the view was taken (ms since the epoch). */
  readonly now: number;
  /** Every member this server knows, itself included, sorted by base URL. */
  readonly servers: readonly ServerInfo[];
  /** How many members are in each state. */
  readonly counts: Readonly<Record<ServerState, number>>;
  readonly config: ConfigSummary;
  readonly stats: ClusterStats;
  /**
   * Recent membership events as this server saw them, oldest first: at most
   * `timelineSize` of them (older ones are dropped).
   */
  readonly events: readonly TimelineEvent[];
  /** Every peer's exchanges over the recent window, taken together. */
  readonly exchanges: ExchangeTotals;
  /** What each registered extension shows (its `info` hook), by name; absent without extensions. */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** `GET /clustershazbot/health`: public, no membership data. */
export interface HealthReport {
  /** True when running and joined: the answer is 200; otherwise 503. */
  readonly healthy: boolean;
  readonly status: ClusterStatus;
}
