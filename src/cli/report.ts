import type { OfflineReason, ServerState } from '../membership/entry.js';
import { CliError, EXIT } from './errors.js';
import { sanitizeText } from './sanitize.js';
import { parseStateSummary, type StateSummary } from './state-report.js';

/** One server as `status` and `watch` show it. Times are ms since the epoch. */
export interface ServerRow {
  /** Its base URL, with control characters removed. */
  readonly baseUrl: string;
  readonly state: ServerState;
  /** Why it is offline, when the server said so. */
  readonly reason?: OfflineReason;
  readonly monitor: boolean;
  /** Its entry's version (`lastUpdate`). */
  readonly version: number;
  /** Last signed reply the queried server got from it; null if never; absent when unknown (list view). */
  readonly lastContactAt?: number | null;
  /** Whether it is the queried server itself (info view only). */
  readonly self?: boolean;
}

/** What `status` found out, and what `--json` prints. */
export interface StatusReport {
  /** The queried server's base URL. */
  readonly url: string;
  /** `info` (full view with the control secret) or `list` (the public list, or the fallback on older servers). */
  readonly source: 'info' | 'list';
  /** Whether offline servers are included (they need the control secret). */
  readonly offlineIncluded: boolean;
  /** Reference time for `lastContactAt`: the queried server's clock for `info`, this machine's for `list`. */
  readonly now: number;
  /** Every server, sorted by base URL. */
  readonly servers: readonly ServerRow[];
  /** Something the operator should know, e.g. that offline servers need the control secret. */
  readonly note?: string;
  /** The queried server's replicated state (info view only, when it has one). */
  readonly state?: StateSummary;
}

const STATES: ReadonlySet<string> = new Set<ServerState>(['online', 'suspect', 'offline']);
const REASONS: ReadonlySet<string> = new Set<OfflineReason>(['left', 'admin', 'failed']);
/** Longest base URL accepted from a server. */
const MAX_URL_CHARS = 2048;
/** Latest instant a JS Date can show. */
const MAX_TIME_MS = 8.64e15;

type Fields = Record<string, unknown>;

/** The error for an answer of the wrong shape (exit 1). */
function junk(url: string, what: string, why: string): CliError {
  return new CliError(EXIT.failed, `${url} answered something that is not a clustershazbot ${what}: ${why}`);
}

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_TIME_MS;
}

/** The fields every view has: base URL, monitor flag, optional reason. Returns the problem as a string. */
function common(v: unknown): { baseUrl: string; monitor: boolean; reason?: OfflineReason; fields: Fields } | string {
  if (!isObject(v)) return 'a server is not an object';
  if (typeof v.baseUrl !== 'string' || v.baseUrl.length === 0 || v.baseUrl.length > MAX_URL_CHARS) {
    return `a server's baseUrl is not a string of 1 to ${MAX_URL_CHARS} characters`;
  }
  if (typeof v.monitor !== 'boolean') return `a server's monitor is not a boolean`;
  // Unknown reasons (from newer servers) are left out rather than refused.
  const reason = typeof v.reason === 'string' && REASONS.has(v.reason) ? (v.reason as OfflineReason) : undefined;
  return { baseUrl: sanitizeText(v.baseUrl), monitor: v.monitor, ...(reason && { reason }), fields: v };
}

/** Validates a `GET list` answer. Entries may carry further fields; a valid `state` field overrides the list's. */
export function parseListAnswer(url: string, body: unknown): { online: ServerRow[]; offline?: ServerRow[] } {
  if (!isObject(body) || !Array.isArray(body.online)) throw junk(url, 'list', 'no "online" array');
  if (body.offline !== undefined && !Array.isArray(body.offline)) throw junk(url, 'list', '"offline" is not an array');
  const rows = (items: unknown[], state: ServerState): ServerRow[] =>
    items.map((item) => {
      const c = common(item);
      if (typeof c === 'string') throw junk(url, 'list', c);
      if (!isTime(c.fields.lastUpdate)) throw junk(url, 'list', `a server's lastUpdate is not a time in ms`);
      const own = c.fields.state;
      return {
        baseUrl: c.baseUrl,
        state: typeof own === 'string' && STATES.has(own) ? (own as ServerState) : state,
        ...(c.reason && { reason: c.reason }),
        monitor: c.monitor,
        version: c.fields.lastUpdate,
      };
    });
  const online = rows(body.online, 'online');
  return Array.isArray(body.offline) ? { online, offline: rows(body.offline, 'offline') } : { online };
}

/**
 * Validates a `GET info` answer (see ClusterInfo in src/engine/info.ts); further fields are ignored,
 * and a replicated state this CLI cannot read is left out.
 */
export function parseInfoAnswer(url: string, body: unknown): { now: number; servers: ServerRow[]; state?: StateSummary } {
  if (!isObject(body) || !Array.isArray(body.servers)) throw junk(url, 'info view', 'no "servers" array');
  if (!isTime(body.now)) throw junk(url, 'info view', '"now" is not a time in ms');
  const servers = body.servers.map((item): ServerRow => {
    const c = common(item);
    if (typeof c === 'string') throw junk(url, 'info view', c);
    const { state, version, lastContactAt, self } = c.fields;
    if (typeof state !== 'string' || !STATES.has(state)) throw junk(url, 'info view', `a server's state is not online, suspect or offline`);
    if (!isTime(version)) throw junk(url, 'info view', `a server's version is not a time in ms`);
    if (lastContactAt !== null && !isTime(lastContactAt)) throw junk(url, 'info view', `a server's lastContactAt is not a time in ms or null`);
    if (self !== undefined && typeof self !== 'boolean') throw junk(url, 'info view', `a server's self is not a boolean`);
    return {
      baseUrl: c.baseUrl,
      state: state as ServerState,
      ...(c.reason && { reason: c.reason }),
      monitor: c.monitor,
      version,
      lastContactAt,
      self: self === true,
    };
  });
  const state = parseStateSummary(body);
  return { now: body.now, servers, ...(state !== undefined && { state }) };
}

/** Sorts rows by base URL, in place, and returns them. */
export function byBaseUrl(rows: ServerRow[]): ServerRow[] {
  return rows.sort((a, b) => (a.baseUrl < b.baseUrl ? -1 : a.baseUrl > b.baseUrl ? 1 : 0));
}
