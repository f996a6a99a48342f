import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedError, TooLargeError, isShazbotError } from '../errors.js';
import { decodeCounter, decodeKeyState, decodeKeyStates, encodeCounter, encodeKeyState, encodeKeyStates } from './codec.js';
import type { KeyState } from './register.js';
import type { Version } from './types.js';

const ver = (t: number, replica = 'http://a:3000#x'): Version => ({ t, replica });
const LIMITS = { maxItems: 10, maxKeyBytes: 16, maxValueBytes: 64 };
const T = 1_733_389_606_000_000;

describe('encodeKeyStates', () => {
  it('is compact: a replica dictionary and times as offsets from the smallest', () => {
    const s: KeyState = {
      writes: [{ v: ver(T + 7), base: ver(T, 'http://b:3000#y'), value: { n: 1 }, bytes: 7 }],
      del: ver(T - 5),
      delAt: ver(T + 2),
    };
    const wire = encodeKeyStates([['user:1', s], ['user:2', { writes: [{ v: ver(T + 9), value: 'x', bytes: 3 }] }]]);
    expect(wire).toEqual({
      t: T - 5,
      r: ['http://a:3000#x', 'http://b:3000#y'],
      k: [
        ['user:1', [[12, 0, { n: 1 }, 5, 1]], 0, 0, 7, 0],
        ['user:2', [[14, 0, 'x']]],
      ],
    });
    expect(encodeKeyStates([])).toEqual({ r: [], k: [] });
  });

  it('refuses a state with del but no delAt (every delete sets both)', () => {
    expect(() => encodeKeyStates([['k', { writes: [], del: ver(1) }]])).toThrow();
  });
});

