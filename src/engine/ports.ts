import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';
import type { ResolvedConfig } from '../config.js';
import type { MemberEntry } from '../membership/entry.js';
import type { MembershipTable } from '../membership/table.js';
import type { GossipExtras } from '../protocol/validate.js';
import type { ExchangeKind } from './extension.js';

/** What one outgoing gossip message carries besides the signature. */
export interface Outgoing {
  /** Entries for the `online`/`offline` lists: recent changes, or 'full' for the whole table. */
  readonly entries: readonly MemberEntry[] | 'full';
  /** Ask for an answer with recent changes only (a probe or a push). */
  readonly ping?: boolean;
  /** Ask the receiver to probe this member (indirect probe). */
  readonly probe?: string;
  /** Include this server's table digest (anti-entropy). */
  readonly digest?: boolean;
  /** Ask for the receiver's entries in these buckets; `entries` then holds ours in them. */
  readonly want?: readonly number[];
  /**
   * Why it is sent, as extensions see it (`ext.k`): 'probe' (direct and
   * indirect probes, and the pings a helper sends for them), 'push',
   * 'anti-entropy' (with its whole-list and bucket follow-ups, and
   * introductions), 'leave', 'direct' (an extension's own exchange).
   * @default 'direct'
   */
  readonly kind?: ExchangeKind;
}

/**
 * What the engine's parts (failure detector, dissemination) may use of the
 * engine. Keeping this narrow keeps each part testable and free of I/O.
 */
export interface EnginePorts {
  readonly config: ResolvedConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly table: MembershipTable;
  readonly selfUrl: string;
  /** Whether timers should keep running (running, or starting). */
  isActive(): boolean;
  /** One signed exchange; resolves the reply's extras, or undefined on any failure. Never rejects. */
  send(peer: string, out: Outgoing, timeoutMs: number): Promise<GossipExtras | undefined>;
  /** Runs `task` after `delayMs` of clock time; errors are logged; cancelled on shutdown. */
  after(delayMs: number, what: string, task: () => Promise<void> | void): void;
  /** Records a change this server made or learned, as a merge would (events, broadcast, suspicion). */
  applyOwnChange(change: { before: MemberEntry | undefined; after: MemberEntry } | undefined): void;
}
