/**
 * A member entry: one server as this server knows it. The table of entries
 * is a state-based CRDT (see merge.ts); this file only defines the shape.
 */

/** Whether a server takes part in the cluster. */
export type ServerState = 'online' | 'offline';

/**
 * Why an offline server is offline, when known:
 * - `left`: it shut down gracefully and said so;
 * - `admin`: an operator took it offline through the control endpoint;
 * - `failed`: other servers could not reach it.
 */
export type OfflineReason = 'left' | 'admin' | 'failed';

/** One server's entry in the membership table. */
export interface MemberEntry {
  /** Normalised base URL (see url.ts); the table's key. */
  readonly baseUrl: string;
  readonly state: ServerState;
  /** Whether the server declared itself a monitor. */
  readonly monitor: boolean;
  /**
   * The entry's version, in ms since the epoch as a hybrid logical clock:
   * it never goes backwards for a given server (docs/protocol.md).
   */
  readonly lastUpdate: number;
  /** Present only on offline entries, and only when known. */
  readonly reason?: OfflineReason;
}
