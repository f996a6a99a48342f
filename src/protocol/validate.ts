/**
 * Strict validation of untrusted bodies: gossip messages, master list files
 * and control messages. Everything that crosses the wire goes through here
 * before it touches the membership table. Unknown fields are ignored, so
 * newer peers may add fields (forward compatibility); known fields must
 * have exactly the expected type.
 */
import type { MemberEntry, OfflineReason, ServerState } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
import { DIGEST_BUCKETS } from '../membership/digest.js';
import { MalformedError, TooLargeError } from '../errors.js';
import type { GossipServer } from '../types.js';
import { isPlainObject } from './canonical-json.js';

/** Bounds applied to an incoming list. */
export interface MessageLimits {
  /** Most entries accepted, online and offline together. */
  maxEntries: number;
  /** Longest accepted baseUrl. */
  maxUrlLength: number;
  /** How far in the future (ms, relative to `now`) a lastUpdate may be. */
  maxFutureMs: number;
}

/**
 * A server as written on the wire: the seed's GossipServer plus optional
 * fields a seed-format peer ignores: the offline `reason`, `suspect: true` on
 * a suspected server (still in the `online` list), and on failure claims the
 * claimant `by` and its clock `downAt`.
 */
export interface WireServer extends GossipServer {
  reason?: OfflineReason;
  suspect?: true;
  by?: string;
  downAt?: number;
}

/**
 * The optional message-level fields of a gossip request or reply (see
 * docs/protocol.md, "Failure detection and dissemination"). A seed-format
 * message has none of them.
 */
export interface GossipExtras {
  /** Request and reply: digest of the sender's whole table (anti-entropy). */
  readonly digest: string | undefined;
  /** Request: a probe or a push; answer with what is new, not the whole list. */
  readonly ping: boolean;
  /** Request: please probe this member on my behalf (indirect probe). */
  readonly probe: string | undefined;
  /** Reply to an indirect probe: whether the member answered the helper. */
  readonly probeOk: boolean | undefined;
  /** The lists are the sender's whole table, or all of it in the buckets asked for (not only recent changes). */
  readonly full: boolean;
  /** Reply to anti-entropy when digests differ in a large table: the digest of each bucket. */
  readonly buckets: readonly string[] | undefined;
  /** Request: send me your entries in these buckets (mine are in the lists). */
  readonly want: readonly number[] | undefined;
}

const DIGEST = /^[0-9a-f]{16}:\d{1,9}$/;

/** Validates the optional message-level fields of a (structurally valid) gossip message. Throws MalformedError. */
export function parseGossipExtras(body: unknown, limits: Pick<MessageLimits, 'maxUrlLength'>): GossipExtras {
  const obj = requireObject(body);
  const digest = own(obj, 'digest');
  if (digest !== undefined && (typeof digest !== 'string' || !DIGEST.test(digest))) {
    throw new MalformedError('digest: must be 16 hex digits, a colon and a count');
  }
  const ping = own(obj, 'ping');
  if (ping !== undefined && typeof ping !== 'boolean') throw new MalformedError('ping: must be a boolean');
  const full = own(obj, 'full');
  if (full !== undefined && typeof full !== 'boolean') throw new MalformedError('full: must be a boolean');
  const probeOk = own(obj, 'probeOk');
  if (probeOk !== undefined && typeof probeOk !== 'boolean') throw new MalformedError('probeOk: must be a boolean');
  const rawProbe = own(obj, 'probe');
  let probe: string | undefined;
  if (rawProbe !== undefined) {
    if (typeof rawProbe !== 'string') throw new MalformedError('probe: must be a string');
    probe = normalizeBaseUrl(rawProbe, limits.maxUrlLength);
  }
  const buckets = own(obj, 'buckets');
  if (buckets !== undefined && (!Array.isArray(buckets) || buckets.length !== DIGEST_BUCKETS || !buckets.every((b) => typeof b === 'string' && DIGEST.test(b)))) {
    throw new MalformedError(`buckets: must be ${DIGEST_BUCKETS} digests`);
  }
  const want = own(obj, 'want');
  if (want !== undefined && (!Array.isArray(want) || want.length > DIGEST_BUCKETS
    || !want.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) < DIGEST_BUCKETS))) {
    throw new MalformedError(`want: must be at most ${DIGEST_BUCKETS} bucket numbers`);
  }
  return {
    digest: digest as string | undefined, ping: ping === true, probe, probeOk: probeOk as boolean | undefined, full: full === true,
    buckets: buckets as string[] | undefined, want: want as number[] | undefined,
  };
}