describe('decodeKeyStates', () => {
  const good = () => encodeKeyStates([['k', { writes: [{ v: ver(T + 1), base: ver(T), value: [1, 'two'], bytes: 11 }], del: ver(T - 1), delAt: ver(T + 1) }]]);

  it('decodes, computing bytes and normalising the writes', () => {
    const wire = { r: ['a'], k: [['k', [[5, 0, 'new'], [3, 0, 'old'], [4, 0, 'killed']], 4, 0, 6, 0]] };
    const [[key, s]] = decodeKeyStates(wire, LIMITS) as [[string, KeyState]];
    expect(key).toBe('k');
    expect(s).toEqual({ writes: [{ v: { t: 5, replica: 'a' }, value: 'new', bytes: 5 }], del: { t: 4, replica: 'a' }, delAt: { t: 6, replica: 'a' } });
    // The sender's bytes (11, wrong) do not travel: they are recomputed from the value.
    expect(decodeKeyStates(JSON.parse(JSON.stringify(good())), LIMITS)[0]![1].writes[0]!.bytes).toBe(9);
  });

  it('ignores unknown top-level fields', () => {
    expect(decodeKeyStates({ ...good(), future: 1 }, LIMITS)).toHaveLength(1);
  });

  /** [name, wire, expected error class, message fragment (the path)] */
  const hostile: Array<[string, unknown, typeof MalformedError | typeof TooLargeError, string]> = [
    ['not an object', [], MalformedError, '(batch)'],
    ['null', null, MalformedError, '(batch)'],
    ['a class instance', new Date(), MalformedError, '(batch)'],
    ['k missing', { r: [] }, MalformedError, 'k'],
    ['r not an array', { r: 'a', k: [] }, MalformedError, 'r'],
    ['t negative', { t: -1, r: [], k: [] }, MalformedError, 't'],
    ['t a float', { t: 1.5, r: [], k: [] }, MalformedError, 't'],
    ['t huge', { t: 2 ** 60, r: [], k: [] }, MalformedError, 't'],
    ['t a string', { t: '5', r: [], k: [] }, MalformedError, 't'],
    ['empty replica', { r: [''], k: [] }, MalformedError, 'r[0]'],
    ['replica too long', { r: ['x'.repeat(301)], k: [] }, MalformedError, 'r[0]'],
    ['replica not a string', { r: [1], k: [] }, MalformedError, 'r[0]'],
    ['unused replica', { r: ['a', 'b'], k: [['k', [[0, 0, 1]]]] }, MalformedError, 'r[1]'],
    ['too many items', { r: ['a'], k: Array.from({ length: 11 }, (_, i) => [`k${i}`, [[0, 0, 1]]]) }, TooLargeError, '11 keys'],
    ['item not an array', { r: [], k: [{}] }, MalformedError, 'k[0]'],
    ['key not a string', { r: ['a'], k: [[5, [[0, 0, 1]]]] }, MalformedError, 'k[0][0]'],
    ['key too long (bytes)', { r: ['a'], k: [['é'.repeat(9), [[0, 0, 1]]]] }, MalformedError, 'k[0][0]'],
    ['key with a lone surrogate', { r: ['a'], k: [['a\udc00', [[0, 0, 1]]]] }, MalformedError, 'k[0][0]'],
    ['key repeated', { r: ['a'], k: [['k', [[0, 0, 1]]], ['k', [[1, 0, 1]]]] }, MalformedError, 'k[1][0]'],
    ['item of 3 elements', { r: ['a'], k: [['k', [[0, 0, 1]], 0]] }, MalformedError, 'k[0]'],
    ['writes not an array', { r: [], k: [['k', 'w']] }, MalformedError, 'k[0][1]'],
    ['too many writes', { r: ['a'], k: [['k', Array.from({ length: 257 }, (_, i) => [i, 0, 1])]] }, MalformedError, 'too many writes'],
    ['write of 4 elements', { r: ['a'], k: [['k', [[0, 0, 1, 0]]]] }, MalformedError, 'k[0][1][0]'],
    ['write not an array', { r: ['a'], k: [['k', [7]]] }, MalformedError, 'k[0][1][0]'],
    ['time offset negative', { r: ['a'], k: [['k', [[-1, 0, 1]]]] }, MalformedError, 'k[0][1][0][0]'],
    ['time offset NaN-ish', { r: ['a'], k: [['k', [[null, 0, 1]]]] }, MalformedError, 'k[0][1][0][0]'],
    ['time past MAX_SAFE_INTEGER', { t: Number.MAX_SAFE_INTEGER, r: ['a'], k: [['k', [[1, 0, 1]]]] }, MalformedError, 'k[0][1][0][0]'],
    ['replica index out of range', { r: ['a'], k: [['k', [[0, 1, 1]]]] }, MalformedError, 'k[0][1][0][1]'],
    ['replica index negative', { r: ['a'], k: [['k', [[0, -1, 1]]]] }, MalformedError, 'k[0][1][0][1]'],
    ['replica index a float', { r: ['a'], k: [['k', [[0, 0.5, 1]]]] }, MalformedError, 'k[0][1][0][1]'],
    ['replica index a string', { r: ['a'], k: [['k', [[0, '0', 1]]]] }, MalformedError, 'k[0][1][0][1]'],
    ['value undefined', { r: ['a'], k: [['k', [[0, 0, undefined]]]] }, MalformedError, 'k[0][1][0][2]'],
    ['value a function', { r: ['a'], k: [['k', [[0, 0, () => 1]]]] }, MalformedError, 'k[0][1][0][2]'],
    ['value Infinity', { r: ['a'], k: [['k', [[0, 0, [Infinity]]]]] }, MalformedError, 'k[0][1][0][2]'],
    ['value a Map', { r: ['a'], k: [['k', [[0, 0, { m: new Map() }]]]] }, MalformedError, 'k[0][1][0][2]'],
    ['value a bigint', { r: ['a'], k: [['k', [[0, 0, 1n]]]] }, MalformedError, 'k[0][1][0][2]'],
    ['value too large', { r: ['a'], k: [['k', [[0, 0, 'x'.repeat(63)]]]] }, TooLargeError, 'k[0][1][0][2]'],
    ['base replica out of range', { r: ['a'], k: [['k', [[0, 0, 1, 0, 2]]]] }, MalformedError, 'k[0][1][0][4]'],
    ['del time a string', { r: ['a'], k: [['k', [], 'x', 0, 0, 0]] }, MalformedError, 'k[0][2]'],
    ['delAt replica out of range', { r: ['a'], k: [['k', [], 0, 0, 0, 9]] }, MalformedError, 'k[0][5]'],
  ];
  for (const [name, wire, cls, where] of hostile) {
    it(`rejects ${name}`, () => {
      let caught: unknown;
      try {
        decodeKeyStates(wire, LIMITS);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(cls);
      expect((caught as Error).message).toContain(where);
    });
  }

  it('rejects values nested too deep, without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => decodeKeyStates({ r: ['a'], k: [['k', [[0, 0, deep]]]] }, { ...LIMITS, maxValueBytes: 1e9 })).toThrow(MalformedError);
  });

  it('throws only typed errors on arbitrary input (fuzz)', () => {
    const leaf = fc.oneof(fc.integer({ min: -2, max: 3 }), fc.double(), fc.string({ maxLength: 20 }), fc.constant(null), fc.boolean(), fc.constant(2 ** 53));
    const junk = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 6 }), fc.dictionary(fc.constantFrom('t', 'r', 'k', 'x'), tie('node'))),
    })).node;
    // Start from a valid batch and corrupt one spot, so the decoder gets past the outer checks.
    const item = fc.tuple(fc.string({ maxLength: 4 }), fc.array(fc.tuple(fc.nat(5), fc.nat(1), junk), { maxLength: 3 }));
    const batch = fc.record({ t: fc.oneof(fc.nat(), junk), r: fc.oneof(fc.constant(['a', 'b']), junk), k: fc.oneof(fc.array(item, { maxLength: 4 }), junk) });
    fc.assert(
      fc.property(fc.oneof(batch, junk), (wire) => {
        try {
          for (const [, s] of decodeKeyStates(wire, LIMITS)) for (const w of s.writes) expect(Number.isInteger(w.bytes)).toBe(true);
        } catch (e) {
          if (!isShazbotError(e) || !(e instanceof MalformedError || e instanceof TooLargeError)) throw e;
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('one key (storage)', () => {
  it('round-trips and validates like a batch', () => {
    const s: KeyState = { writes: [{ v: ver(T + 3), value: null, bytes: 4 }], del: ver(T + 1), delAt: ver(T + 2) };
    const wire = encodeKeyState(s);
    expect(wire).toEqual({ t: T + 1, r: ['http://a:3000#x'], s: [[[2, 0, null]], 0, 0, 1, 0] });
    expect(decodeKeyState(JSON.parse(JSON.stringify(wire)), { maxValueBytes: 10 })).toEqual(s);
    expect(() => decodeKeyState({ r: [], s: 'x' }, { maxValueBytes: 10 })).toThrow(MalformedError);
    expect(() => decodeKeyState({ r: ['a'], s: [[[0, 0, 'xxxxxxxxxxx']]] }, { maxValueBytes: 10 })).toThrow(TooLargeError);
    expect(() => decodeKeyState(undefined, { maxValueBytes: 10 })).toThrow(MalformedError);
  });
});

describe('counters', () => {
  it('round-trips', () => {
    const c = new Map([
      ['a', { p: 3, n: 1 }],
      ['b', { p: 0, n: Number.MAX_SAFE_INTEGER }],
    ]);
    expect(encodeCounter(c)).toEqual([
      ['a', 3, 1],
      ['b', 0, Number.MAX_SAFE_INTEGER],
    ]);
    expect(decodeCounter(JSON.parse(JSON.stringify(encodeCounter(c))), { maxReplicas: 2 })).toEqual(c);
  });

  const hostile: Array<[string, unknown, typeof MalformedError | typeof TooLargeError]> = [
    ['not an array', { a: [1, 0] }, MalformedError],
    ['too many replicas', [['a', 1, 0], ['b', 1, 0], ['c', 1, 0]], TooLargeError],
    ['entry not a triple', [['a', 1]], MalformedError],
    ['empty replica', [['', 1, 0]], MalformedError],
    ['negative total', [['a', -1, 0]], MalformedError],
    ['float total', [['a', 1, 0.5]], MalformedError],
    ['total past MAX_SAFE_INTEGER', [['a', 2 ** 53, 0]], MalformedError],
    ['total a string', [['a', '1', 0]], MalformedError],
    ['replica repeated', [['a', 1, 0], ['a', 2, 0]], MalformedError],
    ['__proto__ is only a name', [['__proto__', 1, 'x']], MalformedError],
  ];
  for (const [name, wire, cls] of hostile) {
    it(`rejects ${name}`, () => {
      expect(() => decodeCounter(wire, { maxReplicas: 2 })).toThrow(cls);
    });
  }
});
