import { jsonString } from '../protocol/canonical-json.js';
import { hash32, hash64 } from '../swim/hash.js';
import type { MemberEntry } from './entry.js';

/**
 * An order-independent digest of the membership table, maintained in O(1)
 * per change. Anti-entropy compares digests first and exchanges entries only
 * when they differ, instead of resending unchanged lists.
 *
 * digest = (Σ hash64(entryKey(e)) mod 2^64) and the entry count. Addition is
 * commutative, so the order entries were added in does not matter, and it is
 * invertible, so removing an entry (or replacing it: remove the old, add the
 * new) is O(1) too.
 *
 * The hash is fast and non-cryptographic (two seeded MurmurHash3 lanes, see
 * swim/hash.ts). That is deliberate: messages are authenticated, so whoever
 * could inject a crafted colliding table holds the secret and could as well
 * send false entries outright; a chance collision (≈ 2^-64 per comparison)
 * only delays a sync until one of the two tables changes again.
 */

/** JSON text of a field value; the common cases are written directly, with JSON.stringify's output. */
function encodeValue(v: unknown): string {
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** The fields MemberEntry has or is expected to gain (`by`, `downAt`), for the fast path. */
interface KnownFields {
  baseUrl?: unknown;
  by?: unknown;
  downAt?: unknown;
  lastUpdate?: unknown;
  monitor?: unknown;
  reason?: unknown;
  state?: unknown;
}

/**
 * A canonical string of every field of `e`: `"name":value` pairs (both
 * JSON-encoded) sorted by field name and joined by commas; fields whose value
 * is undefined are left out, so an absent optional field and an undefined one
 * read the same. Generic over the fields, so optional fields added to
 * MemberEntry later (and new states) are covered without changes here.
 * Field values are expected to be scalars.
 */
export function entryKey(e: MemberEntry): string {
  // Fast path, for entries whose own fields are all among the known ones
  // (every entry, in practice): written out in sorted field order, with no
  // name collection or sorting. Its output is what genericKey would produce.
  const { baseUrl, by, downAt, lastUpdate, monitor, reason, state } = e as KnownFields;
  if (baseUrl !== undefined) {
    let present = 1;
    let out = '"baseUrl":' + encodeValue(baseUrl);
    if (by !== undefined) { present++; out += ',"by":' + encodeValue(by); }
    if (downAt !== undefined) { present++; out += ',"downAt":' + encodeValue(downAt); }
    if (lastUpdate !== undefined) { present++; out += ',"lastUpdate":' + encodeValue(lastUpdate); }
    if (monitor !== undefined) { present++; out += ',"monitor":' + encodeValue(monitor); }
    if (reason !== undefined) { present++; out += ',"reason":' + encodeValue(reason); }
    if (state !== undefined) { present++; out += ',"state":' + encodeValue(state); }
    // Equal counts: no other field, and no known field present-but-undefined.
    if (Object.keys(e).length === present) return out;
  }
  return genericKey(e as unknown as Record<string, unknown>);
}

/** entryKey for entries with other fields, or known fields present but undefined: collect, sort, encode. */
function genericKey(fields: Record<string, unknown>): string {
  let out = '';
  for (const name of Object.keys(fields).sort()) {
    const value = fields[name];
    if (value === undefined) continue;
    if (out.length > 0) out += ',';
    out += JSON.stringify(name) + ':' + encodeValue(value);
  }
  return out;
}

const TWO_32 = 4294967296;

/**
 * Hash of each entry object already seen. Entries are immutable, and one
 * object often enters many tables (every server of a simulation shares its
 * snapshot's objects), so the key and hash are computed once per object.
 */
const hashCache = new WeakMap<MemberEntry, { hi: number; lo: number }>();

function entryHash(e: MemberEntry): { hi: number; lo: number } {
  let h = hashCache.get(e);
  if (h === undefined) {
    h = hash64(entryKey(e));
    hashCache.set(e, h);
  }
  return h;
}

/**
 * The running digest of a table. The 64-bit sum is kept as two 32-bit lanes
 * with carry between them, i.e. a true sum modulo 2^64 of the 64-bit hashes.
 * The caller keeps it in step with the table: add each entry when it enters,
 * remove exactly that entry (same field values) when it leaves or is replaced.
 * Each add or remove costs one entryKey and one hash64 (≈ 1-2 µs).
 */
export class TableDigest {
  #hi = 0;
  #lo = 0;
  #count = 0;
  /** {@link toString}'s result until the next change (every gossip reply carries it). */
  #text: string | undefined;

  /** A copy of this digest. */
  clone(): TableDigest {
    const d = new TableDigest();
    d.#hi = this.#hi;
    d.#lo = this.#lo;
    d.#count = this.#count;
    d.#text = this.#text;
    return d;
  }

  /** A digest of `entries`. */
  static of(entries: Iterable<MemberEntry>): TableDigest {
    const d = new TableDigest();
    for (const e of entries) d.add(e);
    return d;
  }

  /** Accounts for `e` entering the table. */
  add(e: MemberEntry): void {
    const { hi, lo } = entryHash(e);
    const sum = this.#lo + lo;
    const carry = sum >= TWO_32 ? 1 : 0;
    this.#lo = sum >>> 0;
    this.#hi = (this.#hi + hi + carry) >>> 0;
    this.#count += 1;
    this.#text = undefined;
  }

  /** Accounts for `e` leaving the table; `e` must have been added with these exact field values. */
  remove(e: MemberEntry): void {
    const { hi, lo } = entryHash(e);
    const diff = this.#lo - lo;
    const borrow = diff < 0 ? 1 : 0;
    this.#lo = diff >>> 0;
    this.#hi = (this.#hi - hi - borrow) >>> 0;
    this.#count -= 1;
    this.#text = undefined;
  }

  /** Number of entries accounted for. */
  get count(): number {
    return this.#count;
  }

  /** 16 lowercase hex digits of the 64-bit sum, ':', and the count, e.g. `"00ab…ef:12"`. */
  toString(): string {
    this.#text ??= this.#hi.toString(16).padStart(8, '0') + this.#lo.toString(16).padStart(8, '0') + ':' + this.#count;
    return this.#text;
  }
}

/** Number of buckets of a {@link BucketedDigest}. Part of the wire format. */
export const DIGEST_BUCKETS = 64;

/** The bucket of a server: MurmurHash3 x86_32 (seed 0) of its base URL, modulo {@link DIGEST_BUCKETS}. */
export function bucketOf(baseUrl: string): number {
  return hash32(baseUrl) % DIGEST_BUCKETS;
}

/**
 * A table digest split into {@link DIGEST_BUCKETS} buckets by server, plus
 * the whole. Two servers whose whole digests differ compare bucket digests
 * and then exchange only the entries of the buckets that differ, so one
 * changed entry in a table of 10,000 costs about 1/64 of the table, not all
 * of it.
 */
export class BucketedDigest {
  readonly whole: TableDigest;
  readonly #buckets: TableDigest[];

  constructor(whole = new TableDigest(), buckets?: TableDigest[]) {
    this.whole = whole;
    this.#buckets = buckets ?? Array.from({ length: DIGEST_BUCKETS }, () => new TableDigest());
  }

  /** A digest of `entries`. */
  static of(entries: Iterable<MemberEntry>): BucketedDigest {
    const d = new BucketedDigest();
    for (const e of entries) d.add(e);
    return d;
  }

  /** A copy. */
  clone(): BucketedDigest {
    return new BucketedDigest(this.whole.clone(), this.#buckets.map((b) => b.clone()));
  }

  /** Accounts for `e` entering the table. */
  add(e: MemberEntry): void {
    this.whole.add(e);
    this.#buckets[bucketOf(e.baseUrl)]!.add(e);
  }

  /** Accounts for `e` leaving the table. */
  remove(e: MemberEntry): void {
    this.whole.remove(e);
    this.#buckets[bucketOf(e.baseUrl)]!.remove(e);
  }

  /** The whole digest's text. */
  toString(): string {
    return this.whole.toString();
  }

  /** Every bucket's digest text, in bucket order. */
  buckets(): string[] {
    return this.#buckets.map((b) => b.toString());
  }

  /** Bucket numbers whose digest differs from `theirs` (same length and order as {@link buckets}). */
  differing(theirs: readonly string[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < DIGEST_BUCKETS; i++) if (this.#buckets[i]!.toString() !== theirs[i]) out.push(i);
    return out;
  }
}
