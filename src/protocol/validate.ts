/**
 * Strict validation of untrusted bodies: gossip messages, master list files
 * and control messages. Everything that crosses the wire goes through here
 * before it touches the membership table. Unknown fields are ignored, so
 * newer peers may add fields (forward compatibility); known fields must
 * have exactly the expected type.
 */
import type { MemberEntry, OfflineReason, ServerState } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
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

/** A server as written on the wire: the seed's GossipServer plus the optional offline reason. */
export interface WireServer extends GossipServer {
  reason?: OfflineReason;
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
  for (const e of entries) {
    const server: WireServer = { baseUrl: e.baseUrl, monitor: e.monitor, lastUpdate: e.lastUpdate };
    if (e.state === 'offline') {
      if (e.reason !== undefined) server.reason = e.reason;
      offline.push(server);
    } else {
      online.push(server);
    }
  }
  online.sort(byBaseUrl);
  offline.sort(byBaseUrl);
  return { online, offline };
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
  for (let i = 0; i < online.length; i++) out.push(parseEntry(online[i], 'online', `online[${i}]`, now, limits));
  for (let i = 0; i < offlineList.length; i++) out.push(parseEntry(offlineList[i], 'offline', `offline[${i}]`, now, limits));
  return out;
}

function parseEntry(raw: unknown, state: ServerState, path: string, now: number, limits: MessageLimits): MemberEntry {
  if (!isPlainObject(raw)) throw new MalformedError(`${path}: must be an object`);
  const rawUrl = own(raw, 'baseUrl');
  if (typeof rawUrl !== 'string') throw new MalformedError(`${path}.baseUrl: must be a string`);
  let baseUrl: string;
  try {
    baseUrl = normalizeBaseUrl(rawUrl, limits.maxUrlLength);
  } catch (e) {
    const why = e instanceof MalformedError ? e.message : 'invalid URL';
    throw new MalformedError(`${path}.baseUrl: ${why}`, { cause: e });
  }
  const monitor = own(raw, 'monitor');
  if (typeof monitor !== 'boolean') throw new MalformedError(`${path}.monitor: must be a boolean`);
  const lastUpdate = own(raw, 'lastUpdate');
  if (typeof lastUpdate !== 'number' || !Number.isSafeInteger(lastUpdate)) {
    throw new MalformedError(`${path}.lastUpdate: must be an integer`);
  }
  if (lastUpdate < 0) throw new MalformedError(`${path}.lastUpdate: must not be negative`);
  if (lastUpdate > now + limits.maxFutureMs) {
    throw new MalformedError(`${path}.lastUpdate: more than ${limits.maxFutureMs} ms in the future`);
  }
  // An unknown reason (or one on an online entry) is dropped, not rejected:
  // a newer peer may know reasons this version does not.
  const reason = own(raw, 'reason');
  if (state === 'offline' && REASONS.has(reason)) {
    return { baseUrl, state, monitor, lastUpdate, reason: reason as OfflineReason };
  }
  return { baseUrl, state, monitor, lastUpdate };
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
