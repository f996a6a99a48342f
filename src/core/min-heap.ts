/**
 * A binary min-heap ordered by a comparator: O(log n) push and pop. Used for
 * the virtual clock's timer queue and the replay guard's nonce expiry.
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
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const h = this.#items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** True if some item satisfies `predicate` (O(n)). */
  some(predicate: (item: T) => boolean): boolean {
    return this.#items.some(predicate);
  }
}
