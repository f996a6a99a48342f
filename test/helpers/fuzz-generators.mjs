/**
 * fast-check arbitraries for hostile requests: JSON bodies (random values,
 * gossip- and control-shaped objects with wrong types, prototype-pollution
 * keys, deep nesting, hostile numbers and URLs), raw non-JSON bytes,
 * Authorization headers (junk, near misses of the real secrets, forged
 * signatures, very long), other headers, paths and methods. Everything
 * produces a request spec `{ method, path, headers, body?: Buffer, chunks?: Buffer[] }`.
 */
import fc from 'fast-check';
import { PREFIX } from './fuzz-oracle.mjs';

/** Strings a validator has to think twice about. */
export const HOSTILE_STRINGS = [
  '', ' ', '\u0000', '\ud800', '\udfff', 'a\ud83db', '\u202e', '\ufeff', '\u2028', '__proto__', 'constructor', 'prototype',
  'gossip', 'control', 'http://', 'http://user:pass@127.0.0.1/', 'https://a:b@evil.example/', 'javascript:alert(1)',
  'file:///etc/passwd', 'data:text/html,<script>alert(1)</script>', 'ftp://x.example/', 'ws://x.example/',
  'http://127.0.0.1:1/', 'http://[::1]:99999/', 'http://0x7f.1/', 'http://%00/', 'http://a.example/?q=1',
  'http://a.example/#f', 'HTTP://EXAMPLE.COM:80/x', 'http://ex ample/', '//no-scheme/', 'http://\ud800/',
  'http://xn--/', 'http://[::ffff:127.0.0.1]/', 'https://\u0130.example/', `http://a.example/${'b'.repeat(1100)}`,
  'x'.repeat(5000), '<script>alert(1)</script>', '${jndi:ldap://x}', '../../../etc/passwd', '\r\nX-Injected: 1',
];

/** Numbers at and past every edge the protocol has. */
export const HOSTILE_NUMBERS = [
  0, -0, -1, 1.5, 0.1, 1e308, -1e308, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
  Number.MAX_VALUE, 4_102_444_800_000, 1e21, 1e300,
];

/** Number spellings that JSON.stringify never writes; most are not JSON at all (1e999 parses as Infinity). */
export const HOSTILE_NUMERALS = ['NaN', 'Infinity', '-Infinity', '1e999', '-1e999', '-0', '0x10', '01', '.5', '+1', '1.', '1e', '9'.repeat(400)];

const HEADER_CHAR = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  { weight: 1, arbitrary: fc.constant(0x09) },
).map((c) => String.fromCharCode(c));
/** Characters node:http lets a header value carry (tab, printable ASCII, Latin-1). */
const headerText = (maxLength = 60) => fc.string({ unit: HEADER_CHAR, maxLength });
/**
 * Characters of a request target. Only ASCII: node's parser refuses most
 * other bytes itself (rawRequests in fuzz-requests.mjs sends some), so non-ASCII goes
 * percent-encoded, as clients send it.
 */
const PATH_CHAR = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));

const hostileString = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: 'binary', maxLength: 30 }));
const hostileNumber = fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.integer(), fc.double(), fc.constant(Date.now() + 7_200_000));
const junk = fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileString, hostileNumber);
const urlish = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.webUrl().map((u) => u.replace('://', '://user:pw@')),
  fc.constantFrom(...HOSTILE_STRINGS),
  junk,
);

/** A server entry as the wire carries it, every field optional and possibly of the wrong type. */
const entryLike = fc.record({
  baseUrl: urlish,
  monitor: fc.oneof(fc.boolean(), junk),
  lastUpdate: fc.oneof(hostileNumber, junk),
  suspect: fc.oneof(fc.boolean(), junk),
  reason: fc.oneof(fc.constantFrom('left', 'admin', 'failed', 'bogus'), junk),
  by: urlish,
  downAt: fc.oneof(hostileNumber, junk),
}, { requiredKeys: [] });

const digestLike = fc.oneof(fc.stringMatching(/^[0-9a-f]{16}:\d{1,9}$/), junk);

/** An object shaped like a gossip message, every field optional and possibly of the wrong type. */
const gossipLike = fc.record({
  message: fc.oneof({ weight: 4, arbitrary: fc.constant('gossip') }, junk),
  online: fc.oneof({ weight: 4, arbitrary: fc.array(entryLike, { maxLength: 6 }) }, junk),
  offline: fc.oneof({ weight: 2, arbitrary: fc.array(entryLike, { maxLength: 3 }) }, junk),
  digest: digestLike,
  ping: fc.oneof(fc.boolean(), junk),
  probe: urlish,
  probeOk: fc.oneof(fc.boolean(), junk),
  full: fc.oneof(fc.boolean(), junk),
  want: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -2, max: 300 }), junk), { maxLength: 8 }), junk),
  buckets: fc.oneof(fc.array(digestLike, { maxLength: 300 }), junk),
}, { requiredKeys: [] });

