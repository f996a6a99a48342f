/**
 * A binary min-heap ordered by a comparator: O(log n) push and pop. Used for
 * ManualClock's timers and the simulator clock's due times.
 */
export class MinHeap<T> {
  readonly #items: T[] = [];

  /** @param less strict "comes before" relation; must be a strict weak order. */
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  /** Number of items held. */
  get size(): number {
    return this.#items.length;
  }

  /** The smallest item, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    const h = this.#items;
    // Sift up by moving parents down into the hole, then write the item once.
    let i = h.length;
    h.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.less(item, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const h = this.#items;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (n > 0 && last !== undefined) {
      // Sift the last item down from the root, moving smaller children up into the hole.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        if (r < n && this.less(h[r]!, h[l]!)) m = r;
        if (!this.less(h[m]!, last)) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  /** True if some item satisfies `predicate` (O(n)). */
  some(predicate: (item: T) => boolean): boolean {
    return this.#items.some(predicate);
  }
}
