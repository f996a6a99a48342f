/**
 * The store's entity tags and the HTTP preconditions (RFC 9110 §13.1) that
 * let servers GET-merge-PUT without losing each other's updates.
 */
import { createHash } from 'node:crypto';

/** What GET answers before the first PUT: an empty list. */
export const EMPTY_LIST = Buffer.from('{"online":[],"offline":[]}', 'utf8');

/**
 * The strong ETag the store gives a list body:
 * `"` + base64url(sha256(bytes)).slice(0, 27) + `"` (162 bits).
 */
export function masterListEtag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

/** The file's current content, or `undefined` if it does not exist yet. */
export type Current = { readonly bytes: Buffer; readonly etag: string } | undefined;

/** Why a PUT's preconditions fail, or undefined if it may proceed (RFC 9110 §13.1). */
export function preconditionFailure(current: Current, ifMatch: string | undefined, ifNoneMatch: string | undefined): string | undefined {
  // A missing file is represented to readers by the empty list and its ETag,
  // so a first writer's If-Match with that ETag succeeds; `*` needs a real file.
  const etag = current?.etag ?? masterListEtag(EMPTY_LIST);
  if (ifMatch !== undefined && !tagListMatches(ifMatch, etag, current !== undefined, false)) {
    return current === undefined && isStar(ifMatch) ? 'If-Match: * but the list does not exist' : 'If-Match does not match the current ETag';
  }
  if (ifNoneMatch !== undefined && current !== undefined && tagListMatches(ifNoneMatch, current.etag, true, true)) {
    return 'If-None-Match matches the current list';
  }
  return undefined;
}

function isStar(header: string): boolean {
  return header.trim() === '*';
}

/**
 * Whether an `If-Match` / `If-None-Match` value matches `etag`. `*` matches
 * iff `exists`. Weak comparison ignores a `W/` prefix; strong comparison
 * never matches a weak tag.
 */
export function tagListMatches(header: string | undefined, etag: string, exists: boolean, weak: boolean): boolean {
  if (header === undefined) return false;
  if (isStar(header)) return exists;
  // Our tags never contain commas, so a plain split cannot hide a match.
  for (const raw of header.split(',')) {
    let tag = raw.trim();
    if (tag.startsWith('W/')) {
      if (!weak) continue;
      tag = tag.slice(2);
    }
    if (tag === etag) return true;
  }
  return false;
}
