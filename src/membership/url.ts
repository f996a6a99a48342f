/**
 * Base URLs are the keys of the membership table, so two spellings of the
 * same server must normalise to one string: `HTTP://Example.COM:80/api` and
 * `http://example.com/api/` are the same member.
 */
import { MalformedError } from '../errors.js';

/** The endpoints every server exposes under its base URL. */
export type EndpointName = 'gossip' | 'list' | 'control';

/**
 * Normalises a server's base URL: http(s) only, no credentials, query or
 * fragment, lower-case scheme and host, default port dropped, path ending
 * in `/`. Throws MalformedError for anything else.
 *
 * The same few base URLs arrive in every gossip message, so results are
 * remembered (see {@link CACHED_URLS}); the length limits are checked on
 * every call, and the rest of the result depends on `raw` alone.
 * @param maxLength longest accepted input (and output). @default 1024
 */
export function normalizeBaseUrl(raw: string, maxLength = 1024): string {
  if (typeof raw !== 'string') throw new MalformedError('must be a string');
  if (raw.length === 0) throw new MalformedError('must not be empty');
  if (raw.length > maxLength) throw new MalformedError(`must be at most ${maxLength} characters`);
  let href = normalized.get(raw);
  if (href === undefined) {
    href = parseBaseUrl(raw);
    remember(raw, href);
  }
  // Percent-encoding and punycode can lengthen the text; the stored key obeys the same bound.
  if (href.length > maxLength) throw new MalformedError(`must be at most ${maxLength} characters once normalised`);
  return href;
}

/** Most base URLs {@link normalizeBaseUrl} remembers: a table of this many servers normalises without parsing. */
export const CACHED_URLS = 16_384;
/** Longest input (and output) remembered, in characters: the cache holds at most about 8 MB, typically 1–2 MB. */
const CACHED_URL_LENGTH = 128;
/** Input → normalised form, oldest first; only inputs that normalised without error. */
const normalized = new Map<string, string>();

function remember(raw: string, href: string): void {
  if (raw.length > CACHED_URL_LENGTH || href.length > CACHED_URL_LENGTH) return;
  if (normalized.size >= CACHED_URLS) normalized.delete(normalized.keys().next().value!);
  normalized.set(raw, href);
}

/** {@link normalizeBaseUrl} without the length limits and the cache. */
function parseBaseUrl(raw: string): string {
  // A literal `?` or `#` always starts a query or fragment in an http(s)
  // URL, and URL drops a bare trailing one silently, so check the raw text.
  if (raw.includes('?') || raw.includes('#')) throw new MalformedError('must not have a query or fragment');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MalformedError('must be an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MalformedError('must be an http: or https: URL');
  if (url.username !== '' || url.password !== '') throw new MalformedError('must not contain credentials');
  if (url.hostname === '') throw new MalformedError('must have a host');
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return url.href;
}

/** The URL of one of a server's endpoints; `base` must already be normalised (ends with `/`). */
export function endpointUrl(base: string, name: EndpointName): string {
  return `${base}clustershazbot/${name}`;
}
