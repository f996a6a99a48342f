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
 * @param maxLength longest accepted input (and output). @default 1024
 */
export function normalizeBaseUrl(raw: string, maxLength = 1024): string {
  if (typeof raw !== 'string') throw new MalformedError('must be a string');
  if (raw.length === 0) throw new MalformedError('must not be empty');
  if (raw.length > maxLength) throw new MalformedError(`must be at most ${maxLength} characters`);
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
  const href = url.href;
  // Percent-encoding and punycode can lengthen the text; the stored key obeys the same bound.
  if (href.length > maxLength) throw new MalformedError(`must be at most ${maxLength} characters once normalised`);
  return href;
}

/** The URL of one of a server's endpoints; `base` must already be normalised (ends with `/`). */
export function endpointUrl(base: string, name: EndpointName): string {
  return `${base}clustershazbot/${name}`;
}
