/**
 * Mutation of real messages: genuinely signed gossip requests and a valid
 * control request are taken apart byte by byte, field by field and
 * parameter by parameter. Every function takes a seeded `rng` (see
 * {@link prng}) so a run can be repeated from its seed.
 */
import { HOSTILE_NUMERALS, HOSTILE_NUMBERS, HOSTILE_STRINGS } from './fuzz-generators.mjs';

/** mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An integer in [0, n). */
export const int = (rng, n) => Math.floor(rng() * n);
/** One element of `list`. */
export const pick = (rng, list) => list[int(rng, list.length)];

/** Tokens spliced into JSON text: structure, escapes, hostile literals. */
const TOKENS = [
  '"__proto__":{"polluted":true},', '"constructor":{"prototype":{"x":1}},', ',', ':', '{', '}', '[', ']', '"', '\\', '\\u0000',
  '\\ud800', '\\uDFFF', 'null', 'true', 'false', ' ', '\t', '\n', '\u2028', '\u00e9', '\ufeff', '/*x*/', "'", ...HOSTILE_NUMERALS,
];
/** Header characters node:http can send. */
const HEADER_CHARS = ' \t!"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~\u00a0\u00e9\u00ff=';

function span(rng, length) {
  const from = int(rng, length + 1);
  return [from, Math.min(length, from + 1 + int(rng, 16))];
}

/** Byte- and token-level edits of JSON text. */
const TEXT_OPS = [
  (rng, b) => { const c = Buffer.from(b); if (c.length > 0) c[int(rng, c.length)] ^= 1 << int(rng, 8); return c; },
  (rng, b) => { const c = Buffer.from(b); if (c.length > 0) c[int(rng, c.length)] = pick(rng, [0x00, 0xff, 0xc0, 0x80, 0xed, 0x22, 0x5c, 0x7f]); return c; },
  (rng, b) => { const [from, to] = span(rng, b.length); return Buffer.concat([b.subarray(0, from), b.subarray(to)]); },
  (rng, b) => { const [from, to] = span(rng, b.length); return Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]); },
  (rng, b) => { const at = int(rng, b.length + 1); return Buffer.concat([b.subarray(0, at), Buffer.from(pick(rng, TOKENS)), b.subarray(at)]); },
  (rng, b) => b.subarray(0, int(rng, b.length)),
  (rng, b) => replaceMatch(rng, b, /-?\d+(\.\d+)?([eE][+-]?\d+)?/g, () => pick(rng, [...HOSTILE_NUMERALS, ...HOSTILE_NUMBERS.map((n) => JSON.stringify(n))])),
  (rng, b) => replaceMatch(rng, b, /"(?:[^"\\]|\\.)*"/g, () => JSON.stringify(pick(rng, HOSTILE_STRINGS))),
  (rng, b) => replaceMatch(rng, b, /true|false/g, () => pick(rng, ['true', 'false', 'null', '0', '"true"', '[]'])),
];

function replaceMatch(rng, bytes, re, replacement) {
  const text = bytes.toString('utf8');
  const matches = [...text.matchAll(re)];
  if (matches.length === 0) return bytes;
  const m = pick(rng, matches);
  return Buffer.from(text.slice(0, m.index) + replacement() + text.slice(m.index + m[0].length), 'utf8');
}

/** Every (container, key) inside a JSON value, up to a depth. */
function slots(value, out = [], depth = 0) {
  if (value === null || typeof value !== 'object' || depth > 6) return out;
  for (const key of Object.keys(value)) {
    out.push([value, key]);
    slots(value[key], out, depth + 1);
  }
  return out;
}

const hostileValue = (rng) => pick(rng, [
  () => pick(rng, HOSTILE_STRINGS), () => pick(rng, HOSTILE_NUMBERS), () => null, () => [], () => ({}), () => true,
  () => ({ __proto__: null, polluted: true }), () => [pick(rng, HOSTILE_STRINGS)],
])();

/** Edits of the parsed value; each returns new JSON text. */
const VALUE_OPS = [
  (rng, v) => { const s = pick(rng, slots(v)); if (s) delete s[0][s[1]]; return v; },
  (rng, v) => { const s = pick(rng, slots(v)); if (s) s[0][s[1]] = hostileValue(rng); return v; },
  (rng, v) => { const s = pick(rng, slots(v)); if (s && Array.isArray(s[0][s[1]])) s[0][s[1]].push(...s[0][s[1]]); return v; },
  (rng, v) => { const s = pick(rng, slots(v)); if (s && Array.isArray(s[0][s[1]])) s[0][s[1]].reverse(); return v; },
  (rng, v) => { const s = pick(rng, slots(v)); if (s && typeof s[0][s[1]] === 'number') s[0][s[1]] += pick(rng, [1, -1, 3_600_001, -0.5]); return v; },
  (rng, v) => (int(rng, 2) === 0 ? [v] : { message: v?.message, payload: v }),
  (rng, v) => { let w = v; for (let i = 0; i < 33 + int(rng, 40); i++) w = { message: 'gossip', online: [w] }; return w; },
  (rng, v) => (v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse()) : v),
  (rng, v) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...v, [pick(rng, ['extra', 'full', 'ping', 'probe', 'want'])]: hostileValue(rng) } : v),
];

