/**
 * HMAC-SHA256 signing of gossip requests and replies, and the bearer check
 * of the list and control endpoints.
 *
 * An HTTP handler only sees the Authorization header and the parsed JSON
 * body, so a request's signature travels in the header and a reply's in a
 * top-level `signature` field of the reply body. Both sign the canonical
 * JSON of the body (see canonical-json.ts), so neither key order nor
 * whitespace on the wire matters.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Random } from '../core/random.js';
import { UnauthorizedError } from '../errors.js';
import { canonicalJson, isPlainObject } from './canonical-json.js';
import { hmacSha256 } from './hmac.js';

/** Authorization scheme of signed gossip requests. */
export const SIGNATURE_SCHEME = 'SHAZBOT-HMAC-SHA256';

/** Body field carrying a reply's signature. */
export const REPLY_SIGNATURE_FIELD = 'signature';

/** Longest accepted signed header (and reply `signature` field). */
export const MAX_SIGNED_HEADER_LENGTH = 512;

/** Bytes of randomness in a nonce made by {@link makeNonce}. */
export const NONCE_BYTES = 16;

/** The parameters of a signed request header or reply signature. */
export interface SignedParams {
  /** Signing time, ms since the epoch. */
  readonly t: number;
  /** Nonce: 16–64 base64url characters. */
  readonly n: string;
  /** HMAC-SHA256, base64url without padding (43 characters). */
  readonly s: string;
}

// Regular expressions with `i` but without `u` fold ASCII letters only, so
// look-alikes such as U+017F (which upper-cases to `S`) do not match.
const SCHEME_RE = /^SHAZBOT-HMAC-SHA256 /i;
const BEARER_RE = /^bearer /i;
const BASIC_RE = /^basic /i;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
/** Longest Authorization header {@link checkControlAuthorization} looks at. */
const MAX_AUTHORIZATION_LENGTH = 4096;
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
const SIG_RE = /^[A-Za-z0-9_-]{43}$/;
// Decimal without leading zeros: one spelling per timestamp.
const TIME_RE = /^(0|[1-9][0-9]{0,15})$/;

/** Scratch space of {@link makeNonce} (used synchronously, so one is enough). */
const nonceBytes = Buffer.alloc(NONCE_BYTES);