const REASONS: ReadonlySet<unknown> = new Set<OfflineReason>(['left', 'admin', 'failed']);

/**
 * Validates a gossip request or reply body: `{ message: 'gossip', online:
 * [...], offline?: [...] }`. Throws MalformedError naming the offending path
 * (e.g. `online[3].lastUpdate: must be an integer`), or TooLargeError when
 * there are more than `limits.maxEntries` entries. Duplicate baseUrls are
 * kept: merging resolves them.
 */
export function parseGossipMessage(body: unknown, now: number, limits: MessageLimits): MemberEntry[] {
  const obj = requireObject(body);
  if (own(obj, 'message') !== 'gossip') throw new MalformedError(`message: must be 'gossip'`);
  return parseLists(obj, now, limits);
}

/**
 * Validates a master list file: like {@link parseGossipMessage}, but
 * `message` may be absent (if present it must be a string).
 */
export function parseServerList(body: unknown, now: number, limits: MessageLimits): MemberEntry[] {
  const obj = requireObject(body);
  const message = own(obj, 'message');
  if (message !== undefined && typeof message !== 'string') throw new MalformedError('message: must be a string');
  return parseLists(obj, now, limits);
}

/** Validates a control body `{ message: 'control', online: boolean }`. Throws MalformedError. */
export function parseControlMessage(body: unknown): { online: boolean } {
  const obj = requireObject(body);
  if (own(obj, 'message') !== 'control') throw new MalformedError(`message: must be 'control'`);
  const online = own(obj, 'online');
  if (typeof online !== 'boolean') throw new MalformedError('online: must be a boolean');
  return { online };
}

/**
 * The wire form of a set of entries: online and offline servers, each list
 * sorted by baseUrl (UTF-16 code unit order) so the output is deterministic.
 * Offline entries carry their `reason` when known.
 */
export function toServerList(entries: Iterable<MemberEntry>): { online: WireServer[]; offline: WireServer[] } {
  const online: WireServer[] = [];
  const offline: WireServer[] = [];
  // Entries often come sorted already (MembershipTable.entries()): then sorting is skipped.
  let sorted = true;
  let last = '';
  for (const e of entries) {
    if (e.baseUrl < last) sorted = false;
    last = e.baseUrl;
    const server = toWireServer(e);
    if (e.state === 'offline') offline.push(server);
    else online.push(server);
  }
  if (!sorted) {
    online.sort(byBaseUrl);
    offline.sort(byBaseUrl);
  }
  return { online, offline };
}

/**
 * One entry in wire form (the list it belongs in follows from `e.state`).
 * Its fields are set in canonical (sorted) order, so that lists of them
 * serialise as canonical JSON as they are (see canonical-json.ts).
 */
export function toWireServer(e: MemberEntry): WireServer {
  const server: Partial<WireServer> = { baseUrl: e.baseUrl };
  if (e.by !== undefined) server.by = e.by;
  if (e.downAt !== undefined) server.downAt = e.downAt;
  server.lastUpdate = e.lastUpdate;
  server.monitor = e.monitor;
  if (e.state === 'offline' && e.reason !== undefined) server.reason = e.reason;
  if (e.state === 'suspect') server.suspect = true;
  return server as WireServer;
}

function parseLists(obj: Record<string, unknown>, now: number, limits: MessageLimits): MemberEntry[] {
  const online = own(obj, 'online');
  if (!Array.isArray(online)) throw new MalformedError('online: must be an array');
  const offline = own(obj, 'offline');
  if (offline !== undefined && !Array.isArray(offline)) throw new MalformedError('offline: must be an array');
  const offlineList: readonly unknown[] = offline ?? [];
  // Check the counts before touching any entry: a huge list costs nothing.
  const total = online.length + offlineList.length;
  if (total > limits.maxEntries) {
    throw new TooLargeError(`${total} entries exceed the limit of ${limits.maxEntries}`);
  }
  const out: MemberEntry[] = [];
  for (let i = 0; i < online.length; i++) out.push(parseEntry(online[i], 'online', i, now, limits));
  for (let i = 0; i < offlineList.length; i++) out.push(parseEntry(offlineList[i], 'offline', i, now, limits));
  return out;
}

