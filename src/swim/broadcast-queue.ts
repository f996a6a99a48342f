/**
 * A transmit-limited broadcast queue (the idea of memberlist's
 * TransmitLimitedQueue): membership updates waiting to be piggybacked on
 * outgoing messages. Each update is sent a bounded number of times, the
 * least-sent first, and a newer update about the same member supersedes the
 * older one instead of queueing behind it.
 */

/**
 * How many times each update is sent: `retransmitMult × ceil(log10(n + 1))`,
 * at least 1. Infection-style dissemination reaches all `n` members with high
 * probability after O(log n) rounds of sending, so this many sends per update
 * suffice (memberlist's RetransmitMult defaults to 4).
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  const rounds = Math.ceil(Math.log10(Math.max(0, n) + 1));
  const limit = retransmitMult * rounds;
  return limit >= 1 ? Math.ceil(limit) : 1;
}

/** Items a recipient is known to hold already, for {@link BroadcastQueue.take}. */
export interface Skip<T> {
  /** Whether the recipient holds `item` (or something newer). */
  test(item: T): boolean;
  /** At most this many items are passed over (a bound on the work: the size of what the recipient sent). */
  readonly max: number;
}

/** One queued item; `pos` is its index in the heap array. */
interface Slot<T> {
  readonly key: string;
  item: T;
  /** Times sent so far. */
  count: number;
  /** Enqueue order: larger is more recent. */
  seq: number;
  pos: number;
}

/** Whether `a` is sent before `b`: fewer sends first, then the most recently queued. */
function before<T>(a: Slot<T>, b: Slot<T>): boolean {
  return a.count < b.count || (a.count === b.count && a.seq > b.seq);
}

/**
 * The queue. Internally an indexed binary heap ordered by (count ascending,
 * enqueue order descending) plus a key → slot map, so enqueue, remove and
 * each item taken cost O(log size).
 */
export class BroadcastQueue<T> {
  readonly #heap: Slot<T>[] = [];
  readonly #byKey = new Map<string, Slot<T>>();
  #seq = 0;

  /** Number of items queued. */
  get size(): number {
    return this.#heap.length;
  }

  /** Whether an item is queued under `key`. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** Queues `item` under `key`; an item already queued under the same key is replaced and its transmit count reset (a newer state supersedes an older one). */
  enqueue(key: string, item: T): void {
    const seq = ++this.#seq;
    const old = this.#byKey.get(key);
    if (old !== undefined) {
      // Count drops to 0 and seq becomes the largest: the slot can only move up.
      old.item = item;
      old.count = 0;
      old.seq = seq;
      this.#up(old.pos);
      return;
    }
    const slot: Slot<T> = { key, item, count: 0, seq, pos: this.#heap.length };
    this.#heap.push(slot);
    this.#byKey.set(key, slot);
    this.#up(slot.pos);
  }

  /**
   * Up to `max` items, those sent fewest times first (ties: most recently
   * queued first); each returned item's count += 1; items that reach `limit`
   * are removed. `limit` may change between calls (it grows with the
   * cluster); only the items returned are checked against it, so an item
   * already past a lowered limit goes out once more and is then dropped.
   * Items `skip` matches (at most `skip.max` of them) are passed over, neither
   * returned nor counted: the recipient is known to have them.
   * O((max + skip.max) · log size).
   */
  take(max: number, limit: number, skip?: Skip<T>): T[] {
    const out: T[] = [];
    const keep: Slot<T>[] = [];
    let skips = skip === undefined ? 0 : skip.max;
    // Pop everything taken before pushing any back, so one call never returns an item twice.
    while (out.length < max && this.#heap.length > 0) {
      const slot = this.#popTop();
      if (skips > 0 && skip!.test(slot.item)) {
        // The recipient has it: not sent, not counted.
        skips--;
        keep.push(slot);
        continue;
      }
      out.push(slot.item);
      slot.count += 1;
      if (slot.count >= limit) this.#byKey.delete(slot.key);
      else keep.push(slot);
    }
    for (const slot of keep) {
      slot.pos = this.#heap.length;
      this.#heap.push(slot);
      this.#up(slot.pos);
    }
    return out;
  }

  /** Drop the item queued under key, if any. */
  remove(key: string): void {
    const slot = this.#byKey.get(key);
    if (slot === undefined) return;
    this.#byKey.delete(key);
    this.#removeAt(slot.pos);
  }

  /** Removes and returns the heap's top; the heap must be non-empty. */
  #popTop(): Slot<T> {
    const top = this.#heap[0]!;
    this.#removeAt(0);
    return top;
  }

  /** Removes the slot at index `i` from the heap (not from the key map). */
  #removeAt(i: number): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (i === h.length) return; // it was the last element
    h[i] = last;
    last.pos = i;
    // The moved slot may belong above or below position i.
    this.#up(i);
    this.#down(last.pos);
  }

  #up(i: number): void {
    const h = this.#heap;
    const slot = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(slot, parent)) break;
      h[i] = parent;
      parent.pos = i;
      i = p;
    }
    h[i] = slot;
    slot.pos = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const slot = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(h[r]!, h[l]!)) c = r;
      const child = h[c]!;
      if (!before(child, slot)) break;
      h[i] = child;
      child.pos = i;
      i = c;
    }
    h[i] = slot;
    slot.pos = i;
  }
}
