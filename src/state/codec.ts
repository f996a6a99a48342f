/**
 * Wire and storage encoding of the replicated state: plain JSON, compact,
 * and strictly validated on the way in (what arrives is untrusted).
 *
 * ## Key states
 * A batch is `{ t, r, k }`:
 * - `t`: a base time; every time in the batch is written as an offset from
 *   it (the smallest time of the batch), so times take a few digits instead
 *   of 16. Omitted when 0.
 * - `r`: the replica dictionary; versions name their replica by index.
 *   Every entry is used at least once.
 * - `k`: one item per key, `[key, writes]` or, with a delete,
 *   `[key, writes, delT, delR, delAtT, delAtR]`; a write is `[t, r, value]`
 *   (a set) or `[t, r, value, baseT, baseR]` (an update). `del` and `delAt`
 *   come together (every delete sets both).
 *
 * `{"t":1733389606000000,"r":["http://a:3000#k3x9"],"k":[["user:1",[[0,0,{"n":1}]]]]}`
 *
 * One key alone (the durable store's record) is `{ t, r, s }` with `s` an
 * item without its key. A counter is `[[replica, p, n], ...]`.
 *
 * Decoding throws {@link TooLargeError} past a count or size limit and
 * {@link MalformedError} for anything else wrong, with the path of the
 * offending field; it never trusts a type, an index or a number, and
 * unknown top-level fields are ignored (room for later versions).
 */
import { MalformedError, TooLargeError } from '../errors.js';
import type { CounterEntry, CounterState } from './counter-state.js';
import { type KeyState, normalise, type Write } from './register.js';
import type { JsonValue, Version } from './types.js';
import { utf8Length } from './utf8.js';
import { isReplicaName, isVersionTime, MAX_REPLICA_LENGTH } from './version.js';

/** A write on the wire: `[t, r, value]` or `[t, r, value, baseT, baseR]`. */
export type WireWrite = [number, number, JsonValue] | [number, number, JsonValue, number, number];

/** A key's state without its key: `[writes]` or `[writes, delT, delR, delAtT, delAtR]`. */
export type WireBody = [WireWrite[]] | [WireWrite[], number, number, number, number];

/** A batch of key states; see the module comment. */
export interface WireKeys {
  t?: number;
  r: string[];
  k: Array<[string, ...WireBody]>;
}

/** One key's state, for storage. */
export interface WireKeyState {
  t?: number;
  r: string[];
  s: WireBody;
}

/** A counter on the wire: `[replica, p, n]` per replica. */
export type WireCounter = Array<[string, number, number]>;

/** Limits of {@link decodeKeyStates}. */
export interface KeyLimits {
  /** Keys in one batch at most (TooLargeError past it). */
  maxItems: number;
  /** UTF-8 bytes of a key at most (MalformedError past it). */
  maxKeyBytes: number;
  /** UTF-8 bytes of a value's JSON at most (TooLargeError past it). */
  maxValueBytes: number;
  /**
   * Writes of one key at most (MalformedError past it). A replica's own
   * writes dominate one another, so a frontier holds at most one write per
   * concurrent writer. @default 256
   */
  maxWritesPerKey?: number;
}

/** Deepest nesting of arrays and objects accepted in a value. */
export const MAX_VALUE_DEPTH = 64;

const DEFAULT_MAX_WRITES_PER_KEY = 256;

/** Lone UTF-16 surrogates: a key holding one has no UTF-8 form. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Builds the replica dictionary and base time of a batch while encoding. */
class Dictionary {
  readonly replicas: string[] = [];
  readonly #index = new Map<string, number>();
  constructor(readonly base: number) {}

  /** Appends `[t − base, index]` of `v` to `out`. */
  put(v: Version, out: unknown[]): void {
    let i = this.#index.get(v.replica);
    if (i === undefined) {
      i = this.replicas.length;
      this.replicas.push(v.replica);
      this.#index.set(v.replica, i);
    }
    out.push(v.t - this.base, i);
  }
}

/** The smallest time of `states`' versions (0 if none). */
function baseTime(states: readonly KeyState[]): number {
  let min = Infinity;
  for (const s of states) {
    for (const w of s.writes) {
      if (w.v.t < min) min = w.v.t;
      if (w.base !== undefined && w.base.t < min) min = w.base.t;
    }
    if (s.del !== undefined && s.del.t < min) min = s.del.t;
    if (s.delAt !== undefined && s.delAt.t < min) min = s.delAt.t;
  }
  return min === Infinity ? 0 : min;
}