/** Text edits that add duplicate keys (the last one wins in JSON.parse) or reformat. */
const DUPLICATE_OPS = [
  (rng, t) => (t.startsWith('{') && t.length > 2 ? `{"message":${JSON.stringify(pick(rng, ['gossip', 'control', 'x']))},${t.slice(1)}` : t),
  (rng, t) => (t.endsWith('}') && t.length > 2 ? `${t.slice(0, -1)},"online":${pick(rng, ['true', 'false', '[]', 'null'])}}` : t),
  (rng, t) => (t.endsWith('}') && t.length > 2 ? `${t.slice(0, -1)},"message":"control"}` : t),
  (_rng, t) => JSON.stringify(JSON.parse(t), null, 2),
];

/** One to three random edits of a JSON body. */
export function mutateBody(rng, bytes) {
  let b = bytes;
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const kind = int(rng, 10);
    if (kind < 5) {
      b = pick(rng, TEXT_OPS)(rng, b);
      continue;
    }
    let value;
    try {
      value = JSON.parse(b.toString('utf8'));
    } catch {
      b = pick(rng, TEXT_OPS)(rng, b);
      continue;
    }
    const text = kind < 8 ? JSON.stringify(pick(rng, VALUE_OPS)(rng, value)) ?? 'null' : pick(rng, DUPLICATE_OPS)(rng, JSON.stringify(value));
    b = Buffer.from(text, 'utf8');
  }
  return b;
}

/** Case changes of ASCII letters only: upper-casing Latin-1 (ÿ → Ÿ) would leave what a header can carry. */
const upper = (s) => s.replace(/[a-z]/g, (c) => c.toUpperCase());
const lower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Character-level edits of any header value (only characters node:http can send). */
const HEADER_OPS = [
  (rng, h) => { const i = int(rng, h.length + 1); return h.slice(0, i) + pick(rng, HEADER_CHARS) + h.slice(i); },
  (rng, h) => { const i = int(rng, h.length); return h.slice(0, i) + h.slice(i + 1); },
  (rng, h) => { const i = int(rng, h.length); return h.slice(0, i) + pick(rng, HEADER_CHARS) + h.slice(i + 1); },
  (rng, h) => h.slice(0, int(rng, h.length)),
  (rng, h) => { const i = int(rng, h.length); const c = h[i] ?? ''; return h.slice(0, i) + (c === upper(c) ? lower(c) : upper(c)) + h.slice(i + 1); },
  (rng, h) => pick(rng, [`${h} `, ` ${h}`, `\t${h}\t`, `${h}, ${h}`, `${h}${h}`, h.replace(' ', '  '), h.replace(' ', '\t'), lower(h), upper(h)]),
];

/** Edits of the `t=..,n=..,s=..` parameters of a signed header. */
const PARAM_OPS = [
  (rng, p) => ({ ...p, t: pick(rng, [String(Number(p.t) + 1), String(Number(p.t) - 1), '0', `0${p.t}`, `-${p.t}`, `${p.t}.0`, String(Number(p.t) + 600_000), '9'.repeat(17), '']) }),
  (rng, p) => ({ ...p, n: pick(rng, [p.n.slice(1), `${p.n}A`, p.n.replace(/./, 'Z'), p.n.replace(/./, '+'), p.n.repeat(3).slice(0, 65), '', 'AAAAAAAAAAAAAAAAAAAAAA']) }),
  (rng, p) => ({ ...p, s: pick(rng, [unusedBitFlipped(p.s), p.s.slice(1), `${p.s}A`, `${p.s}=`, p.s.replace(/-/g, '+').replace(/_/g, '/'), p.s.split('').reverse().join('')]) }),
];

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The 43rd base64url character of a signature carries two unused bits: flipping one spells the same bytes differently. */
function unusedBitFlipped(s) {
  const i = BASE64URL.indexOf(s.slice(-1));
  return i < 0 ? s : s.slice(0, -1) + BASE64URL[i ^ 1];
}

/** A signed header with its parameters edited, reordered, duplicated or dropped, or edited as text. */
export function mutateSignedHeader(rng, header) {
  const m = /^(\S+) t=([^,]*),n=([^,]*),s=(.*)$/.exec(header);
  if (m === null || int(rng, 4) === 0) return pick(rng, HEADER_OPS)(rng, header);
  let p = { t: m[2], n: m[3], s: m[4] };
  const scheme = int(rng, 5) === 0 ? pick(rng, ['shazbot-hmac-sha256', 'SHAZBOT-HMAC-SHA256 ', 'Bearer', 'SHAZBOT-HMAC-SHA1', 'Basic']) : m[1];
  for (let n = 1 + int(rng, 2); n > 0; n--) p = pick(rng, PARAM_OPS)(rng, p);
  const parts = [`t=${p.t}`, `n=${p.n}`, `s=${p.s}`];
  const layout = int(rng, 6);
  if (layout === 0) parts.reverse();
  if (layout === 1) parts.push(pick(rng, parts));
  if (layout === 2) parts.splice(int(rng, 3), 1);
  if (layout === 3) parts.push(pick(rng, ['x=1', 'v=2', 't', '']));
  if (layout === 4) return `${scheme} ${parts.join(', ')}`;
  return `${scheme} ${parts.join(',')}`;
}

/** A control Authorization header with its text edited. */
export function mutateHeader(rng, header) {
  let h = header;
  for (let n = 1 + int(rng, 2); n > 0; n--) h = pick(rng, HEADER_OPS)(rng, h);
  return h;
}
