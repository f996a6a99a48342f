/**
 * When a deleted key's tombstone may be forgotten. A tombstone must outlive
 * every write it kills that is still on its way, or that write would come
 * back to life on a replica that forgot the delete. Pure: times are passed
 * in (ms since the epoch).
 *
 * ## The rule
 * - A tombstone is *young* while `now < delAtMs + graceMs`; only then does
 *   it count in the map digest (see MapState's `young`).
 * - It becomes *confirmed* when, at an evaluation ({@link TombstoneTracker.tick})
 *   while it is still young, every other member has shown a digest equal to
 *   ours ({@link TombstoneTracker.synced}) at a time ≥ `arrivedAt + inFlightMs`.
 *   The digest held the young tombstone then, so every member held it, and
 *   writes sent before it arrived here have had `inFlightMs` to land.
 * - A confirmed tombstone is collected once old (`now >= delAtMs + graceMs`);
 *   an unconfirmed one once `now >= delAtMs + maxAgeMs` (a member that stayed
 *   unreachable, a partition: the bounded worst case).
 *
 * With no other member, nothing is confirmed: a lone server might be a
 * partitioned one, so its tombstones wait `maxAgeMs` (memory, not safety).
 *
 * Cost: O(log n) per tombstone over its life; a tick costs O(members) plus
 * what it confirms or collects, never a scan of every tombstone.
 */
import { MinHeap } from '../core/min-heap.js';

/** Timing of tombstone collection. */
export interface TombstoneOptions {
  /** How long a tombstone stays in the digest (young); confirmed ones are collected after it. */
  graceMs: number;
  /** Age (from the delete) at which an unconfirmed tombstone is collected anyway, e.g. 24 h. */
  maxAgeMs: number;
  /** How long after a tombstone arrived a sync must happen to confirm it (writes still in flight). */
  inFlightMs: number;
  /**
   * Collect a tombstone as soon as it is confirmed, not once it is old. For
   * digests that leave tombstones out altogether (the replicated state's):
   * there a sync proves the peer holds no live write the tombstone removes,
   * which is all collection needs; `graceMs` is then only the window in
   * which confirmation may happen (set it to `maxAgeMs`). @default false
   */
  collectOnConfirm?: boolean;
}

interface Tracked {
  readonly id: string;
  readonly arrivedAt: number;
  readonly delAtMs: number;
  confirmed: boolean;
  /** False once dropped, replaced or collected: its heap entries are stale. */
  live: boolean;
  /** Heap entries referring to this record. */
  refs: number;
}

/** Stale heap entries tolerated before the heaps are rebuilt (besides "more than live ones"). */
const COMPACT_MIN = 1024;

/** A heap by arrival time. */
function byArrival(): MinHeap<Tracked> {
  return new MinHeap<Tracked>((a, b) => a.arrivedAt < b.arrivedAt);
}

/** A heap by delete time (so also by the time of turning old, and of expiry). */
function byDelete(): MinHeap<Tracked> {
  return new MinHeap<Tracked>((a, b) => a.delAtMs < b.delAtMs);
}

/** Tracks tombstones and decides when each may be collected. */
export class TombstoneTracker {
  readonly #graceMs: number;
  readonly #maxAgeMs: number;
  readonly #inFlightMs: number;
  readonly #collectOnConfirm: boolean;
  readonly #tracked = new Map<string, Tracked>();
  /** Unconfirmed young tombstones, by arrival: a sync confirms a prefix of this order. */
  #pending = byArrival();
  /** Confirmed tombstones, by the time they turn old. */
  #confirmedQ = byDelete();
  /** Every tombstone, by the time it is collected unconfirmed. */
  #expiryQ = byDelete();
  readonly #synced = new Map<string, number>();
  #confirmed = 0;
  #stale = 0;

