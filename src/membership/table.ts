/**
 * The engine's mutable view of the membership CRDT: the table of entries
 * (see merge.ts) plus what this server needs to stamp its own entry with a
 * version that never goes backwards (see version.ts).
 */

import { isUp, type MemberEntry, type OfflineReason } from './entry.js';
import { compareEntries, type MemberChange, mergeInto } from './merge.js';
import { nextVersion } from './version.js';
import { OverlayMap } from './overlay-map.js';
import { ProbeRing } from '../swim/probe-ring.js';
import { drawDistinct, sample, type Random } from '../core/random.js';

/** Entry maps built by {@link MembershipTable.loadShared}, and their offline keys, per key object. */
const sharedMaps = new WeakMap<object, { map: ReadonlyMap<string, MemberEntry>; offline: readonly string[] }>();

/**
 * True when `entry` is an offline entry older than the tombstone horizon:
 * `lastUpdate < now - maxOfflineAgeMs`. {@link MembershipTable.prune} removes
 * such entries; the engine uses the same test to drop incoming ones instead
 * of re-adding them.
 */
export function isExpiredTombstone(entry: MemberEntry, now: number, maxOfflineAgeMs: number): boolean {
  return entry.state === 'offline' && Math.max(entry.lastUpdate, entry.downAt ?? 0) < now - maxOfflineAgeMs;
}

function byBaseUrl(a: MemberEntry, b: MemberEntry): number {
  // Code-unit order, not localeCompare: the same on every machine.
  return a.baseUrl < b.baseUrl ? -1 : a.baseUrl > b.baseUrl ? 1 : 0;
}

/**
 * The membership table of one server. Remote knowledge enters only through
 * {@link apply} (a CRDT join); local decisions go through {@link setSelf},
 * which stamps versions with {@link nextVersion} so they win over everything
 * this server has seen, and {@link claimFailure}, which keeps the version the
 * claim is about. Self is not inserted until the engine calls {@link setSelf}.
 */
export class MembershipTable {
  /** Same as the module-level {@link isExpiredTombstone}. */
  static readonly isExpiredTombstone = isExpiredTombstone;

  readonly #selfUrl: string;
  /** The entries; copy-on-write over a shared snapshot after {@link loadShared}. */
  #entries: OverlayMap<MemberEntry>;
  /**
   * Highest version ever seen for self, including versions of incoming self
   * entries that lost the merge: a new self stamp must beat all of them, or a
   * peer still holding one could undo it.
   */
  #highestSeenSelfVersion: number | undefined;
  #version = 0;
  /**
   * Up (online or suspect) servers, self included when up, in probe-ring
   * order: the failure detector's ring, and O(1) random choice of peers.
   * Rings with equal content share their arrays (see probe-ring.ts).
   */
  readonly #up = new ProbeRing();
  #selfUp = false;
  /** Offline servers other than self: the only candidates of {@link prune}. */
  readonly #offline = new Set<string>();
  readonly #listeners: Array<(before: MemberEntry | undefined, after: MemberEntry | undefined) => void> = [];
  /** Every key in baseUrl order, or undefined once a key was added or removed (see {@link entries}). */
  #sortedKeys: string[] | undefined;

  /** @param selfUrl this server's normalised base URL. */
  constructor(selfUrl: string) {
    this.#selfUrl = selfUrl;
    this.#entries = new OverlayMap();
  }

  /** This server's normalised base URL. */
  get selfUrl(): string {
    return this.#selfUrl;
  }

  /** Highest version seen so far for this server's own entry, if any. */
  get highestSeenSelfVersion(): number | undefined {
    return this.#highestSeenSelfVersion;
  }

  /** Counter that increases on every change to the table's content. */
  get version(): number {
    return this.#version;
  }

  /** Number of entries, self included once set. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `baseUrl`, if known. */
  get(baseUrl: string): MemberEntry | undefined {
    return this.#entries.get(baseUrl);
  }

  /** Whether `baseUrl` has an entry. */
  has(baseUrl: string): boolean {
    return this.#entries.has(baseUrl);
  }

  /** This server's own entry, once {@link setSelf} has run. */
  self(): MemberEntry | undefined {
    return this.#entries.get(this.#selfUrl);
  }

  /** All entries, in no particular order (no copy, no sort). */
  values(): IterableIterator<MemberEntry> {
    return this.#entries.values();
  }

  /**
   * All entries, sorted by baseUrl. The order of the keys is kept until one
   * is added or removed: sorting thousands of URLs (up to 0.5 ms for 1,000)
   * costs far more than looking each one up.
   */
  entries(): MemberEntry[] {
    // Default sort order: UTF-16 code units, as byBaseUrl.
    this.#sortedKeys ??= [...this.#entries.keys()].sort();
    return this.#sortedKeys.map((k) => this.#entries.get(k)!);
  }

  /** Entries of the `online` wire list (online or suspect, self included), sorted by baseUrl. */
  online(): MemberEntry[] {
    return this.entries().filter(isUp);
  }

