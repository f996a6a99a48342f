/**
 * A member entry: one server as this server knows it. The table of entries
 * is a state-based CRDT (see merge.ts); this file only defines the shape.
 */

/**
 * Whether a server takes part in the cluster. `suspect` is online but
 * suspected of having failed: it travels in the `online` list (with
 * `suspect: true`), so a peer that only knows the seed format sees it online.
 */
export type ServerState = 'online' | 'suspect' | 'offline';

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
  /**
   * On `suspect` and `failed` entries: the server that raised the claim. A
   * failure claim keeps the version it is about (only the server itself ever
   * raises its version), so `by` tells independent confirmations apart.
   */
  readonly by?: string;
  /**
   * On `suspect` and `failed` entries: the claimant's clock when it raised the
   * claim. Tombstone age counts from max(lastUpdate, downAt), since a failure
   * claim keeps an old version.
   */
  readonly downAt?: number;
}

/** True for entries in the `online` wire list: online or suspect. */
export function isUp(e: MemberEntry): boolean {
  return e.state !== 'offline';
}
