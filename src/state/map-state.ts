/**
 * The state of a replicated map: key → {@link KeyState}, with its counts,
 * byte accounting and {@link MapDigest} kept in step on every change. Pure:
 * the replication layer decides what to apply and when tombstones go.
 */
import { type Hash64, hashKeyState, leafOf, MapDigest } from './map-digest.js';
import { EMPTY_KEY, type KeyState, mergeKey, storedBytes } from './register.js';
import type { JsonValue } from './types.js';
import { utf8Length } from './utf8.js';

/** Options of a {@link MapState}. */
export interface MapStateOptions<V> {
  /**
   * Whether a state's delete info counts in the digest, asked of states
   * with `del` or `delAt`: true keeps a tombstone in the digest and hashes
   * a live key's `del`/`delAt`; false leaves a tombstone out of the digest
   * and hashes a live key without them. Typically "the delete is young"
   * (see tombstones.ts); when its answer changes for a key, call
   * {@link MapState.refreshDigest}.
   * @default () => true
   */
  young?: (state: KeyState<V>) => boolean;
}

/** What {@link MapState.apply} changed. */
export interface Applied<V> {
  /** The key's state before; undefined if the map did not hold the key. */
  readonly before: KeyState<V> | undefined;
  readonly after: KeyState<V>;
}

interface Slot<V> {
  state: KeyState<V>;
  /** The hash this key contributes to the digest now; undefined if none. */
  hash: Hash64 | undefined;
  readonly leaf: number;
  readonly keyBytes: number;
}

/** A replicated map's state. */
export class MapState<V = JsonValue> {
  /** The digest of every key, kept in step with the map. */
  readonly digest = new MapDigest();
  readonly #slots = new Map<string, Slot<V>>();
  /** The keys of each leaf, for repairs; created on first use. */
  readonly #leaves = new Map<number, Set<string>>();
  readonly #young: (state: KeyState<V>) => boolean;
  #live = 0;
  #tombstones = 0;
  #bytes = 0;

  constructor(options: MapStateOptions<V> = {}) {
    this.#young = options.young ?? (() => true);
  }

  /** The state of `key`, or undefined if the map holds none (never written, or collected). */
  get(key: string): KeyState<V> | undefined {
    return this.#slots.get(key)?.state;
  }

  /**
   * Merges `delta` into the state of `key`. Returns the states before and
   * after, or undefined if nothing changed (the merge returned the state
   * held, by identity).
   */
  apply(key: string, delta: KeyState<V>): Applied<V> | undefined {
    const slot = this.#slots.get(key);
    const before = slot?.state;
    const after = mergeKey(before ?? EMPTY_KEY, delta);
    if (after === (before ?? EMPTY_KEY)) return undefined;
    if (slot === undefined) {
      const s: Slot<V> = { state: after, hash: undefined, leaf: leafOf(key), keyBytes: utf8Length(key) };
      this.#slots.set(key, s);
      let keys = this.#leaves.get(s.leaf);
      if (keys === undefined) this.#leaves.set(s.leaf, (keys = new Set()));
      keys.add(key);
      this.#bytes += s.keyBytes;
      this.#count(after, 1);
      this.#setHash(s, this.#hashOf(key, after));
    } else {
      this.#count(slot.state, -1);
      slot.state = after;
      this.#count(after, 1);
      this.#setHash(slot, this.#hashOf(key, after));
    }
    return { before, after };
  }

  /** Drops `key` entirely (tombstone collection). Returns the state it held, or undefined. */
  remove(key: string): KeyState<V> | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#setHash(slot, undefined);
    this.#count(slot.state, -1);
    this.#bytes -= slot.keyBytes;
    this.#slots.delete(key);
    const keys = this.#leaves.get(slot.leaf)!;
    keys.delete(key);
    if (keys.size === 0) this.#leaves.delete(slot.leaf);
    return slot.state;
  }

  /**
   * Recomputes the digest contribution of `key`, after the `young`
   * predicate's answer for it changed. Returns true if the digest changed.
   */
  refreshDigest(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    const h = this.#hashOf(key, slot.state);
    const old = slot.hash;
    if (h === old || (h !== undefined && old !== undefined && h.hi === old.hi && h.lo === old.lo)) return false;
    this.#setHash(slot, h);
    return true;
  }

  /** True if `key`'s state counts in the digest now. */
  inDigest(key: string): boolean {
    return this.#slots.get(key)?.hash !== undefined;
  }

  /** Keys held, tombstones included. */
  get size(): number {
    return this.#slots.size;
  }

  /** Keys with a visible value. */
  get liveCount(): number {
    return this.#live;
  }

  /** Keys held as tombstones (deleted, not yet collected). */
  get tombstoneCount(): number {
    return this.#tombstones;
  }

  /** Σ UTF-8 bytes of every key held plus the value bytes of its state ({@link storedBytes}). */
  get storedBytes(): number {
    return this.#bytes;
  }

  /** Every [key, state] held, tombstones included, in insertion order of the keys. */
  *entries(): IterableIterator<[string, KeyState<V>]> {
    for (const [key, slot] of this.#slots) yield [key, slot.state];
  }

  /** The [key, state] pairs of one digest leaf (see {@link leafOf}), tombstones included. */
  leafEntries(leaf: number): Array<[string, KeyState<V>]> {
    const out: Array<[string, KeyState<V>]> = [];
    const keys = this.#leaves.get(leaf);
    if (keys === undefined) return out;
    for (const key of keys) out.push([key, this.#slots.get(key)!.state]);
    return out;
  }

  /** What `state` contributes to the digest: see {@link MapStateOptions.young}. */
  #hashOf(key: string, state: KeyState<V>): Hash64 | undefined {
    const hasDelete = state.del !== undefined || state.delAt !== undefined;
    if (state.writes.length === 0) return hasDelete && this.#young(state) ? hashKeyState(key, state, true) : undefined;
    return hashKeyState(key, state, hasDelete && this.#young(state));
  }

  #setHash(slot: Slot<V>, h: Hash64 | undefined): void {
    if (slot.hash !== undefined) this.digest.removeHash(slot.leaf, slot.hash);
    if (h !== undefined) this.digest.addHash(slot.leaf, h);
    slot.hash = h;
  }

  /** Adds (`sign` 1) or subtracts (-1) a state's share of the counts and bytes. */
  #count(state: KeyState<V>, sign: 1 | -1): void {
    if (state.writes.length > 0) this.#live += sign;
    else if (state.del !== undefined) this.#tombstones += sign;
    this.#bytes += sign * storedBytes(state);
  }
}
