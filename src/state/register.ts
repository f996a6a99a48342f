/**
 * The state of one map key: a join-semilattice of writes and deletes
 * (last-writer-wins values, add-wins observed-remove deletes). Pure: no
 * clock, no I/O; versions come from the caller.
 *
 * ## The rules
 * - A write's *threshold* is its `base` for an update (the version it read)
 *   and its own version for a set.
 * - `del` is the highest version any delete of the key had observed (the
 *   newest write it saw); a write is *killed* iff `del >= threshold`. So a
 *   delete removes what it saw; a set it did not see survives (add-wins); an
 *   update that started from a version the delete had seen is removed, even
 *   if the update is newer than the delete.
 * - A write W is *dominated* by W' if `W'.v > W.v` and
 *   `threshold(W') >= threshold(W)`: whatever kills W' kills W, and W' is
 *   newer, so W can never become visible again.
 * - The state keeps the *frontier*: the writes neither killed nor dominated,
 *   sorted by version; the visible value is the newest of them. Along the
 *   frontier, thresholds strictly decrease as versions increase.
 *
 * ## Why not "a delete newer than the update's base wins, else LWW"
 * That pairwise rule is not associative. Take a set S@5, a delete D@3 and an
 * update U@7 with base 2: S beats D (newer), D beats U (newer than its base),
 * U beats S (newer): a cycle, so `(S ⊔ D) ⊔ U = U` but `S ⊔ (D ⊔ U) = S`, and
 * replicas that merged in different orders would never agree. Here the
 * outcome is a function of the set of writes and the maximum `del`, so any
 * grouping and order of merges gives the same state (see register.test.ts).
 *
 * Merging the frontiers is a join because "dominated" is a strict partial
 * order under which "killed" is downward closed: the maximal elements of a
 * union are the maximal elements of the union of maximal elements, and a
 * larger `del` only kills more.
 */
import type { JsonValue, Version } from './types.js';
import { compareVersions, maxVersion, versionEquals } from './version.js';

/** One write of a key: a set (no `base`) or an update of the version `base`. */
export interface Write<V = JsonValue> {
  readonly v: Version;
  /** The version an update read; absent for a set or create. */
  readonly base?: Version;
  readonly value: V;
  /** UTF-8 length of `JSON.stringify(value)`, for accounting; not part of equality. */
  readonly bytes: number;
}

/** The replicated state of one key; also what a delta is. */
export interface KeyState<V = JsonValue> {
  /** The frontier: neither killed nor dominated, sorted by `v` ascending. */
  readonly writes: readonly Write<V>[];
  /** The highest version observed by any delete of this key. */
  readonly del?: Version;
  /** The highest version of the delete operations themselves (tombstone age, session tokens). */
  readonly delAt?: Version;
}

/** The state of a key nothing was written to. Frozen. */
export const EMPTY_KEY: KeyState<never> = Object.freeze({ writes: Object.freeze([]) as readonly never[] });

/** The version a delete must have observed to kill `w`: `base` for an update, `v` for a set. */
export function threshold(w: Write<unknown>): Version {
  return w.base ?? w.v;
}

/** True if a delete that observed `del` removes `w`. */
export function isKilled(w: Write<unknown>, del: Version | undefined): boolean {
  return del !== undefined && compareVersions(del, threshold(w)) >= 0;
}

/**
 * Of two writes with the same version (only a buggy or forged peer makes
 * two different ones), the one every replica keeps: the higher threshold
 * (the harder to kill), then the higher `JSON.stringify(value)`, then a set
 * over an update. Returns `a` when they are equal, so existing objects are
 * kept.
 */
function preferred<V>(a: Write<V>, b: Write<V>): Write<V> {
  if (a === b) return a;
  const th = compareVersions(threshold(a), threshold(b));
  if (th !== 0) return th > 0 ? a : b;
  const ja = JSON.stringify(a.value);
  const jb = JSON.stringify(b.value);
  if (ja !== jb) return ja > jb ? a : b;
  if ((a.base === undefined) !== (b.base === undefined)) return a.base === undefined ? a : b;
  return a;
}

/**
 * The frontier of `writes` under `del`: sorted by version, one write per
 * version, without killed or dominated writes. Where writes are equal, the
 * first in `writes` is kept. Does not modify `writes`.
 */
