import type { Transport } from '../core/transport.js';
import { TransportError } from '../core/transport.js';
import type { MemberEntry } from '../membership/entry.js';
import { parseServerList, toServerList, type MessageLimits } from '../protocol/validate.js';

/** A master list as read: its entries and the store's ETag, if it sent one. */
export interface MasterListSnapshot {
  readonly entries: MemberEntry[];
  readonly etag: string | undefined;
  /** False when the store answered 404: there is no list yet. */
  readonly exists: boolean;
}

/** Why a master-list read or write failed. */
export class MasterListError extends Error {
  override readonly name = 'MasterListError';
  constructor(
    readonly kind: 'unreachable' | 'status' | 'corrupt' | 'conflict',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Settings of master-list I/O. */
export interface MasterListIo {
  readonly transport: Transport;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly limits: MessageLimits;
}

/**
 * GETs and validates the master list. A 404 counts as an empty list (a store
 * nobody has written yet); any other failure throws a {@link MasterListError}.
 */
export async function fetchMasterList(io: MasterListIo, url: string, now: () => number): Promise<MasterListSnapshot> {
  let res;
  try {
    res = await io.transport.request({
      method: 'GET',
      url,
      headers: { accept: 'application/json' },
      timeoutMs: io.timeoutMs,
      maxResponseBytes: io.maxResponseBytes,
    });
  } catch (e) {
    throw new MasterListError('unreachable', e instanceof TransportError ? e.message : 'request failed', { cause: e });
  }
  if (res.status === 404) return { entries: [], etag: undefined, exists: false };
  if (res.status !== 200) throw new MasterListError('status', `answered HTTP ${res.status}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch (e) {
    throw new MasterListError('corrupt', 'is not valid JSON', { cause: e });
  }
  try {
    return { entries: parseServerList(parsed, now(), io.limits), etag: res.headers['etag'], exists: true };
  } catch (e) {
    throw new MasterListError('corrupt', `is not a valid server list (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
}

/**
 * PUTs a server list, conditional on what was read: with an ETag, `If-Match`;
 * after a 404 (no list yet), `If-None-Match: *`; after a list served without
 * an ETag, unconditionally (such a store cannot detect concurrent writers).
 * A 412 throws a MasterListError of kind `conflict`.
 */
export async function putMasterList(
  io: MasterListIo,
  url: string,
  auth: string | undefined,
  entries: Iterable<MemberEntry>,
  read: Pick<MasterListSnapshot, 'etag' | 'exists'>,
): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth !== undefined) headers['authorization'] = auth;
  if (read.etag !== undefined) headers['if-match'] = read.etag;
  else if (!read.exists) headers['if-none-match'] = '*';
  let res;
  try {
    res = await io.transport.request({
      method: 'PUT',
      url,
      headers,
      body: JSON.stringify(toServerList(entries)),
      timeoutMs: io.timeoutMs,
      maxResponseBytes: 64 * 1024,
    });
  } catch (e) {
    throw new MasterListError('unreachable', e instanceof TransportError ? e.message : 'request failed', { cause: e });
  }
  if (res.status === 412) throw new MasterListError('conflict', 'changed since it was read (HTTP 412)');
  if (res.status < 200 || res.status > 299) throw new MasterListError('status', `answered HTTP ${res.status}`);
}