/** A fresh nonce: base64url (no padding) of 16 random bytes, 22 characters. */
export function makeNonce(random: Random): string {
  if (random.fill !== undefined) {
    // Two nonces per exchange, millions in a large simulation: no byte array for each.
    random.fill(nonceBytes);
    return nonceBytes.toString('base64url');
  }
  const bytes = random.bytes(NONCE_BYTES);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Signs a gossip request and returns the Authorization header value
 * `SHAZBOT-HMAC-SHA256 t=<t>,n=<nonce>,s=<signature>`. The signature binds
 * the full target URL (`endpointUrl(receiverBase, 'gossip')`), so a request
 * captured on its way to one server cannot be replayed against another.
 * Throws RangeError if `t` or `nonce` could not be parsed back.
 */
export function signRequest(secret: string, targetUrl: string, body: unknown, t: number, nonce: string): string {
  return signRequestCanonical(secret, targetUrl, canonicalJson(body), t, nonce);
}

/**
 * {@link signRequest} for a body already canonicalised with
 * {@link canonicalJson}. Sending that same text as the request body lets the
 * receiver check the signature over the bytes it received, without
 * canonicalising the parsed body again.
 */
export function signRequestCanonical(secret: string, targetUrl: string, canonical: string, t: number, nonce: string): string {
  checkOwnParams(t, nonce);
  const s = hmacSha256(secret, requestStringToSign(targetUrl, t, nonce, canonical));
  return `${SIGNATURE_SCHEME} ${formatParams(t, nonce, s)}`;
}

/**
 * Parses a signed request header. Throws UnauthorizedError (code
 * UNAUTHORIZED) on anything malformed: wrong scheme (matched
 * case-insensitively, followed by exactly one space), longer than 512
 * characters, a missing, duplicate or unknown parameter, `t` not a safe
 * non-negative decimal integer, `n` not 16–64 base64url characters, `s` not
 * 43 base64url characters.
 */
export function parseSignedHeader(header: string): SignedParams {
  if (typeof header !== 'string' || header.length > MAX_SIGNED_HEADER_LENGTH) throw unauthorized();
  if (!SCHEME_RE.test(header)) throw unauthorized();
  const params = parseParams(header.slice(SIGNATURE_SCHEME.length + 1));
  if (params === undefined) throw unauthorized();
  return params;
}

/**
 * True if `parsed` is a valid signature of this request under any of
 * `secrets`. Throws MalformedError if `body` is not canonicalisable JSON
 * (for example nested too deeply): no peer could have signed it.
 */
export function verifyRequest(
  secrets: readonly string[],
  targetUrl: string,
  body: unknown,
  parsed: SignedParams,
): boolean {
  // Canonicalise once: the body may be large and there may be several keys.
  return verifyRequestCanonical(secrets, targetUrl, canonicalJson(body), parsed);
}

/** {@link verifyRequest} for a body already canonicalised with {@link canonicalJson}. */
export function verifyRequestCanonical(
  secrets: readonly string[],
  targetUrl: string,
  canonical: string,
  parsed: SignedParams,
): boolean {
  return matchesAny(secrets, requestStringToSign(targetUrl, parsed.t, parsed.n, canonical), parsed.s);
}

/**
 * Signs a reply: returns a new object, `body` plus a `signature` field
 * `t=<t>,n=<nonce>,s=<signature>` (any `signature` already in `body` is
 * replaced). The signature binds the responder's gossip URL and the
 * request's nonce, so a reply cannot be replayed to answer another request.
 * Throws RangeError if `t` or `nonce` could not be parsed back.
 */
export function signReply(
  secret: string,
  responderUrl: string,
  requestNonce: string,
  body: Record<string, unknown>,
  t: number,
  nonce: string,
): Record<string, unknown> {
  return signReplySized(secret, responderUrl, requestNonce, body, t, nonce).reply;
}

/**
 * {@link signReply}, also returning the reply as JSON text (its canonical
 * form with the `signature` field appended) and that text's size in bytes,
 * so that it need not be serialised again.
 */
export function signReplySized(
  secret: string,
  responderUrl: string,
  requestNonce: string,
  body: Record<string, unknown>,
  t: number,
  nonce: string,
): { reply: Record<string, unknown>; text: string; bytes: number } {
  checkOwnParams(t, nonce);
  const rest = withoutSignature(body);
  const canonical = canonicalJson(rest);
  const s = hmacSha256(secret, replyStringToSign(responderUrl, requestNonce, t, nonce, canonical));
  const field = formatParams(t, nonce, s);
  // `,"signature":"<field>"}` (the field is ASCII and needs no escaping), or no comma after `{`.
  const text = `${canonical.slice(0, -1)}${canonical === '{}' ? '' : ','}"${REPLY_SIGNATURE_FIELD}":"${field}"}`;
  return { reply: { ...rest, [REPLY_SIGNATURE_FIELD]: field }, text, bytes: Buffer.byteLength(text) };
}

/**
 * Checks a reply's signature under any of `secrets`. Returns the reply's
 * `t` and `n`, or undefined if the reply is not a plain object, has no
 * well-formed `signature` field, is not canonicalisable, or does not verify.
 * The caller checks `t` against its own clock. `raw`, if given, must be the
 * text `reply` was parsed from: the signature is then checked over it first
 * (as {@link signReplySized} writes it), and over the canonical form of
 * `reply` only if that fails.
 */
export function verifyReply(
  secrets: readonly string[],
  responderUrl: string,
  requestNonce: string,
  reply: unknown,
  raw?: string,
): { t: number; n: string } | undefined {
  if (!isPlainObject(reply) || !Object.hasOwn(reply, REPLY_SIGNATURE_FIELD)) return undefined;
  const sig = reply[REPLY_SIGNATURE_FIELD];
  if (typeof sig !== 'string' || sig.length > MAX_SIGNED_HEADER_LENGTH) return undefined;
  const parsed = parseParams(sig);
  if (parsed === undefined) return undefined;
  // The received text, when it is what signReplySized writes (the signed
  // canonical text with the signature field appended): strip the field and
  // check the signature over what remains, without canonicalising again.
  // Only a holder of the secret can sign that remainder, and it parses to
  // `reply` without its signature. Otherwise: the canonical form of `reply`.
  if (raw !== undefined) {
    const suffix = `"${REPLY_SIGNATURE_FIELD}":"${sig}"}`;
    if (raw.endsWith(suffix)) {
      const head = raw.slice(0, raw.length - suffix.length);
      const signed = head === '{' ? '{}' : head.endsWith(',') ? head.slice(0, -1) + '}' : undefined;
      if (signed !== undefined && matchesAny(secrets, replyStringToSign(responderUrl, requestNonce, parsed.t, parsed.n, signed), parsed.s)) {
        return { t: parsed.t, n: parsed.n };
      }
    }
  }
  let canonical: string;
  try {
    canonical = canonicalJson(withoutSignature(reply));
  } catch {
    return undefined;
  }
  const toSign = replyStringToSign(responderUrl, requestNonce, parsed.t, parsed.n, canonical);
  return matchesAny(secrets, toSign, parsed.s) ? { t: parsed.t, n: parsed.n } : undefined;
}

/**
 * True if `header` is `Bearer <secret>` (scheme case-insensitive, exactly
 * one space) for one of `secrets`. Compares SHA-256 digests with
 * timingSafeEqual against every configured secret, so the time taken
 * depends neither on the secrets' lengths nor on which one matched.
 */
export function checkBearer(header: string, secrets: readonly string[]): boolean {
  if (typeof header !== 'string' || !BEARER_RE.test(header)) return false;
  const presented = header.slice(7);
  const digest = sha256(presented);
  let ok = false;
  for (const secret of secrets) {
    // Evaluate the comparison first: every key is checked, whatever came before.
    const same = timingSafeEqual(digest, sha256(secret));
    ok = same || ok;
  }
  // An empty token never authenticates, even against a (misconfigured) empty secret.
  return ok && presented.length > 0;
}

/**
 * True if `header` carries one of the control `secrets`, either as
 * `Bearer <secret>` or as HTTP Basic credentials whose password is the
 * secret (any user name), so that a browser can open the dashboard. Same
 * constant-time comparison as {@link checkBearer}.
 */
export function checkControlAuthorization(header: string, secrets: readonly string[]): boolean {
  if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_LENGTH) return false;
  if (!BASIC_RE.test(header)) return checkBearer(header, secrets);
  const encoded = header.slice(6).trim();
  if (!BASE64_RE.test(encoded)) return false;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  return checkBearer(`Bearer ${decoded.slice(colon + 1)}`, secrets);
}

