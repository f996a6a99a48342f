/**
 * Session tokens: read-your-writes across replicas. A token names the writes
 * a client has made (map, key, version); a replica has caught up with it once
 * it holds, for each of those keys, that version or a newer one (a newer
 * write, or a delete that had seen it). Tokens are opaque to clients:
 * base64url of a small JSON array, at most {@link MAX_TOKEN_ENTRIES} writes
 * (the most recent) and {@link MAX_TOKEN_CHARS} characters.
 */
import { MalformedError } from '../errors.js';
import { compareVersions, encodeVersion, parseVersion } from './version.js';
import type { Version } from './types.js';

/** One write a session must see. */
export interface SessionWrite {
  readonly map: string;
  readonly key: string;
  readonly version: Version;
}

export const MAX_TOKEN_ENTRIES = 16;
export const MAX_TOKEN_CHARS = 4096;

/** The token for `writes` (the last ones kept when there are too many). */
export function encodeToken(writes: readonly SessionWrite[]): string {
  let kept = writes.slice(-MAX_TOKEN_ENTRIES);
  for (;;) {
    const text = Buffer.from(JSON.stringify(kept.map((w) => [w.map, w.key, encodeVersion(w.version)]))).toString('base64url');
    if (text.length <= MAX_TOKEN_CHARS || kept.length <= 1) return text;
    kept = kept.slice(1);
  }
}

/** Parses a token; throws MalformedError (400) on anything a client could have altered. */
export function decodeToken(token: string): SessionWrite[] {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new MalformedError('session token: malformed');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new MalformedError('session token: malformed');
  }
  if (!Array.isArray(raw) || raw.length > MAX_TOKEN_ENTRIES) throw new MalformedError('session token: malformed');
  return raw.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string' || typeof item[1] !== 'string' || typeof item[2] !== 'string') {
      throw new MalformedError('session token: malformed');
    }
    return { map: item[0], key: item[1], version: parseVersion(item[2]) };
  });
}

/**
 * Merges the writes of several tokens (say, the one a request came with and
 * the writes it made): the newest version per key, the most recent last.
 */
export function mergeSessions(...lists: readonly (readonly SessionWrite[])[]): SessionWrite[] {
  const byKey = new Map<string, SessionWrite>();
  for (const list of lists) {
    for (const w of list) {
      const id = JSON.stringify([w.map, w.key]);
      const had = byKey.get(id);
      if (had !== undefined && compareVersions(had.version, w.version) >= 0) continue;
      byKey.delete(id);
      byKey.set(id, w);
    }
  }
  return [...byKey.values()];
}
