/**
 * The `ext` field of a gossip request or reply, as it crosses the wire (see
 * extension.ts and docs/protocol.md, "Extensions"): pure functions that
 * check what is about to be sent and what arrived. Nothing here calls an
 * extension.
 */
import { normalizeBaseUrl } from '../membership/url.js';
import { isPlainObject } from '../protocol/canonical-json.js';
import type { ExchangeKind } from './extension.js';

/** The kinds of exchange, as `ext.k` names them. */
export const EXCHANGE_KINDS: ReadonlySet<string> = new Set<ExchangeKind>(['probe', 'push', 'anti-entropy', 'leave', 'direct']);

/**
 * Deepest nesting of arrays and objects in one section, its own container
 * included. A body is signed over its canonical JSON, which refuses more
 * than 32 levels; a section sits 3 levels down (body, `ext`, `s`), so 24
 * leaves room and keeps whatever reads a section off deep recursion.
 */
export const MAX_SECTION_DEPTH = 24;
/** Most sections, and most digests, one `ext` field may carry. */
export const MAX_EXTENSIONS = 64;
/** Longest digest string accepted, in characters. */
export const MAX_DIGEST_LENGTH = 256;

/** A received `ext` field, checked. */
export interface Envelope {
  /** The sender's normalised base URL; undefined if it sent none or an invalid one. */
  readonly from: string | undefined;
  /** Why it was sent; an unknown kind reads as 'direct'. */
  readonly k: ExchangeKind;
  /** Sections by extension name (own properties of a plain object). */
  readonly s: Readonly<Record<string, unknown>>;
  /** Digests by extension name. */
  readonly d: Readonly<Record<string, string>>;
}

const NONE: Readonly<Record<string, never>> = Object.freeze({});

/**
 * Checks a received `ext` field. Returns undefined when it is malformed or
 * too large (not an object; `from` not a string; `s` or `d` not plain
 * objects, or with more than {@link MAX_EXTENSIONS} names; a digest that is
 * not a string of at most {@link MAX_DIGEST_LENGTH} characters; a section
 * of a name in `names` that is not JSON within {@link MAX_SECTION_DEPTH}):
 * the caller then ignores the field as a whole. Sections of names not in
 * `names` are not looked at: nobody reads them.
 */
export function parseEnvelope(raw: unknown, names: readonly string[], maxUrlLength: number): Envelope | undefined {
  if (!isPlainObject(raw)) return undefined;
  const rawFrom = own(raw, 'from');
  if (rawFrom !== undefined && typeof rawFrom !== 'string') return undefined;
  let from: string | undefined;
  if (rawFrom !== undefined) {
    try {
      from = normalizeBaseUrl(rawFrom, maxUrlLength);
    } catch {
      from = undefined; // an address nobody could reach: the sections still count, repairs do not
    }
  }
  const rawKind = own(raw, 'k');
  const k = typeof rawKind === 'string' && EXCHANGE_KINDS.has(rawKind) ? (rawKind as ExchangeKind) : 'direct';
  const s = own(raw, 's') ?? NONE;
  if (!isPlainObject(s) || Object.keys(s).length > MAX_EXTENSIONS) return undefined;
  for (const name of names) {
    const section = own(s, name);
    if (section !== undefined && !isJsonWithin(section, MAX_SECTION_DEPTH)) return undefined;
  }
  const d = own(raw, 'd') ?? NONE;
  if (!isPlainObject(d)) return undefined;
  const digests = Object.keys(d);
  if (digests.length > MAX_EXTENSIONS) return undefined;
  for (const name of digests) {
    const v = d[name];
    if (typeof v !== 'string' || v.length > MAX_DIGEST_LENGTH) return undefined;
  }
  return { from, k, s, d: d as Record<string, string> };
}

/** `obj[key]` if it is an own property (nothing inherited or polluted from a prototype), else undefined. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Whether `value` is JSON as canonical JSON writes it (strings, finite
 * numbers, booleans, null, arrays and plain objects; undefined only as an
 * object property or array element, as JSON.stringify allows) with at most
 * `maxDepth` levels of arrays and objects. Iterative, so any depth of input
 * costs no stack; stops at the first problem.
 */
export function isJsonWithin(value: unknown, maxDepth: number): boolean {
  // Two parallel stacks rather than one of pairs: a large section costs no allocation per value.
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(v)) return false;
        continue;
      case 'undefined':
        if (depth === 0) return false;
        continue;
      case 'object':
        break;
      default:
        return false;
    }
    if (v === null) continue;
    if (depth >= maxDepth) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        values.push(v[i]);
        depths.push(depth + 1);
      }
    } else if (isPlainObject(v)) {
      for (const key of Object.keys(v)) {
        values.push(v[key]);
        depths.push(depth + 1);
      }
    } else {
      return false;
    }
  }
  return true;
}
