import { describe, it, expect } from 'vitest';
import { nextVersion } from './version.js';

describe('nextVersion', () => {
  it.each([
    { now: 1000, seen: undefined, expected: 1000 },
    { now: 1000, seen: 500, expected: 1000 },
    { now: 1000, seen: 999, expected: 1000 },
    { now: 1000, seen: 1000, expected: 1001 },
    { now: 1000, seen: 5000, expected: 5001 },
    { now: 0, seen: 0, expected: 1 },
  ])('now=$now, highestSeen=$seen -> $expected', ({ now, seen, expected }) => {
    expect(nextVersion(now, seen)).toBe(expected);
  });

  it('is always strictly above what was seen, whatever the clock says', () => {
    let seen: number | undefined;
    // A clock that jumps back and forth.
    for (const now of [100, 50, 50, 200, 10, 201, 0]) {
      const v = nextVersion(now, seen);
      if (seen !== undefined) expect(v).toBeGreaterThan(seen);
      expect(v).toBeGreaterThanOrEqual(now);
      seen = v;
    }
  });
});
