import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';

describe('retransmitLimit', () => {
  it.each<[number, number, number]>([
    // mult, n, mult × ceil(log10(n + 1)), at least 1
    [4, 0, 1],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 10_000, 20],
    [3, 1000, 12],
    [0, 1000, 1],
  ])('mult %d, n %d → %d', (mult, n, expected) => {
    expect(retransmitLimit(mult, n)).toBe(expected);
  });
});

describe('BroadcastQueue', () => {
  it('sends the fewest-sent first, most recently queued first among equals', () => {
    const q = new BroadcastQueue<string>();
    q.enqueue('a', 'A');
    q.enqueue('b', 'B');
    q.enqueue('c', 'C');
    expect(q.take(1, 10)).toEqual(['C']); // all at 0: newest first
    expect(q.take(2, 10)).toEqual(['B', 'A']); // C was sent once, A and B never
    q.enqueue('d', 'D');
    expect(q.take(4, 10)).toEqual(['D', 'C', 'B', 'A']); // D at 0, then the 1s newest first
  });

  it('replacing an item resets its count and makes it the newest', () => {
    const q = new BroadcastQueue<string>();
    q.enqueue('a', 'A1');
    q.enqueue('b', 'B');
    expect(q.take(2, 10)).toEqual(['B', 'A1']);
    expect(q.take(2, 10)).toEqual(['B', 'A1']);
    q.enqueue('a', 'A2'); // a newer state supersedes the old one
    expect(q.size).toBe(2);
    expect(q.take(1, 10)).toEqual(['A2']);
    q.enqueue('c', 'C');
    expect(q.take(3, 10)).toEqual(['C', 'A2', 'B']);
  });

  it('removes an item once it has been sent `limit` times', () => {
    const q = new BroadcastQueue<string>();
    q.enqueue('a', 'A');
    expect(q.take(5, 3)).toEqual(['A']);
    expect(q.take(5, 3)).toEqual(['A']);
    expect(q.size).toBe(1);
    expect(q.take(5, 3)).toEqual(['A']);
    expect(q.size).toBe(0);
    expect(q.has('a')).toBe(false);
    expect(q.take(5, 3)).toEqual([]);
  });

  it('never returns an item twice in one take', () => {
    const q = new BroadcastQueue<number>();
    q.enqueue('x', 1);
    q.enqueue('y', 2);
    expect(q.take(10, 100)).toEqual([2, 1]);
  });

  it('remove drops the item; removing an unknown key is a no-op', () => {
    const q = new BroadcastQueue<string>();
    q.enqueue('a', 'A');
    q.enqueue('b', 'B');
    q.enqueue('c', 'C');
    q.remove('b');
    q.remove('zzz');
    expect(q.size).toBe(2);
    expect(q.has('b')).toBe(false);
    expect(q.take(5, 10)).toEqual(['C', 'A']);
  });

  it('take(0) returns nothing and changes nothing', () => {
    const q = new BroadcastQueue<string>();
    q.enqueue('a', 'A');
    expect(q.take(0, 1)).toEqual([]);
    expect(q.size).toBe(1);
  });

  type Op =
    | { op: 'enqueue'; key: string; item: number }
    | { op: 'take'; max: number; limit: number }
    | { op: 'remove'; key: string };

  const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('enqueue' as const), key: keyArb, item: fc.integer() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('take' as const), max: fc.integer({ min: 0, max: 5 }), limit: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), key: keyArb }) },
  );

  /** The obvious implementation: an array sorted on every take. */
  class NaiveQueue {
    items: { key: string; item: number; count: number; seq: number }[] = [];
    seq = 0;
    enqueue(key: string, item: number): void {
      this.remove(key);
      this.items.push({ key, item, count: 0, seq: ++this.seq });
    }
    take(max: number, limit: number): number[] {
      this.items.sort((x, y) => x.count - y.count || y.seq - x.seq);
      const taken = this.items.slice(0, Math.max(0, max));
      for (const t of taken) t.count += 1;
      // Only items just sent are checked against the limit (it may have shrunk since).
      const done = new Set(taken.filter((t) => t.count >= limit));
      this.items = this.items.filter((t) => !done.has(t));
      return taken.map((t) => t.item);
    }
    remove(key: string): void {
      this.items = this.items.filter((t) => t.key !== key);
    }
  }

  it('behaves like a naive sorted array over random operation sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const q = new BroadcastQueue<number>();
        const model = new NaiveQueue();
        for (const o of ops) {
          if (o.op === 'enqueue') {
            q.enqueue(o.key, o.item);
            model.enqueue(o.key, o.item);
          } else if (o.op === 'remove') {
            q.remove(o.key);
            model.remove(o.key);
          } else {
            expect(q.take(o.max, o.limit)).toEqual(model.take(o.max, o.limit));
          }
          expect(q.size).toBe(model.items.length);
        }
        // Drain: the remaining order must agree too.
        expect(q.take(100, 100)).toEqual(model.take(100, 100));
      }),
      { numRuns: 300 },
    );
  });

  it('stays fast with many items (sanity check, not a benchmark)', () => {
    const q = new BroadcastQueue<number>();
    for (let i = 0; i < 10_000; i++) q.enqueue(`k${i}`, i);
    const start = performance.now();
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      taken += q.take(8, 1_000_000).length;
      q.enqueue(`k${i % 10_000}`, i);
    }
    const ms = performance.now() - start;
    expect(taken).toBe(160_000);
    console.log(`BroadcastQueue: 20k take(8) on 10k items in ${ms.toFixed(1)} ms`);
  });
});

describe('BroadcastQueue.take with a skip', () => {
  it('passes over what the recipient holds without counting it', () => {
    const q = new BroadcastQueue<string>();
    for (const k of ['a', 'b', 'c']) q.enqueue(k, k.toUpperCase());
    // The recipient holds B: A and C go out, B stays at count 0.
    expect(q.take(3, 2, { max: 3, test: (x) => x === 'B' })).toEqual(['C', 'A']);
    expect(q.take(3, 2)).toEqual(['B', 'C', 'A']);
    // A and C have now been sent twice (the limit) and are gone; B once.
    expect(q.take(3, 2)).toEqual(['B']);
    expect(q.size).toBe(0);
  });

  it('skips at most `max` items, then sends the rest as usual', () => {
    const q = new BroadcastQueue<string>();
    for (const k of ['a', 'b', 'c']) q.enqueue(k, k);
    expect(q.take(3, 5, { max: 1, test: () => true })).toEqual(['b', 'a']);
  });

  it('never returns a skipped item, never loses one, and counts only what it returns (property)', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 }),
      fc.func(fc.boolean()),
      fc.integer({ min: 1, max: 25 }),
      (keys, held, max) => {
        const q = new BroadcastQueue<string>();
        for (const k of keys) q.enqueue(k, k);
        const out = q.take(max, 100, { max: keys.length, test: held });
        expect(out.every((x) => !held(x))).toBe(true);
        expect(out.length).toBe(Math.min(max, keys.filter((k) => !held(k)).length));
        expect(q.size).toBe(keys.length); // nothing reached the limit of 100
        // A skipped item was not counted: it still comes before any that went out.
        const rest = q.take(keys.length, 100);
        const skippedFirst = rest.slice(0, keys.length - out.length);
        expect(new Set(skippedFirst)).toEqual(new Set(keys.filter((k) => !out.includes(k))));
      },
    ));
  });
});