/** An object shaped like a control message. */
const controlLike = fc.record({
  message: fc.oneof({ weight: 3, arbitrary: fc.constant('control') }, fc.constantFrom('Control', 'CONTROL', 'gossip', 'control '), junk),
  online: fc.oneof({ weight: 3, arbitrary: fc.boolean() }, fc.constantFrom('true', 'false', 0, 1, null, [true], { online: true }), junk),
  extra: junk,
}, { requiredKeys: [] });

/** JSON text templates with keys that pollute prototypes if copied carelessly. */
const POLLUTION = [
  '{"__proto__":{"polluted":true},"message":"gossip","online":[]}',
  '{"constructor":{"prototype":{"polluted":true}},"message":"control","online":true}',
  '{"message":"control","__proto__":{"online":false}}',
  '{"__proto__":{"message":"control","online":false}}',
  '{"message":"gossip","online":[{"__proto__":{"baseUrl":"http://evil.example/","monitor":true,"lastUpdate":1}}]}',
  '{"message":"gossip","online":[],"__proto__":{"ping":true,"full":true}}',
  '{"message":"gossip","online":[{"baseUrl":"http://evil.example/","monitor":false,"lastUpdate":1,"constructor":{"name":"x"}}],"offline":{"length":5}}',
  '{"toString":1,"valueOf":{},"hasOwnProperty":null,"message":"gossip","online":[]}',
];

/** Nesting far deeper than canonical JSON accepts (32), as text. */
const deepText = fc.tuple(fc.integer({ min: 30, max: 20_000 }), fc.boolean()).map(([depth, objects]) =>
  objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth));

/** Body text: mostly JSON of every shape, some of it not JSON at all. */
export const bodyText = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
  { weight: 5, arbitrary: gossipLike.map((v) => JSON.stringify(v)) },
  { weight: 4, arbitrary: controlLike.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom(...POLLUTION) },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NUMERALS).map((n) => `{"message":"gossip","online":[{"baseUrl":"http://a.example/","monitor":true,"lastUpdate":${n}}]}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', 'null', '[]', '""', '0', 'true', '{', '}', '{"', '\ufeff{}', '{}{}', '{"a":1,}') },
);

/** Body bytes: body text, sometimes with invalid UTF-8 spliced in. */
const bodyBytes = fc.oneof(
  { weight: 6, arbitrary: bodyText.map((t) => Buffer.from(t, 'utf8')) },
  { weight: 1, arbitrary: fc.tuple(bodyText, fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat()).map(([t, bytes, at]) => {
    const b = Buffer.from(t, 'utf8');
    const i = b.length === 0 ? 0 : at % b.length;
    return Buffer.concat([b.subarray(0, i), Buffer.from(bytes).map((x) => x | 0x80), b.subarray(i)]);
  }) },
);

/** Authorization values: absent, junk, near misses of the real secrets, forged signatures. */
function authorization(secrets) {
  const { control, gossip } = secrets;
  const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
  const nearMisses = [
    `Bearer ${control}`, `bearer ${control}`, `BEARER ${control}`, ` Bearer ${control}\t`, `Bearer  ${control}`, `Bearer\t${control}`,
    `Bearer ${control.slice(0, -1)}`, `Bearer ${control}x`, `Bearer ${control.toUpperCase()}`, control, `Bearer ${gossip}`,
    `Basic ${b64(`admin:${control}`)}`, `basic   ${b64(`:${control}`)}`, `Basic ${b64(control)}`, `Basic ${b64(`u:${control}x`)}`,
    `Basic ${b64(`u:${control}`).replace(/=+$/, '')}`, `Basic ${b64(`u:${control}`)}===`, 'Basic !!!', `Bearer ${control},Bearer x`,
    `Bearer ${control}\u00a0`, `Digest username="x", response="${control}"`, `SHAZBOT-HMAC-SHA256 ${control}`,
  ];
  const b64url = (n) => fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n}}$`));
  const forged = fc.tuple(
    fc.oneof(fc.constant(Date.now()), fc.integer({ min: 0, max: 2 ** 53 }), fc.constantFrom('01', '-1', '1.5', '', '1e3', '9'.repeat(20))),
    fc.oneof(b64url(22), b64url(16), b64url(65), headerText(30)),
    fc.oneof(b64url(43), b64url(42), b64url(44), headerText(50)),
    fc.constantFrom('SHAZBOT-HMAC-SHA256 ', 'shazbot-hmac-sha256 ', 'SHAZBOT-HMAC-SHA256  ', 'SHAZBOT-HMAC-SHA1 ', 'HMAC '),
  ).map(([t, n, s, scheme]) => `${scheme}t=${t},n=${n},s=${s}`);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: headerText() },
    { weight: 2, arbitrary: headerText().map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: headerText().map((s) => `Basic ${b64(s)}`) },
    { weight: 4, arbitrary: fc.constantFrom(...nearMisses) },
    { weight: 3, arbitrary: forged },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Bearer ', 'Basic ', 'SHAZBOT-HMAC-SHA256 t='), fc.integer({ min: 500, max: 10_000 }))
      .map(([scheme, n]) => scheme + 'A'.repeat(n)) },
  );
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '*/*', '',
];