/** The error for entry `i` of `list`; `what` follows its path, e.g. `.monitor: must be a boolean`. */
function badEntry(list: 'online' | 'offline', i: number, what: string, cause?: unknown): MalformedError {
  return new MalformedError(`${list}[${i}]${what}`, cause === undefined ? undefined : { cause });
}

/** Entry `i` of `list` (whose name is also its state). Error messages name its path, e.g. `online[3].lastUpdate`. */
function parseEntry(raw: unknown, list: 'online' | 'offline', i: number, now: number, limits: MessageLimits): MemberEntry {
  if (!isPlainObject(raw)) throw badEntry(list, i, ': must be an object');
  let state: ServerState = list;
  const rawUrl = own(raw, 'baseUrl');
  if (typeof rawUrl !== 'string') throw badEntry(list, i, '.baseUrl: must be a string');
  let baseUrl: string;
  try {
    baseUrl = normalizeBaseUrl(rawUrl, limits.maxUrlLength);
  } catch (e) {
    throw badEntry(list, i, `.baseUrl: ${e instanceof MalformedError ? e.message : 'invalid URL'}`, e);
  }
  const monitor = own(raw, 'monitor');
  if (typeof monitor !== 'boolean') throw badEntry(list, i, '.monitor: must be a boolean');
  const lastUpdate = own(raw, 'lastUpdate');
  if (typeof lastUpdate !== 'number' || !Number.isSafeInteger(lastUpdate)) throw badEntry(list, i, '.lastUpdate: must be an integer');
  if (lastUpdate < 0) throw badEntry(list, i, '.lastUpdate: must not be negative');
  if (lastUpdate > now + limits.maxFutureMs) throw badEntry(list, i, `.lastUpdate: more than ${limits.maxFutureMs} ms in the future`);
  const suspect = own(raw, 'suspect');
  if (suspect !== undefined && typeof suspect !== 'boolean') throw badEntry(list, i, '.suspect: must be a boolean');
  if (suspect === true && state === 'online') state = 'suspect';
  // An unknown reason (or one on an online entry) is dropped, not rejected:
  // a newer peer may know reasons this version does not.
  const rawReason = own(raw, 'reason');
  const reason = state === 'offline' && REASONS.has(rawReason) ? (rawReason as OfflineReason) : undefined;
  // The claimant and its clock mean something only on failure claims.
  const claim = state === 'suspect' || reason === 'failed';
  const rawBy = own(raw, 'by');
  let by: string | undefined;
  if (rawBy !== undefined) {
    if (typeof rawBy !== 'string') throw badEntry(list, i, '.by: must be a string');
    try {
      by = normalizeBaseUrl(rawBy, limits.maxUrlLength);
    } catch (e) {
      throw badEntry(list, i, `.by: ${e instanceof Error ? e.message : 'invalid URL'}`, e);
    }
  }
  const downAt = own(raw, 'downAt');
  if (downAt !== undefined) {
    if (typeof downAt !== 'number' || !Number.isSafeInteger(downAt) || downAt < 0) throw badEntry(list, i, '.downAt: must be a non-negative integer');
    if (downAt > now + limits.maxFutureMs) throw badEntry(list, i, `.downAt: more than ${limits.maxFutureMs} ms in the future`);
  }
  const entry: { -readonly [K in keyof MemberEntry]: MemberEntry[K] } = { baseUrl, state, monitor, lastUpdate };
  if (reason !== undefined) entry.reason = reason;
  if (claim && by !== undefined) entry.by = by;
  if (claim && downAt !== undefined) entry.downAt = downAt;
  return entry;
}

function requireObject(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw new MalformedError('body: must be a JSON object');
  return body;
}

/** Own properties only: nothing inherited (or polluted) from a prototype counts. */
function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function byBaseUrl(a: WireServer, b: WireServer): number {
  return a.baseUrl < b.baseUrl ? -1 : a.baseUrl > b.baseUrl ? 1 : 0;
}