function encodeBody(s: KeyState, dict: Dictionary, out: unknown[]): void {
  const writes: unknown[] = [];
  for (const w of s.writes) {
    const ww: unknown[] = [];
    dict.put(w.v, ww);
    ww.push(w.value);
    if (w.base !== undefined) dict.put(w.base, ww);
    writes.push(ww);
  }
  out.push(writes);
  if (s.del !== undefined || s.delAt !== undefined) {
    if (s.del === undefined || s.delAt === undefined) throw new Error('codec: a key state has del without delAt or the reverse');
    dict.put(s.del, out);
    dict.put(s.delAt, out);
  }
}

/** Encodes key states for the wire or storage (throws a plain Error for a state with only one of del/delAt). */
export function encodeKeyStates(items: Iterable<readonly [string, KeyState]>): WireKeys {
  const list = Array.from(items);
  const dict = new Dictionary(baseTime(list.map((x) => x[1])));
  const k: unknown[] = [];
  for (const [key, s] of list) {
    const item: unknown[] = [key];
    encodeBody(s, dict, item);
    k.push(item);
  }
  const out = { r: dict.replicas, k } as WireKeys;
  return dict.base === 0 ? out : { t: dict.base, ...out };
}

/** Encodes one key's state (without its key) for storage. */
export function encodeKeyState(s: KeyState): WireKeyState {
  const dict = new Dictionary(baseTime([s]));
  const body: unknown[] = [];
  encodeBody(s, dict, body);
  const out = { r: dict.replicas, s: body } as WireKeyState;
  return dict.base === 0 ? out : { t: dict.base, ...out };
}

/** A MalformedError naming `path`. */
function bad(path: string, what: string): MalformedError {
  return new MalformedError(`state: ${path}: ${what}`);
}

