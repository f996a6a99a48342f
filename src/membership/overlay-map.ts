/**
 * A string-keyed map that starts from a shared, read-only base and keeps its
 * own changes in a small overlay: copy-on-write per key.
 *
 * Why: a simulator runs thousands of servers whose tables start from one
 * snapshot and then differ in a handful of entries. With one Map each, 10,000
 * servers × 10,000 members is 10^8 entries (gigabytes that every major GC
 * walks); with one shared base and an overlay each, it is 10^4 plus the
 * differences. In a production server the base is empty and the overlay is
 * simply its map.
 *
 * The overlay holds the value of every key set since the base was taken, and
 * `null` for base keys deleted since. When the overlay grows past an eighth of
 * the base, the map copies the merged content into a private map and drops the
 * base, so lookups never pay for a large overlay and a base nobody uses any
 * more can be collected.
 */

const EMPTY_BASE: ReadonlyMap<string, never> = new Map<string, never>();

/** Overlay size below which a map never compacts, whatever its base. */
const MIN_COMPACT = 64;

export class OverlayMap<V> {
  #base: ReadonlyMap<string, V>;
  #over = new Map<string, V | null>();
  #size: number;

  /** @param base shared content to start from; never modified by this map. */
  constructor(base: ReadonlyMap<string, V> = EMPTY_BASE) {
    this.#base = base;
    this.#size = base.size;
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** Whether the map still reads through a shared base (false once compacted or if it never had one). */
  get shared(): boolean {
    return this.#base.size > 0;
  }

  /** Number of keys held privately (the overlay), deleted base keys included. */
  get privateSize(): number {
    return this.#over.size;
  }

  get(key: string): V | undefined {
    const o = this.#over.get(key);
    if (o === undefined) return this.#base.get(key);
    return o === null ? undefined : o;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets `key`; `value` must not be undefined or null. */
  set(key: string, value: V): this {
    if (!this.has(key)) this.#size++;
    this.#over.set(key, value);
    this.#compactIfLarge();
    return this;
  }

  /** Deletes `key`; returns whether it was there. */
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    if (this.#base.has(key)) this.#over.set(key, null);
    else this.#over.delete(key);
    this.#size--;
    this.#compactIfLarge();
    return true;
  }

  /** Keys and values: the base's (minus overridden keys) in base order, then the overlay's in insertion order. */
  *entries(): IterableIterator<[string, V]> {
    const over = this.#over;
    if (this.#base.size > 0) {
      for (const kv of this.#base) if (!over.has(kv[0])) yield kv;
    }
    for (const [k, v] of over) if (v !== null) yield [k, v];
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  #compactIfLarge(): void {
    const base = this.#base;
    if (base.size === 0 || this.#over.size <= MIN_COMPACT || this.#over.size <= base.size >>> 3) return;
    const own = new Map<string, V | null>(this.entries());
    this.#base = EMPTY_BASE;
    this.#over = own;
  }
}
