/**
 * The membership table as a state-based CRDT. A table maps baseUrl to
 * MemberEntry; merging two tables is the keywise join, i.e. the maximum under
 * the total order {@link compareEntries}. A maximum under a total order is
 * commutative, associative and idempotent, so every server converges to the
 * same table whatever order gossip arrives in (and however often).
 *
 * Precondition: `lastUpdate` is a finite number (the wire parser rejects the
 * rest); NaN would break the totality of the order.
 */

import type { MemberEntry, OfflineReason } from './entry.js';

/** Rank of an entry's reason in the tie rule; a missing reason ranks lowest. */
const REASON_RANK: Readonly<Record<OfflineReason, number>> = { failed: 1, admin: 2, left: 3 };

function reasonRank(entry: MemberEntry): number {
  return entry.reason === undefined ? 0 : REASON_RANK[entry.reason];
}

/** -1, 0 or 1 as `a` is below, equal to or above `b` (numbers or strings, by `<`). */
function sign<T extends number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rank of each state in the tie rule. */
const STATE_RANK: Readonly<Record<MemberEntry['state'], number>> = { online: 0, suspect: 1, offline: 2 };

/**
 * Total order on member entries; positive when `a` wins over `b`.
 *
 * **The tie rule**, in order of precedence:
 * 1. the higher `lastUpdate` (version) wins;
 * 2. at equal versions, `offline` beats `suspect` beats `online`: a failure
 *    claim is made at the version it is about, and must not be undone by
 *    the same version (SWIM gives suspect and dead the same precedence over
 *    alive at one incarnation); a live server refutes by publishing a higher
 *    version instead;
 * 3. then the reason: none < `failed` < `admin` < `left`;
 * 4. then `monitor: true` beats `monitor: false`;
 * 5. then the later `downAt`, then the greater `by` (absent ranks lowest):
 *    two servers that raised the same claim independently agree on one entry;
 * 6. finally, only so that the order is total over any pair, `baseUrl` in
 *    UTF-16 code-unit order (never locale-dependent). Entries being merged
 *    always share their baseUrl, so this step never decides a real merge.
 *
 * Returns 0 exactly when both entries have the same fields.
 */
export function compareEntries(a: MemberEntry, b: MemberEntry): number {
  return (
    sign(a.lastUpdate, b.lastUpdate) ||
    sign(STATE_RANK[a.state], STATE_RANK[b.state]) ||
    sign(reasonRank(a), reasonRank(b)) ||
    sign(a.monitor ? 1 : 0, b.monitor ? 1 : 0) ||
    sign(a.downAt ?? -1, b.downAt ?? -1) ||
    sign(a.by ?? '', b.by ?? '') ||
    sign(a.baseUrl, b.baseUrl)
  );
}

/** The join of two entries: the greater under {@link compareEntries}, `a` if equal. */
export function mergeEntry(a: MemberEntry, b: MemberEntry): MemberEntry {
  return compareEntries(b, a) > 0 ? b : a;
}

/** Keywise join of two tables into a new map; the inputs are left untouched. */
export function mergeTables(
  a: ReadonlyMap<string, MemberEntry>,
  b: ReadonlyMap<string, MemberEntry>,
): Map<string, MemberEntry> {
  const out = new Map(a);
  mergeInto(out, b.values());
  return out;
}

/** One key whose entry changed during a merge. */
export interface MemberChange {
  /** The entry before the merge, undefined if the key was new. */
  readonly before: MemberEntry | undefined;
  /** The entry after the merge. */
  readonly after: MemberEntry;
}

/** What {@link mergeInto} needs of a table: a Map, or anything keyed the same way. */
export interface EntryStore {
  get(baseUrl: string): MemberEntry | undefined;
  set(baseUrl: string, entry: MemberEntry): unknown;
}

/**
 * Joins `entries` into `table` in place (keyed by `baseUrl`). Returns one
 * change per key whose entry actually changed, in the order keys first
 * changed; a key that changes several times in one call yields a single
 * change from its original entry to its final one.
 */
export function mergeInto(table: EntryStore, entries: Iterable<MemberEntry>): MemberChange[] {
  // Original entry of every key touched so far (undefined for new keys).
  const originals = new Map<string, MemberEntry | undefined>();
  for (const entry of entries) {
    const current = table.get(entry.baseUrl);
    if (current !== undefined && compareEntries(entry, current) <= 0) continue;
    if (!originals.has(entry.baseUrl)) originals.set(entry.baseUrl, current);
    table.set(entry.baseUrl, entry);
  }
  // The join only ever moves a key strictly upwards, so every touched key
  // differs from its original: no equality check needed.
  const changes: MemberChange[] = [];
  for (const [key, before] of originals) {
    const after = table.get(key);
    if (after !== undefined) changes.push({ before, after });
  }
  return changes;
}