  /** Offline entries (self included), sorted by baseUrl. */
  offline(): MemberEntry[] {
    return this.entries().filter((e) => e.state === 'offline');
  }



  /** Base URLs of up servers other than self, in ring order. O(n): a fresh array. */
  upPeerUrls(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#up.size; i++) {
      const u = this.#up.at(i)!;
      if (u !== this.#selfUrl) out.push(u);
    }
    return out;
  }

  /** Number of up servers other than self. O(1). */
  upPeerCount(): number {
    return this.#up.size - (this.#selfUp ? 1 : 0);
  }

  /** Up servers (self included when up) in probe-ring order; read-only use. */
  get upRing(): ProbeRing {
    return this.#up;
  }

  /**
   * Up to `k` distinct up servers other than self (and other than `except`),
   * uniformly chosen, in random order. Expected O(k) when k is small against
   * the number of peers (rejection sampling, no copy); O(n) otherwise.
   */
  sampleUpPeers(random: Random, k: number, except?: string | ReadonlySet<string>): string[] {
    const ring = this.#up;
    const n = ring.size;
    const self = this.#selfUrl;
    let excluded: (u: string) => boolean;
    let eligible = this.upPeerCount();
    if (except === undefined) {
      excluded = (u) => u === self;
    } else if (typeof except === 'string') {
      excluded = (u) => u === self || u === except;
      if (except !== self && ring.has(except)) eligible--;
    } else {
      excluded = (u) => u === self || except.has(u);
      for (const u of except) if (u !== self && ring.has(u)) eligible--;
    }
    const take = Math.min(k, eligible);
    if (take <= 0) return [];
    if (take * 4 <= eligible) return drawDistinct(random, n, take, (i) => !excluded(ring.at(i)!)).map((i) => ring.at(i)!);
    const all: string[] = [];
    for (let i = 0; i < n; i++) {
      const u = ring.at(i)!;
      if (!excluded(u)) all.push(u);
    }
    // Here take * 4 > all.length, so sample() shuffles a copy: one partial Fisher-Yates pass.
    return sample(random, all, take);
  }

