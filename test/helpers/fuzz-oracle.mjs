/**
 * What the server must answer to a fuzzed request, worked out from the
 * documented behaviour (docs/protocol.md, src/adapters/routes.ts) rather
 * than by asking the server (the signature is recomputed here from the
 * protocol's string to sign). `expectReply` returns one of
 *   { status: 200 }                    valid by construction (public list, health, a no-op control, ...);
 *                                      `signedReply`: a gossip reply, which carries a signature
 *   { status: 4xx, code?, header? }    exactly this error
 *   { status: '4xx' }                  some 4xx (the exact one depends on details the model leaves out)
 *   { status: 400, parser: true }      refused by node's HTTP parser (a method it does not know), no JSON body
 *   { unsafe: true }                   a valid request that would legitimately change the table: never send it
 */

import { createHmac } from 'node:crypto';
import { METHODS } from 'node:http';

/** Where the routes live on the target. */
export const PREFIX = '/clustershazbot/';
/** The adapters' default body limit (DEFAULT_MAX_BODY_BYTES): 4 MiB. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The engine's defaults: entries per message, and the signature window in ms. */
export const MAX_ENTRIES = 20_000;
const SIGNATURE_WINDOW_MS = 300_000;

const ROUTES = { gossip: 'POST', list: 'GET', control: 'POST', health: 'GET', info: 'GET', dashboard: 'GET' };
const MAX_AUTHORIZATION_LENGTH = 4096;

/** A header value as the server sees it: HTTP strips leading and trailing spaces and tabs. */
function received(value) {
  return value === undefined ? '' : String(value).replace(/^[ \t]+|[ \t]+$/g, '');
}

/** `Bearer <control secret>`, the scheme in any ASCII case, one space. */
function isBearer(auth, secret) {
  return auth.slice(0, 7).toLowerCase() === 'bearer ' && auth.slice(7) === secret;
}

/** Bearer, or HTTP Basic whose password is the control secret (info and dashboard). */
function isControlAuth(auth, secret) {
  if (auth.length > MAX_AUTHORIZATION_LENGTH) return false;
  if (auth.slice(0, 6).toLowerCase() !== 'basic ') return isBearer(auth, secret);
  const encoded = auth.slice(6).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && decoded.slice(colon + 1) === secret;
}

/** The body as the node adapter reads it: { tooLarge } | { malformed } | { value }. */
function parseBody(req) {
  const bytes = bodyBytes(req);
  if (bytes.length > MAX_BODY_BYTES) return { tooLarge: true };
  const text = bytes.toString('utf8');
  if (text.trim() === '') return { value: {} };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { malformed: true };
  }
}

/** Every byte of a request's body. */
function bodyBytes(req) {
  if (req.chunks !== undefined) return Buffer.concat(req.chunks);
  return req.body ?? Buffer.alloc(0);
}

function own(obj, key) {
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * The expected reply. `ctx`: { secrets, gossipUrl, burned (Set of nonces the
 * server has accepted once), parseSignedHeader, canonicalJson, signRequest }.
 * `req.intent` ('harmless' | 'garbage') says what a gossip request with a
 * fresh, correctly signed nonce was built to be.
 */
export function expectReply(req, ctx) {
  if (!METHODS.includes(req.method)) return { status: 400, parser: true };
  const path = req.path.split('?')[0];
  if (!path.startsWith(PREFIX)) throw new Error(`generator bug: path outside the routes: ${req.path}`);
  const route = path.slice(PREFIX.length);
  if (!Object.hasOwn(ROUTES, route)) return { status: 404, code: 'NOT_FOUND' };
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (method !== ROUTES[route]) return { status: 405, code: 'METHOD_NOT_ALLOWED', header: ['allow', ROUTES[route]] };
  const auth = received(req.headers['authorization']);
  switch (route) {
    case 'health':
      return { status: 200 };
    case 'list':
      return auth === '' || isBearer(auth, ctx.secrets.control) ? { status: 200 } : { status: 401, code: 'UNAUTHORIZED' };
    case 'info':
      return isControlAuth(auth, ctx.secrets.control) ? { status: 200 } : { status: 401, code: 'UNAUTHORIZED' };
    case 'dashboard':
      return isControlAuth(auth, ctx.secrets.control)
        ? { status: 200 }
        : { status: 401, code: 'UNAUTHORIZED', header: ['www-authenticate', 'Basic realm="clustershazbot", charset="UTF-8"'] };
    default:
      break;
  }
  const body = parseBody(req);
  if (body.tooLarge) return { status: 413, code: 'TOO_LARGE' };
  if (body.malformed) return { status: 400, code: 'MALFORMED' };
  return route === 'control' ? expectControl(auth, body.value, ctx) : expectGossip(req, auth, body.value, ctx);
}

function expectControl(auth, value, ctx) {
  if (!isBearer(auth, ctx.secrets.control)) return { status: 401, code: 'UNAUTHORIZED' };
  if (own(value, 'message') !== 'control' || typeof own(value, 'online') !== 'boolean') return { status: 400, code: 'MALFORMED' };
  // online: true is what the server already is (a no-op); online: false would take it offline.
  return own(value, 'online') ? { status: 200 } : { unsafe: true };
}

function expectGossip(req, auth, value, ctx) {
  if (auth === '') return { status: 401, code: 'UNAUTHORIZED' };
  let params;
  try {
    params = ctx.parseSignedHeader(auth);
  } catch {
    return { status: 401, code: 'UNAUTHORIZED' };
  }
  if (Math.abs(Date.now() - params.t) > SIGNATURE_WINDOW_MS - 30_000) {
    // Near the window's edge the server's clock decides; far beyond it, stale.
    return Math.abs(Date.now() - params.t) > SIGNATURE_WINDOW_MS + 30_000 ? { status: 401, code: 'UNAUTHORIZED' } : { status: '4xx' };
  }
  let canonical;
  try {
    canonical = ctx.canonicalJson(value);
  } catch {
    return { status: 400, code: 'MALFORMED' };
  }
  const toSign = ['clustershazbot-v1', 'POST', ctx.gossipUrl, String(params.t), params.n, canonical].join('\n');
  if (createHmac('sha256', ctx.secrets.gossip).update(toSign).digest('base64url') !== params.s) return { status: 401, code: 'UNAUTHORIZED' };
  if (ctx.burned.has(params.n)) return { status: 401, code: 'REPLAYED' };
  if (req.intent === 'harmless') return { status: 200, fresh: params.n, signedReply: true };
  if (req.intent !== 'garbage') return { unsafe: true };
  const online = own(value, 'message') === 'gossip' ? own(value, 'online') : undefined;
  const offline = own(value, 'offline');
  const tooMany = Array.isArray(online) && (offline === undefined || Array.isArray(offline))
    && online.length + (offline?.length ?? 0) > MAX_ENTRIES;
  return tooMany ? { status: 413, code: 'TOO_LARGE', fresh: params.n } : { status: 400, code: 'MALFORMED', fresh: params.n };
}
