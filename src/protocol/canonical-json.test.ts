import { codeOf } from '../../test/helpers/error-code.js';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, isPlainObject } from './canonical-json.js';


function nestedArrays(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Rebuilds every object of a JSON value with its keys inserted in reverse order. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).reverse()) {
      Object.defineProperty(out, k, { value: reverseKeys((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** The definition, written plainly: every object's keys sorted, everything else as JSON.stringify writes it. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : reference(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort().filter((k) => o[k] !== undefined);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Lists of records as gossip carries them: keys from a small pool, in any order, so shapes repeat and change. */
const recordLists = fc.array(
  fc.array(
    fc.tuple(
      fc.constantFrom('baseUrl', 'by', 'downAt', 'lastUpdate', 'monitor', 'reason', 'suspect', 'x\u00e9', '10'),
      fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })),
    ),
    { maxLength: 6 },
  ).map((pairs) => Object.fromEntries(pairs)),
  { maxLength: 30 },
);

describe('canonicalJson', () => {
  it('sorts object keys by UTF-16 code units, recursively', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    // 'Z' (0x5a) < 'a' (0x61) < 'é' (0xe9) < '😀' (0xd83d...) < '\uffff'.
    expect(canonicalJson({ '\uffff': 0, '😀': 1, é: 2, a: 3, Z: 4 })).toBe('{"Z":4,"a":3,"é":2,"😀":1,"\uffff":0}');
  });

  it('writes primitives exactly as JSON.stringify does', () => {
    for (const v of ['', 'a"b\\c\n\u0001', '\ud800', 0, -0, 1.5, 1e21, -1e-7, Number.MAX_SAFE_INTEGER, true, false, null]) {
      expect(canonicalJson(v)).toBe(JSON.stringify(v));
    }
  });

  it('omits undefined properties and writes undefined array elements as null, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    // eslint-disable-next-line no-sparse-arrays
    expect(canonicalJson([, 1])).toBe('[null,1]');
  });

  it('has no whitespace', () => {
    expect(canonicalJson({ a: [1, 2], b: 'x y' })).toBe('{"a":[1,2],"b":"x y"}');
  });

  it('keeps an own __proto__ key (as JSON.parse makes it)', () => {
    const parsed: unknown = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":1},"a":2}');
  });

  it('accepts null-prototype objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', { a: [-Infinity] }],
    ['bigint', 1n],
    ['function', { f: () => 1 }],
    ['symbol', [Symbol('s')]],
    ['Date', new Date(0)],
    ['Map', new Map()],
    ['Set', { s: new Set() }],
    ['boxed string', new String('x')],
    ['class instance', new (class Foo { a = 1; })()],
    ['top-level undefined', undefined],
  ])('rejects %s with MALFORMED', (_name, value) => {
    expect(codeOf(() => canonicalJson(value))).toBe('MALFORMED');
  });

  it('accepts nesting up to maxDepth and rejects deeper', () => {
    expect(canonicalJson(nestedArrays(32))).toBe('['.repeat(32) + '0' + ']'.repeat(32));
    expect(codeOf(() => canonicalJson(nestedArrays(33)))).toBe('MALFORMED');
    expect(canonicalJson(nestedArrays(3), 3)).toBe('[[[0]]]');
    expect(codeOf(() => canonicalJson(nestedArrays(4), 3))).toBe('MALFORMED');
    expect(codeOf(() => canonicalJson({ a: { b: {} } }, 2))).toBe('MALFORMED');
  });

  it('rejects a 100,000-deep array without overflowing the stack', () => {
    expect(codeOf(() => canonicalJson(nestedArrays(100_000)))).toBe('MALFORMED');
  });

  it('rejects cycles', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(codeOf(() => canonicalJson(a))).toBe('MALFORMED');
  });

  it('is a fixed point through JSON.parse (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (x) => {
        const c = canonicalJson(x);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
        // Same JSON value as JSON.stringify writes, just with sorted keys.
        expect(JSON.parse(c)).toEqual(JSON.parse(JSON.stringify(x)));
      }),
    );
  });

  it('does not depend on key insertion order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (x) => {
        expect(canonicalJson(reverseKeys(x))).toBe(canonicalJson(x));
      }),
    );
  });

  it('equals the plain definition on any JSON value and on lists of records (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (x) => {
        expect(canonicalJson(x)).toBe(reference(x));
      }),
    );
    fc.assert(
      fc.property(recordLists, fc.boolean(), (records, sortKeys) => {
        // Sorted keys take the fast path for lists of records, unsorted ones the general encoder.
        const list = sortKeys ? records.map((r) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))) : records;
        expect(canonicalJson(list)).toBe(reference(list));
        expect(canonicalJson({ b: list, a: [list] })).toBe(reference({ b: list, a: [list] }));
      }),
    );
  });

  it('checks every record of a list: a bad value anywhere is rejected', () => {
    const list = Array.from({ length: 100 }, (_, i) => ({ a: `http://h${i}/`, b: i, c: false }));
    expect(canonicalJson(list)).toBe(JSON.stringify(list));
    for (const bad of [NaN, Infinity, 1n, () => 1, Symbol('s'), new Date(0)]) {
      expect(codeOf(() => canonicalJson([...list, { a: 'x', b: bad, c: true }]))).toBe('MALFORMED');
    }
    expect(codeOf(() => canonicalJson([...list, new Map()]))).toBe('MALFORMED');
    // The records are one level deeper than their list.
    expect(canonicalJson([{ a: 1 }], 2)).toBe('[{"a":1}]');
    expect(codeOf(() => canonicalJson([{ a: 1 }], 1))).toBe('MALFORMED');
  });

  it('never calls a toJSON method, on a list or inherited by its records', () => {
    const list = Object.assign([{ a: 1 }], { toJSON: () => 'replaced' });
    expect(canonicalJson(list)).toBe('[{"a":1}]');
    // Inherited by the records, even where Array.prototype hides it from the list itself.
    Object.defineProperty(Object.prototype, 'toJSON', { value: () => 'replaced', configurable: true, writable: true });
    Object.defineProperty(Array.prototype, 'toJSON', { value: undefined, configurable: true, writable: true });
    try {
      expect(canonicalJson([{ a: 1 }, { a: 2 }])).toBe('[{"a":1},{"a":2}]');
    } finally {
      delete (Object.prototype as { toJSON?: unknown }).toJSON;
      delete (Array.prototype as { toJSON?: unknown }).toJSON;
    }
  });

  it('keeps an own __proto__ key in a list of records', () => {
    const parsed: unknown = JSON.parse('[{"__proto__":1,"a":2},{"__proto__":{"x":1},"a":3}]');
    expect(canonicalJson(parsed)).toBe('[{"__proto__":1,"a":2},{"__proto__":{"x":1},"a":3}]');
  });

  it('does not depend on key order of the JSON text (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), (d) => {
        const entries = Object.entries(d);
        const text = (list: [string, unknown][]) => `{${list.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
        expect(canonicalJson(JSON.parse(text(entries.slice().reverse())))).toBe(canonicalJson(JSON.parse(text(entries))));
      }),
    );
  });
});

describe('isPlainObject', () => {
  it('accepts plain and null-prototype objects only', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
    expect(isPlainObject('x')).toBe(false);
  });
});

describe('canonicalJson: flat objects in canonical key order', () => {
  it('writes them as JSON.stringify does, and still honours maxDepth, undefined and toJSON', () => {
    expect(canonicalJson({ a: 1, b: [], c: 'x', d: null, e: true })).toBe('{"a":1,"b":[],"c":"x","d":null,"e":true}');
    expect(canonicalJson({ a: 1, b: undefined, c: [] })).toBe('{"a":1,"c":[]}');
    expect(codeOf(() => canonicalJson({ a: [] }, 1))).toBe('MALFORMED');
    expect(codeOf(() => canonicalJson({ a: 1, b: Number.NaN }))).toBe('MALFORMED');
    const withToJson = Object.assign([] as unknown[], { toJSON: () => 'replaced' });
    expect(canonicalJson({ a: withToJson })).toBe('{"a":[]}');
  });
});