  /**
   * Fills an empty table in one pass, without per-entry change listeners:
   * for restoring a snapshot of thousands of entries. The caller rebuilds its
   * derived indexes from {@link entries}. Later duplicates of a key merge as
   * usual. Throws if the table is not empty.
   */
  load(entries: Iterable<MemberEntry>): void {
    if (this.#entries.size > 0) throw new Error('MembershipTable.load needs an empty table');
    for (const [k, e] of joined(entries)) this.#entries.set(k, e);
    this.#afterLoad(() => this.#up.addMany(upUrls(this.#entries.values())), offlineUrls(this.#entries.values()));
  }

  /**
   * {@link load}, sharing the loaded content with every other table loaded
   * with the same `key` object (copy-on-write, see overlay-map.ts): thousands
   * of simulated servers restoring one snapshot hold it once. `entries` is
   * read only by the first table loaded with `key`.
   */
  loadShared(key: object, entries: () => Iterable<MemberEntry>): void {
    if (this.#entries.size > 0) throw new Error('MembershipTable.loadShared needs an empty table');
    let shared = sharedMaps.get(key);
    if (shared === undefined) {
      const map = joined(entries());
      shared = { map, offline: [...offlineUrls(map.values())] };
      sharedMaps.set(key, shared);
    }
    const { map, offline } = shared;
    this.#entries = new OverlayMap(map);
    this.#afterLoad(() => this.#up.loadShared(key, () => upUrls(map.values())), offline);
  }

  #afterLoad(fillRing: () => void, offline: Iterable<string>): void {
    fillRing();
    const self = this.#entries.get(this.#selfUrl);
    if (self !== undefined) {
      this.#observeSelf(self.lastUpdate);
      this.#selfUp = isUp(self);
    }
    for (const url of offline) if (url !== this.#selfUrl) this.#offline.add(url);
    this.#version += this.#entries.size;
    this.#sortedKeys = undefined;
  }

  /**
   * Calls `listener(before, after)` after every change of one entry
   * (`after` undefined when pruned). Used to keep derived indexes (digest,
   * probe ring) in step with the table.
   */
  onEntryChange(listener: (before: MemberEntry | undefined, after: MemberEntry | undefined) => void): void {
    this.#listeners.push(listener);
  }



  /**
   * Joins remote entries into the table (see mergeInto) and returns the
   * changes. Records the version of every incoming self entry, winning or not.
   */
  apply(entries: Iterable<MemberEntry>): MemberChange[] {
    const list = [...entries];
    for (const e of list) if (e.baseUrl === this.#selfUrl) this.#observeSelf(e.lastUpdate);
    const changes = mergeInto(this.#entries, list);
    this.#version += changes.length;
    for (const c of changes) this.#changed(c.before, c.after);
    return changes;
  }

  /**
   * Writes this server's own entry, stamped with
   * `nextVersion(now, highest version ever seen for self)`, so it wins over
   * every self entry seen so far, even when the local clock went backwards.
   * A `reason` is kept only on offline entries.
   */
  setSelf(entry: Omit<MemberEntry, 'baseUrl' | 'lastUpdate'>, now: number): MemberEntry {
    const lastUpdate = nextVersion(now, this.#highestSeenSelfVersion);
    const written = makeEntry(this.#selfUrl, entry.state, entry.monitor, lastUpdate, entry.reason);
    this.#observeSelf(lastUpdate);
    const before = this.#entries.get(this.#selfUrl);
    this.#entries.set(this.#selfUrl, written);
    this.#version++;
    this.#changed(before, written);
    return written;
  }



  /**
   * Raises a failure claim about another server at the version it is about:
   * `suspect` (it failed a probe and every indirect probe) or `offline` with
   * reason `failed` (the suspicion timed out). Only the server itself ever
   * raises its version, so its refutation always beats the claim. Returns
   * undefined if the entry is unknown, is self, or already says as much.
   */
  claimFailure(baseUrl: string, state: 'suspect' | 'offline', by: string, now: number, version?: number): MemberChange | undefined {
    const before = this.#entries.get(baseUrl);
    if (before === undefined || baseUrl === this.#selfUrl) return undefined;
    if (version !== undefined && before.lastUpdate !== version) return undefined;
    if (before.state === 'offline' || (state === 'suspect' && before.state === 'suspect')) return undefined;
    const after: MemberEntry = state === 'offline'
      ? { baseUrl, state, monitor: before.monitor, lastUpdate: before.lastUpdate, reason: 'failed', by, downAt: now }
      : { baseUrl, state, monitor: before.monitor, lastUpdate: before.lastUpdate, by, downAt: now };
    return this.#write(before, after);
  }

  #write(before: MemberEntry, after: MemberEntry): MemberChange {
    this.#entries.set(after.baseUrl, after);
    this.#version++;
    this.#changed(before, after);
    return { before, after };
  }

  #changed(before: MemberEntry | undefined, after: MemberEntry | undefined): void {
    const url = (after ?? before)!.baseUrl;
    if (before === undefined || after === undefined) this.#sortedKeys = undefined;
    const wasUp = before !== undefined && isUp(before);
    const nowUp = after !== undefined && isUp(after);
    if (nowUp && !wasUp) this.#up.add(url);
    else if (wasUp && !nowUp) this.#up.remove(url);
    if (url === this.#selfUrl) this.#selfUp = nowUp;
    else if (after?.state === 'offline') this.#offline.add(url);
    else this.#offline.delete(url);
    for (const l of this.#listeners) l(before, after);
  }

  /**
   * Removes offline entries other than self whose `lastUpdate` is older than
   * `now - maxOfflineAgeMs` (see {@link isExpiredTombstone}); returns them,
   * sorted by baseUrl.
   */
  prune(now: number, maxOfflineAgeMs: number): MemberEntry[] {
    const removed: MemberEntry[] = [];
    for (const url of this.#offline) {
      const e = this.#entries.get(url)!;
      if (isExpiredTombstone(e, now, maxOfflineAgeMs)) removed.push(e);
    }
    for (const e of removed) {
      this.#entries.delete(e.baseUrl);
      this.#changed(e, undefined);
    }
    this.#version += removed.length;
    return removed.sort(byBaseUrl);
  }

  #observeSelf(version: number): void {
    if (this.#highestSeenSelfVersion === undefined || version > this.#highestSeenSelfVersion) {
      this.#highestSeenSelfVersion = version;
    }
  }
}

/** The join of `entries` by baseUrl, as a new map. */
function joined(entries: Iterable<MemberEntry>): Map<string, MemberEntry> {
  const out = new Map<string, MemberEntry>();
  for (const e of entries) {
    const current = out.get(e.baseUrl);
    if (current === undefined || compareEntries(e, current) > 0) out.set(e.baseUrl, e);
  }
  return out;
}

/** Base URLs of the offline entries. */
function* offlineUrls(entries: Iterable<MemberEntry>): Iterable<string> {
  for (const e of entries) if (e.state === 'offline') yield e.baseUrl;
}

/** Base URLs of the up entries. */
function* upUrls(entries: Iterable<MemberEntry>): Iterable<string> {
  for (const e of entries) if (isUp(e)) yield e.baseUrl;
}

/** Builds an entry, with `reason` only on offline entries and only when given. */
function makeEntry(
  baseUrl: string,
  state: MemberEntry['state'],
  monitor: boolean,
  lastUpdate: number,
  reason: OfflineReason | undefined,
): MemberEntry {
  return state === 'offline' && reason !== undefined
    ? { baseUrl, state, monitor, lastUpdate, reason }
    : { baseUrl, state, monitor, lastUpdate };
}