/** Headers other than Authorization (content-type, forwarding, cookies, encodings, junk names). */
const otherHeaders = fc.record({
  'content-type': fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText(40)),
  'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
  'x-forwarded-for': fc.oneof(fc.ipV4(), headerText(30)),
  'x-forwarded-proto': fc.constantFrom('https', 'http', 'javascript'),
  cookie: headerText(80),
  accept: fc.constantFrom('*/*', 'text/html', 'application/json'),
  'user-agent': headerText(40),
  host: fc.oneof(fc.domain(), headerText(20).filter((h) => h.trim() !== '')),
  junk: fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), headerText(100)),
}, { requiredKeys: [] }).map(({ junk: j, ...rest }) => (j === undefined ? rest : { ...rest, [j[0]]: j[1] }));

/** A query string: nothing usually, else junk (the routes ignore it). */
const query = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ unit: PATH_CHAR, maxLength: 40 }).map((q) => `?${q}`) },
  { weight: 1, arbitrary: fc.constantFrom('?', '??', '?route=list', '?__proto__[x]=1', '?%00', '?%ED%A0%80') },
);

/** A sub-path near `name`: mostly exactly it, sometimes a spelling that must not match. */
function subpathNear(name) {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(name) },
    { weight: 1, arbitrary: fc.constantFrom(`${name}/`, name.toUpperCase(), `/${name}`, `${name}%00`, `%${name.charCodeAt(0).toString(16)}${name.slice(1)}`,
      `${name};x`, `${name}.json`, `${name}/..`, `../${name}`, `${name}%C3%A9`, name.slice(0, -1), `${name}${name}`) },
  );
}

/** Any sub-path: random segments, traversal, encodings, very long. */
const randomSubpath = fc.oneof(
  fc.array(fc.string({ unit: PATH_CHAR, maxLength: 20 }), { minLength: 1, maxLength: 5 }).map((s) => s.join('/')),
  fc.constantFrom('', '/', '..', '../..', '%2e%2e/%2e%2e', 'gossip/../list', '%ED%A0%80', '%C0%AE', '%FF', 'clustershazbot/', '*'),
  fc.integer({ min: 100, max: 6000 }).map((n) => 'a'.repeat(n)),
);

/** Methods node:http can send (it upper-cases them): the usual ones, WebDAV ones, and tokens the server's parser refuses (HTTP 400). */
export const anyMethod = fc.constantFrom(
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK',
  'UNLOCK', 'SEARCH', 'PURGE', 'REPORT', 'MERGE', 'NOTIFY', 'SUBSCRIBE', 'LINK', 'UNLINK', 'QUERY', 'FOO', 'G_T', 'GETS',
);

/** How a body travels: with a content-length (usually) or chunked in random pieces. */
export function deliver(body, pieces) {
  if (pieces.length === 0 || body.length < 2) return { body };
  const cuts = [...new Set(pieces.map((p) => p % body.length))].sort((a, b) => a - b);
  const chunks = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    if (cut > from) chunks.push(body.subarray(from, cut));
    from = cut;
  }
  return { chunks };
}

/**
 * A generated request for a route (`name`), or for a random path and method
 * (`name` undefined). GET routes get a body now and then.
 */
export function generatedRequest(name, secrets, method) {
  const sub = name === undefined ? randomSubpath : subpathNear(name);
  const m = name === undefined ? anyMethod : fc.oneof({ weight: 12, arbitrary: fc.constant(method) }, { weight: 1, arbitrary: anyMethod });
  const body = method === 'POST' || name === undefined ? bodyBytes : fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, bodyBytes);
  return fc.record({
    method: m, sub, query, auth: authorization(secrets), headers: otherHeaders, body,
    pieces: fc.oneof({ weight: 5, arbitrary: fc.constant([]) }, fc.array(fc.nat(), { minLength: 1, maxLength: 6 })),
  }).map(({ method: verb, sub: s, query: q, auth, headers, body: b, pieces }) => {
    const h = { ...headers };
    if (auth !== undefined) h.authorization = auth;
    const req = { method: verb, path: `${PREFIX}${s}${q}`, headers: h };
    return b === undefined ? req : { ...req, ...deliver(b, pieces) };
  });
}
