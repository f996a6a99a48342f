import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from './min-heap.js';

describe('MinHeap', () => {
  it('pops any sequence of numbers in sorted order', () => {
    fc.assert(fc.property(fc.array(fc.integer()), (xs) => {
      const h = new MinHeap<number>((a, b) => a < b);
      for (const x of xs) h.push(x);
      expect(h.size).toBe(xs.length);
      const out: number[] = [];
      for (let v = h.pop(); v !== undefined; v = h.pop()) out.push(v);
      expect(out).toEqual([...xs].sort((a, b) => a - b));
      expect(h.peek()).toBeUndefined();
    }));
  });

  it('interleaved pushes and pops always yield the current minimum', () => {
    fc.assert(fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined })), (ops) => {
      const h = new MinHeap<number>((a, b) => a < b);
      const model: number[] = [];
      for (const op of ops) {
        if (op === undefined) {
          model.sort((a, b) => a - b);
          expect(h.pop()).toBe(model.shift());
        } else {
          h.push(op);
          model.push(op);
        }
      }
    }));
  });
});