export function normalise<V>(writes: readonly Write<V>[], del?: Version): Write<V>[] {
  if (writes.length === 0) return [];
  if (writes.length === 1) {
    const w = writes[0]!;
    return isKilled(w, del) ? [] : [w];
  }
  // Stable sort: among equal versions, earlier writes come first.
  const sorted = writes.slice().sort((x, y) => compareVersions(x.v, y.v));
  const kept: Write<V>[] = [];
  // The highest threshold among kept writes, all newer than the current one.
  let maxTh: Version | undefined;
  let i = sorted.length - 1;
  while (i >= 0) {
    let w = sorted[i]!;
    // Collapse the run of writes with this version, from its first element.
    let j = i - 1;
    while (j >= 0 && compareVersions(sorted[j]!.v, w.v) === 0) j--;
    if (j < i - 1) {
      w = sorted[j + 1]!;
      for (let k = j + 2; k <= i; k++) w = preferred(w, sorted[k]!);
    }
    i = j;
    const th = threshold(w);
    // A killed write could only dominate killed ones, so skipping it changes nothing.
    if (del !== undefined && compareVersions(del, th) >= 0) continue;
    if (maxTh !== undefined && compareVersions(maxTh, th) >= 0) continue;
    kept.push(w);
    maxTh = th;
  }
  return kept.reverse();
}

/** Builds a state, leaving out undefined fields (so equal states also have equal shapes). */
function makeState<V>(writes: readonly Write<V>[], del: Version | undefined, delAt: Version | undefined): KeyState<V> {
  if (del === undefined && delAt === undefined) return { writes };
  if (delAt === undefined) return { writes, del: del! };
  if (del === undefined) return { writes, delAt };
  return { writes, del, delAt };
}

/** True if the arrays hold the same write objects in the same order. */
function sameWrites<V>(x: readonly Write<V>[], y: readonly Write<V>[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The join of two key states: `del` and `delAt` the maxima, the writes the
 * frontier of both. Commutative, associative, idempotent (up to
 * {@link keyStateEquals}). Returns `a` itself when the result equals `a`
 * (so callers detect "no change" by identity), else `b` itself when it
 * equals `b`, else a new state.
 */
export function mergeKey<V>(a: KeyState<V>, b: KeyState<V>): KeyState<V> {
  if (a === b) return a;
  const del = maxVersion(a.del, b.del);
  const delAt = maxVersion(a.delAt, b.delAt);
  const all = b.writes.length === 0 ? a.writes : a.writes.length === 0 ? b.writes : a.writes.concat(b.writes);
  const writes = normalise(all, del);
  if (versionEquals(del, a.del) && versionEquals(delAt, a.delAt) && sameWrites(writes, a.writes)) return a;
  if (versionEquals(del, b.del) && versionEquals(delAt, b.delAt) && sameWrites(writes, b.writes)) return b;
  return makeState(writes, del, delAt);
}

/** The visible write (the newest of the frontier), or undefined if the key is absent. */
export function visible<V>(s: KeyState<V>): Write<V> | undefined {
  return s.writes[s.writes.length - 1];
}

/** True for a deleted key that is remembered: no write, a `del`. */
export function isTombstone(s: KeyState<unknown>): boolean {
  return s.writes.length === 0 && s.del !== undefined;
}

/** The delta of a set (or create) with version `v`. */
export function setDelta<V>(v: Version, value: V, bytes: number): KeyState<V> {
  return { writes: [{ v, value, bytes }] };
}

/** The delta of an update with version `v` of the value it read at version `base`. */
export function updateDelta<V>(v: Version, base: Version, value: V, bytes: number): KeyState<V> {
  return { writes: [{ v, base, value, bytes }] };
}

/**
 * The delta of a delete with version `v` made on a replica whose state is
 * `current`: it observes the newest write there. Undefined if the key is
 * absent there (deleting it changes nothing).
 */
export function deleteDelta<V>(current: KeyState<V>, v: Version): KeyState<V> | undefined {
  if (visible(current) === undefined) return undefined;
  let seen: Version | undefined;
  for (const w of current.writes) seen = maxVersion(seen, w.v);
  return { writes: [], del: seen!, delAt: v };
}

/** Deep equality of JSON values (object key order ignored). */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!jsonEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Equality of key states: versions, bases, values, `del` and `delAt` (not `bytes`). */
export function keyStateEquals(a: KeyState<unknown>, b: KeyState<unknown>): boolean {
  if (a === b) return true;
  if (!versionEquals(a.del, b.del) || !versionEquals(a.delAt, b.delAt)) return false;
  if (a.writes.length !== b.writes.length) return false;
  for (let i = 0; i < a.writes.length; i++) {
    const x = a.writes[i]!;
    const y = b.writes[i]!;
    if (!versionEquals(x.v, y.v) || !versionEquals(x.base, y.base) || !jsonEquals(x.value, y.value)) return false;
  }
  return true;
}

/** Bytes of the values a state holds (Σ `bytes` of its writes). */
export function storedBytes(s: KeyState<unknown>): number {
  let n = 0;
  for (const w of s.writes) n += w.bytes;
  return n;
}