function requestStringToSign(targetUrl: string, t: number, n: string, canonical: string): string {
  return `clustershazbot-v1\nPOST\n${targetUrl}\n${t}\n${n}\n${canonical}`;
}

function replyStringToSign(responderUrl: string, requestNonce: string, t: number, n: string, canonical: string): string {
  return `clustershazbot-v1-reply\n${responderUrl}\n${requestNonce}\n${t}\n${n}\n${canonical}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Characters of a base64url HMAC-SHA256 without padding. */
const SIG_LENGTH = 43;
/** Scratch space of {@link matchesAny} (used synchronously): no buffer per comparison. */
const givenBytes = Buffer.alloc(SIG_LENGTH);
const expectedBytes = Buffer.alloc(SIG_LENGTH);

/**
 * Compares the expected base64url text with the presented one, so a
 * non-canonical encoding of the right bytes (the last of 43 characters
 * carries 2 unused bits) does not verify. `presented` was checked to be 43
 * ASCII characters, the length of every expected value, so both buffers
 * have equal lengths as timingSafeEqual requires.
 */
function matchesAny(secrets: readonly string[], toSign: string, presented: string): boolean {
  if (presented.length !== SIG_LENGTH) return false;
  givenBytes.write(presented, 0, 'latin1');
  let ok = false;
  for (const secret of secrets) {
    expectedBytes.write(hmacSha256(secret, toSign), 0, 'latin1');
    const same = timingSafeEqual(expectedBytes, givenBytes);
    ok = same || ok;
  }
  return ok;
}

function formatParams(t: number, n: string, s: string): string {
  return `t=${t},n=${n},s=${s}`;
}

/** Parses `t=..,n=..,s=..` in any order; undefined if malformed. */
function parseParams(text: string): SignedParams | undefined {
  let t: number | undefined;
  let n: string | undefined;
  let s: string | undefined;
  const parts = text.split(',');
  if (parts.length !== 3) return undefined;
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key === 't') {
      if (t !== undefined || !TIME_RE.test(value)) return undefined;
      t = Number(value);
      if (!Number.isSafeInteger(t)) return undefined;
    } else if (key === 'n') {
      if (n !== undefined || !NONCE_RE.test(value)) return undefined;
      n = value;
    } else if (key === 's') {
      if (s !== undefined || !SIG_RE.test(value)) return undefined;
      s = value;
    } else {
      return undefined;
    }
  }
  if (t === undefined || n === undefined || s === undefined) return undefined;
  return { t, n, s };
}

/** Our own t and nonce must survive parseParams, or the peer will reject them. */
function checkOwnParams(t: number, nonce: string): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError('t must be a safe non-negative integer');
  if (!NONCE_RE.test(nonce)) throw new RangeError('nonce must be 16-64 base64url characters');
}

function withoutSignature(body: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(body, REPLY_SIGNATURE_FIELD)) return body;
  // Copied key by key rather than spread and deleted: a deleted key turns the object into a slow dictionary.
  const rest: Record<string, unknown> = {};
  for (const k of Object.keys(body)) {
    if (k === REPLY_SIGNATURE_FIELD) continue;
    // An own `__proto__` key (JSON.parse makes them) must stay a plain property, not set the prototype.
    if (k === '__proto__') Object.defineProperty(rest, k, { value: body[k], enumerable: true, writable: true, configurable: true });
    else rest[k] = body[k];
  }
  return rest;
}

function unauthorized(): UnauthorizedError {
  return new UnauthorizedError('malformed signed authorization header');
}