  constructor(options: TombstoneOptions) {
    const { graceMs, maxAgeMs, inFlightMs } = options;
    for (const [name, v] of Object.entries({ graceMs, maxAgeMs, inFlightMs })) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`TombstoneTracker: ${name} must be a finite number ≥ 0`);
    }
    if (maxAgeMs < graceMs) throw new RangeError('TombstoneTracker: maxAgeMs must be at least graceMs');
    this.#graceMs = graceMs;
    this.#maxAgeMs = maxAgeMs;
    this.#inFlightMs = inFlightMs;
    this.#collectOnConfirm = options.collectOnConfirm === true;
  }

  /**
   * Starts tracking tombstone `id` (e.g. map name and key), which arrived
   * (became a tombstone here) at `arrivedAt`, deleted at `delAtMs` (the
   * wall time of its `delAt`). Tracking an id again starts it afresh.
   */
  added(id: string, arrivedAt: number, delAtMs: number): void {
    this.dropped(id);
    const t: Tracked = { id, arrivedAt, delAtMs, confirmed: false, live: true, refs: 0 };
    this.#tracked.set(id, t);
    // One that arrives already old was never in the digest here: no sync can confirm it.
    if (arrivedAt < delAtMs + this.#graceMs) this.#push(this.#pending, t);
    this.#push(this.#expiryQ, t);
  }

  /** Stops tracking `id` (no longer a tombstone: written again, or removed). */
  dropped(id: string): void {
    const t = this.#tracked.get(id);
    if (t !== undefined) this.#retire(t);
  }

  /** Records that `peer` showed a digest equal to ours at `at`. */
  synced(peer: string, at: number): void {
    const before = this.#synced.get(peer);
    if (before === undefined || at > before) this.#synced.set(peer, at);
  }

  /** Forgets `peer`'s syncs (it left the cluster). */
  forget(peer: string): void {
    this.#synced.delete(peer);
  }

  /**
   * Confirms what the syncs allow, then returns the ids to collect now (no
   * longer tracked). `members` are the other members (this server excluded)
   * whose syncs confirmation needs.
   */
  tick(now: number, members: readonly string[]): string[] {
    this.#confirm(now, members);
    const out: string[] = [];
    this.#collect(this.#confirmedQ, this.#collectOnConfirm ? Infinity : now - this.#graceMs, out);
    this.#collect(this.#expiryQ, now - this.#maxAgeMs, out);
    if (this.#stale > COMPACT_MIN && this.#stale > this.#tracked.size) this.#compact();
    return out;
  }

  /** Tombstones tracked. */
  get size(): number {
    return this.#tracked.size;
  }

  /** Tombstones tracked and not yet confirmed. */
  waiting(): number {
    return this.#tracked.size - this.#confirmed;
  }

  /** Whether `id` is tracked and confirmed. */
  isConfirmed(id: string): boolean {
    return this.#tracked.get(id)?.confirmed === true;
  }

  #confirm(now: number, members: readonly string[]): void {
    if (members.length === 0) return;
    let minSync = Infinity;
    for (const m of members) {
      const at = this.#synced.get(m);
      if (at === undefined) return;
      if (at < minSync) minSync = at;
    }
    const latestArrival = minSync - this.#inFlightMs;
    for (;;) {
      const t = this.#pending.peek();
      if (t === undefined) break;
      if (t.live && t.arrivedAt > latestArrival) break;
      this.#pop(this.#pending);
      // Old by now, it left the digest unconfirmed: only the expiry queue holds it from here.
      if (!t.live || now >= t.delAtMs + this.#graceMs) continue;
      t.confirmed = true;
      this.#confirmed++;
      this.#push(this.#confirmedQ, t);
    }
  }

  /** Pops from `q` every entry with `delAtMs <= until`, collecting the live ones into `out`. */
  #collect(q: MinHeap<Tracked>, until: number, out: string[]): void {
    for (;;) {
      const t = q.peek();
      if (t === undefined || (t.live && t.delAtMs > until)) break;
      this.#pop(q);
      if (!t.live) continue;
      this.#retire(t);
      out.push(t.id);
    }
  }

  #push(q: MinHeap<Tracked>, t: Tracked): void {
    q.push(t);
    t.refs++;
  }

  #pop(q: MinHeap<Tracked>): void {
    const t = q.pop()!;
    t.refs--;
    if (!t.live) this.#stale--;
  }

  /** Ends tracking of `t`; its heap entries turn stale. */
  #retire(t: Tracked): void {
    t.live = false;
    if (t.confirmed) this.#confirmed--;
    this.#tracked.delete(t.id);
    this.#stale += t.refs;
  }

  /** Rebuilds the heaps without stale entries (many tombstones dropped before their time). */
  #compact(): void {
    const pending = byArrival();
    const confirmedQ = byDelete();
    const expiryQ = byDelete();
    for (const t of this.#tracked.values()) {
      // A live record's entries: the expiry one always, and one in pending or confirmed,
      // or neither (arrived old, or popped from pending when old).
      if (t.confirmed) confirmedQ.push(t);
      else if (t.refs === 2) pending.push(t);
      expiryQ.push(t);
    }
    this.#pending = pending;
    this.#confirmedQ = confirmedQ;
    this.#expiryQ = expiryQ;
    this.#stale = 0;
  }
}
