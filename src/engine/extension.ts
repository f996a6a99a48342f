/**
 * The engine's extension interface, in the spirit of memberlist's delegates:
 * the way a capability (the replicated state, leader election) rides on the
 * gossip the engine already runs, without touching the engine's files.
 *
 * ## On the wire
 * An extension's data travels in one optional field of the signed gossip
 * body, `ext`: `{ "from": "<sender base URL>", "k": "<kind>", "s": { "<name>":
 * <section> }, "d": { "<name>": "<digest>" } }`. It is signed with the rest
 * of the body (same HMAC, replay window, key rotation and size limits). A
 * seed-format or older peer ignores the field, and a message without it is
 * handled exactly as before, so clusters can mix versions.
 *
 * ## When each hook is called
 * - {@link EngineExtension.attach}: once, when the extension is added (`Cluster.use`, before or after start).
 * - {@link EngineExtension.request}: for every outgoing request (probe, push,
 *   anti-entropy, leave, and the extension's own {@link ExtensionHost.exchange}),
 *   to add a section; undefined adds none.
 * - {@link EngineExtension.onRequest}: for every incoming signed request from a
 *   peer that sent an `ext` field (section undefined if it sent none for this
 *   extension); what it returns is the reply's section.
 * - {@link EngineExtension.onReply}: for every valid signed reply that carried
 *   an `ext` field.
 * - {@link EngineExtension.digest}: when a request or a reply is built; the
 *   engine puts it in `ext.d`. When a peer's digest differs from ours (read
 *   from its request or reply), the engine calls {@link EngineExtension.repair}
 *   for that peer, at most one at a time per peer and extension.
 * - {@link EngineExtension.started}: once membership has bootstrapped and the
 *   engine runs; the join sync starts here.
 * - {@link EngineExtension.memberChanged}: after each change of the membership table.
 * - {@link EngineExtension.stopping}: at shutdown, before peers are told; bounded by `shutdownTimeoutMs`.
 * - {@link EngineExtension.ready}: whenever `Cluster.ready()` (and `/clustershazbot/health/ready`) is asked.
 * - {@link EngineExtension.info}: whenever the info view is built.
 *
 * ## What a hook may not do
 * Synchronous hooks must not block: they run inside the handling of a
 * message, and a slow one delays probes (a live server could look dead).
 * They must not throw: the engine catches and logs what they throw, drops
 * the section, and carries on, but the extension has then lost that
 * message. Async hooks run in the background; their rejections are logged.
 * Sections are untrusted input: validate everything, and throw
 * {@link MalformedError} rather than trust a field. Never log a section's
 * values. A URL read from a section may be contacted only if the membership
 * table lists it (it then came from an authenticated message).
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Random } from '../core/random.js';
import type { ResolvedConfig } from '../config.js';
import type { MemberEntry } from '../membership/entry.js';
import type { ClusterStatus } from './events.js';

/** Why a message is sent. */
export type ExchangeKind = 'probe' | 'push' | 'anti-entropy' | 'leave' | 'direct';

/** What an extension may use of the engine. */
export interface ExtensionHost {
  readonly selfUrl: string;
  readonly config: ResolvedConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  status(): ClusterStatus;
  /** Every entry of the membership table. */
  members(): MemberEntry[];
  /** Base URLs of the peers listed up (online or suspect), this server excluded. */
  upPeers(): string[];
  /** How many peers are listed up (no list built: cheap on every message). */
  upPeerCount(): number;
  /**
   * A signed exchange with `peer` (a member of the table) that carries
   * `section` for this extension, plus membership news. Resolves the peer's
   * reply section for this extension (null if it sent none: an older peer),
   * or undefined if the exchange failed. Never rejects.
   */
  exchange(peer: string, section: unknown, timeoutMs: number): Promise<unknown>;
  /** Runs `task` after `delayMs` of clock time; errors are logged; cancelled at shutdown. */
  after(delayMs: number, what: string, task: () => Promise<void> | void): void;
  /** Starts background work whose rejection is logged. */
  spawn(what: string, task: () => Promise<void> | void): void;
  /** Bytes one gossip body may hold (the smallest request limit of the adapters), for chunking. */
  readonly maxBodyBytes: number;
}

/** A capability riding on the engine's gossip. Every hook is optional but `name` and `attach`. */
export interface EngineExtension {
  /** The section's name: 1 to 32 characters, `[a-z][a-z0-9-]*`. */
  readonly name: string;
  attach(host: ExtensionHost): void;
  request?(kind: ExchangeKind, peer: string): unknown;
  onRequest?(section: unknown, from: string | undefined, kind: ExchangeKind): unknown;
  onReply?(section: unknown, peer: string, kind: ExchangeKind): void;
  digest?(): string;
  repair?(peer: string, theirDigest: string): Promise<void>;
  started?(): void;
  memberChanged?(before: MemberEntry | undefined, after: MemberEntry | undefined): void;
  /** Whether this extension is ready to serve (feeds `/clustershazbot/health/ready`). @default true */
  ready?(): boolean;
  stopping?(): Promise<void> | void;
  /** Figures for operators, shown under `extensions.<name>` in the info view; JSON, no secret, no user data. */
  info?(): unknown;
}

/** Extension names. */
export const EXTENSION_NAME = /^[a-z][a-z0-9-]{0,31}$/;
