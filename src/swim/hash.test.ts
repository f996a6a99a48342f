import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { hash32, hash64, hashInt } from './hash.js';

// Any UTF-16 string, lone surrogates included. (fc.string({ unit: 'binary' })
// would do, but its first use costs seconds of set-up.)
const anyString = (maxLength: number) =>
  fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })), { maxLength }).map((units) => String.fromCharCode(...units));

describe('hash32: MurmurHash3 x86_32 over UTF-8', () => {
  // Published reference vectors of MurmurHash3_x86_32, so another
  // implementation of the protocol can reproduce ring order and digests.
  it.each<[string, number, number]>([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['a', 0, 0x3c2569b2],
    ['abc', 0, 0xb3dd93fa],
    ['test', 0, 0xba6bd213],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    // Non-ASCII rows: computed with an independent reference implementation over the UTF-8 bytes.
    ['ππππ', 0x9747b28c, 0x474dc9a8],
    ['é😀x', 0, 0x6d05bac4],
  ])('hash32(%j, %d)', (s, seed, expected) => {
    expect(hash32(s, seed)).toBe(expected);
  });

  it('is an unsigned 32-bit integer and deterministic for any string', () => {
    fc.assert(
      fc.property(anyString(40), fc.integer(), (s, seed) => {
        const h = hash32(s, seed);
        expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
        expect(hash32(s, seed)).toBe(h);
      }),
    );
  });

  it('hashes the UTF-8 bytes: long non-ASCII strings after short ones still agree', () => {
    const long = 'é'.repeat(500) + '😀';
    const first = hash32(long);
    hash32('x'); // reuse of the scratch buffer must not leak between calls
    expect(hash32(long)).toBe(first);
    expect(first).toBe(0x20b7f156); // reference value, as above
    expect(hash32('é')).not.toBe(hash32('e'));
  });
});

describe('hash64', () => {
  it('gives two different 32-bit lanes', () => {
    const { hi, lo } = hash64('http://a:1/');
    expect(hi).not.toBe(lo);
    expect(hi >>> 0).toBe(hi);
    expect(lo >>> 0).toBe(lo);
  });
});

describe('hashInt', () => {
  it('spreads consecutive integers and uses the high bits too', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(hashInt(i));
    expect(seen.size).toBe(1000);
    expect(hashInt(2 ** 40)).not.toBe(hashInt(0));
    expect(hashInt(-1)).not.toBe(hashInt(2 ** 32 - 1));
    expect(hashInt(7.9)).toBe(hashInt(7));
  });
});

describe('hash64 lanes', () => {
  it('are hash32 with the two fixed seeds', () => {
    fc.assert(
      fc.property(anyString(40), (s) => {
        expect(hash64(s)).toEqual({ hi: hash32(s, 0x9747b28c), lo: hash32(s, 0x3c6ef372) });
      }),
    );
  });
});