/** True for a JSON value of at most `depth` nested containers: plain objects, arrays, finite numbers, strings, booleans, null. */
function isJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (depth === 0) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isJson(v[i], depth - 1)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key of Object.keys(v)) if (!isJson((v as Record<string, unknown>)[key], depth - 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** Decoding context of one batch or record: its base time and dictionary, with use marks. */
class Reader {
  readonly #base: number;
  readonly #replicas: readonly string[];
  readonly #used: Uint8Array;

  constructor(wire: Record<string, unknown>) {
    const t = wire['t'] ?? 0;
    if (!isVersionTime(t)) throw bad('t', 'not a non-negative safe integer');
    this.#base = t;
    const r = wire['r'];
    if (!Array.isArray(r)) throw bad('r', 'not an array');
    for (let i = 0; i < r.length; i++) {
      if (!isReplicaName(r[i])) throw bad(`r[${i}]`, `not a replica name (1 to ${MAX_REPLICA_LENGTH} characters)`);
    }
    this.#replicas = r as string[];
    this.#used = new Uint8Array(r.length);
  }

  /** The version at `a[i]`, `a[i + 1]`. */
  version(a: unknown[], i: number, path: string): Version {
    const dt = a[i];
    if (!isVersionTime(dt)) throw bad(`${path}[${i}]`, 'time offset is not a non-negative safe integer');
    const t = this.#base + dt;
    if (!Number.isSafeInteger(t)) throw bad(`${path}[${i}]`, 'time past Number.MAX_SAFE_INTEGER');
    const ri = a[i + 1];
    if (typeof ri !== 'number' || !Number.isInteger(ri) || ri < 0 || ri >= this.#replicas.length) {
      throw bad(`${path}[${i + 1}]`, 'replica index out of range');
    }
    this.#used[ri] = 1;
    return { t, replica: this.#replicas[ri]! };
  }

  /** Throws unless every dictionary entry was used. */
  allUsed(): void {
    const i = this.#used.indexOf(0);
    if (i >= 0) throw bad(`r[${i}]`, 'unused replica');
  }
}

/** Reads a key's body (`item` from index `from`: writes, then the delete if any). */
function readBody(item: unknown[], from: number, rd: Reader, limits: KeyLimits, path: string): KeyState {
  const n = item.length - from;
  if (n !== 1 && n !== 5) throw bad(path, `expected ${from + 1} or ${from + 5} elements`);
  const ws = item[from];
  const wpath = `${path}[${from}]`;
  if (!Array.isArray(ws)) throw bad(wpath, 'writes: not an array');
  if (ws.length > (limits.maxWritesPerKey ?? DEFAULT_MAX_WRITES_PER_KEY)) throw bad(wpath, 'too many writes');
  const writes: Write[] = [];
  for (let j = 0; j < ws.length; j++) {
    const w: unknown = ws[j];
    const p = `${wpath}[${j}]`;
    if (!Array.isArray(w) || (w.length !== 3 && w.length !== 5)) throw bad(p, 'write: expected [t, r, value] or [t, r, value, baseT, baseR]');
    const v = rd.version(w, 0, p);
    const value: unknown = w[2];
    if (!isJson(value, MAX_VALUE_DEPTH)) throw bad(`${p}[2]`, `value: not JSON (or nested deeper than ${MAX_VALUE_DEPTH})`);
    const bytes = utf8Length(JSON.stringify(value));
    if (bytes > limits.maxValueBytes) throw new TooLargeError(`state: ${p}[2]: value of ${bytes} bytes, limit ${limits.maxValueBytes}`);
    writes.push(w.length === 5 ? { v, base: rd.version(w, 3, p), value: value as JsonValue, bytes } : { v, value: value as JsonValue, bytes });
  }
  if (n === 1) return { writes: normalise(writes) };
  const del = rd.version(item, from + 1, path);
  const delAt = rd.version(item, from + 3, path);
  return { writes: normalise(writes, del), del, delAt };
}

/** True for a plain object (what JSON.parse makes). */
function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Decodes and validates a batch of {@link encodeKeyStates}. Each state
 * comes out normalised, each write with its `bytes`. Throws TooLargeError
 * past `maxItems` keys or a value past `maxValueBytes`, MalformedError for
 * anything else (a wrong type, index, number, a key past `maxKeyBytes` or
 * with a lone surrogate, a key twice).
 */
export function decodeKeyStates(wire: unknown, limits: KeyLimits): Array<[string, KeyState]> {
  if (!isRecord(wire)) throw bad('(batch)', 'not an object');
  const k = wire['k'];
  if (!Array.isArray(k)) throw bad('k', 'not an array');
  if (k.length > limits.maxItems) throw new TooLargeError(`state: ${k.length} keys in one batch, limit ${limits.maxItems}`);
  const rd = new Reader(wire);
  const seen = new Set<string>();
  const out: Array<[string, KeyState]> = [];
  for (let i = 0; i < k.length; i++) {
    const item: unknown = k[i];
    const path = `k[${i}]`;
    if (!Array.isArray(item)) throw bad(path, 'not an array');
    const key: unknown = item[0];
    if (typeof key !== 'string') throw bad(`${path}[0]`, 'key: not a string');
    if (utf8Length(key) > limits.maxKeyBytes) throw bad(`${path}[0]`, `key longer than ${limits.maxKeyBytes} bytes`);
    if (LONE_SURROGATE.test(key)) throw bad(`${path}[0]`, 'key holds a lone surrogate');
    if (seen.has(key)) throw bad(`${path}[0]`, 'key repeated');
    seen.add(key);
    out.push([key, readBody(item, 1, rd, limits, path)]);
  }
  rd.allUsed();
  return out;
}

/** Decodes and validates one key's state from {@link encodeKeyState}; errors as {@link decodeKeyStates}. */
export function decodeKeyState(wire: unknown, limits: Omit<KeyLimits, 'maxItems' | 'maxKeyBytes'>): KeyState {
  if (!isRecord(wire)) throw bad('(state)', 'not an object');
  const s = wire['s'];
  if (!Array.isArray(s)) throw bad('s', 'not an array');
  const rd = new Reader(wire);
  const state = readBody(s, 0, rd, { maxItems: 1, maxKeyBytes: 0, ...limits }, 's');
  rd.allUsed();
  return state;
}

/** Encodes a counter's state. */
export function encodeCounter(s: CounterState): WireCounter {
  const out: WireCounter = [];
  for (const [replica, e] of s) out.push([replica, e.p, e.n]);
  return out;
}

/**
 * Decodes and validates {@link encodeCounter}'s output: TooLargeError past
 * `maxReplicas` entries, MalformedError for anything else (a wrong type, a
 * total that is not a non-negative safe integer, a replica twice).
 */
export function decodeCounter(wire: unknown, limits: { maxReplicas: number }): CounterState {
  if (!Array.isArray(wire)) throw bad('(counter)', 'not an array');
  if (wire.length > limits.maxReplicas) throw new TooLargeError(`state: counter of ${wire.length} replicas, limit ${limits.maxReplicas}`);
  const out = new Map<string, CounterEntry>();
  for (let i = 0; i < wire.length; i++) {
    const e: unknown = wire[i];
    const path = `[${i}]`;
    if (!Array.isArray(e) || e.length !== 3) throw bad(path, 'expected [replica, p, n]');
    const [replica, p, n] = e as unknown[];
    if (!isReplicaName(replica)) throw bad(`${path}[0]`, `not a replica name (1 to ${MAX_REPLICA_LENGTH} characters)`);
    if (!isVersionTime(p)) throw bad(`${path}[1]`, 'not a non-negative safe integer');
    if (!isVersionTime(n)) throw bad(`${path}[2]`, 'not a non-negative safe integer');
    if (out.has(replica)) throw bad(`${path}[0]`, 'replica repeated');
    out.set(replica, { p, n });
  }
  return out;
}
