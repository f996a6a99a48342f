/**
 * Canonical JSON: the one string a signature covers. The sender signs the
 * canonical form of the body it serialises; the receiver recomputes it from
 * the body it parsed. Both agree as long as the canonical form depends only
 * on the JSON value, never on key order or on how the text was spaced.
 */
import { MalformedError } from '../errors.js';

/**
 * Serialises a JSON value deterministically: object keys sorted by UTF-16
 * code units (default `Array.prototype.sort` order), arrays in order, strings
 * and numbers exactly as `JSON.stringify` writes them. As with
 * `JSON.stringify`, object properties whose value is `undefined` are omitted
 * and `undefined` array elements become `null`, so
 * `canonicalJson(JSON.parse(JSON.stringify(x))) === canonicalJson(x)`.
 *
 * Throws MalformedError for non-finite numbers, bigints, functions, symbols,
 * objects other than plain objects and arrays (Date, Map, boxed primitives),
 * a top-level `undefined`, and nesting of more than `maxDepth` arrays/objects
 * (which also stops cycles).
 * @param maxDepth deepest accepted nesting of containers. @default 32
 */
export function canonicalJson(value: unknown, maxDepth = 32): string {
  if (value === undefined) throw new MalformedError('undefined is not JSON');
  return encode(value, 0, maxDepth, shapes);
}

/**
 * The last shapes met, kept across calls (each is checked against the
 * object's keys before use, so a stale one only costs a miss): messages of
 * one kind share their top-level shape, and their records share another.
 * canonicalJson never re-enters itself (it calls no user code), so one
 * module-level cache is safe.
 */
const shapes: ShapeCache = { keys: [], shapes: [], size: 4, top: { keys: [], shapes: [], size: 8, top: undefined } };

/** True for objects whose prototype is Object.prototype or null (what JSON.parse makes). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Strings JSON writes as they are between quotes: printable ASCII other than `"` and `\\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as JSON.stringify writes it; the common case without escapes is written directly, faster. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
}

/** An object's keys in canonical order, each written as `"key":`, and whether they were in that order already. */
interface Shape {
  readonly sorted: readonly string[];
  readonly names: readonly string[];
  readonly inOrder: boolean;
}

/**
 * Recently met object shapes. Gossip bodies hold long runs of objects with
 * the same keys in the same order (one per server), so each run's keys are
 * sorted and quoted once, not once per object; and a few message kinds
 * (request, reply, push) recur, so their top-level shapes are kept too.
 */
interface ShapeCache {
  /** Key lists, most recent first, and the shape of each. */
  readonly keys: Array<readonly string[]>;
  readonly shapes: Shape[];
  readonly size: number;
  /** The cache for top-level objects (depth 0), if separate. */
  readonly top: ShapeCache | undefined;
}

function shapeOf(obj: object, cache: ShapeCache): Shape {
  const keys = Object.keys(obj);
  const cached = cache.keys;
  for (let i = 0; i < cached.length; i++) {
    if (sameKeys(keys, cached[i]!)) {
      const shape = cache.shapes[i]!;
      if (i > 0) {
        // Move to the front, so a long run hits on the first comparison.
        cached.splice(i, 1);
        cache.shapes.splice(i, 1);
        cached.unshift(keys);
        cache.shapes.unshift(shape);
      }
      return shape;
    }
  }
  const sorted = keys.slice().sort();
  const shape = { sorted, names: sorted.map((k) => jsonString(k) + ':'), inOrder: sameKeys(keys, sorted) };
  cached.unshift(keys);
  cache.shapes.unshift(shape);
  if (cached.length > cache.size) {
    cached.pop();
    cache.shapes.pop();
  }
  return shape;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A value JSON.stringify and {@link encode} write alike, without recursion: string, boolean, finite number or null. */
function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * The fast path for the bulk of a gossip body, its lists of servers: an
 * array of plain objects whose values are all scalars and whose keys are
 * already in canonical order (as the wire form writes them). Its canonical
 * form is then exactly what JSON.stringify writes, natively and several
 * times faster. Undefined for any other array, which the general encoder
 * then handles (and rejects, if need be). No `toJSON` may be reachable:
 * JSON.stringify would call it.
 */
function encodeRecords(array: readonly unknown[], cache: ShapeCache): string | undefined {
  if (typeof (array as { toJSON?: unknown }).toJSON === 'function' || 'toJSON' in Object.prototype) return undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (!isPlainObject(item)) return undefined;
    const { sorted, inOrder } = shapeOf(item, cache);
    if (!inOrder) return undefined;
    for (let k = 0; k < sorted.length; k++) if (!isScalar(item[sorted[k]!])) return undefined;
  }
  return JSON.stringify(array);
}

/** Whether every value of `obj` under `keys` is a scalar, undefined or an empty array, with no toJSON anywhere JSON.stringify would look. */
function flatValues(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  if ('toJSON' in Object.prototype || 'toJSON' in Array.prototype) return false;
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i]!];
    if (v === undefined || isScalar(v)) continue;
    if (Array.isArray(v) && v.length === 0 && !Object.hasOwn(v, 'toJSON')) continue;
    return false;
  }
  return true;
}

/**
 * `depth` counts the containers enclosing `value`. It is checked before
 * descending, so recursion never goes deeper than `maxDepth` frames, however
 * deep (or cyclic) the input.
 */
function encode(value: unknown, depth: number, maxDepth: number, cache: ShapeCache): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new MalformedError('non-finite number is not JSON');
      return String(value); // what JSON.stringify writes for every finite number
    case 'object':
      break;
    default:
      throw new MalformedError(`${typeof value} is not JSON`);
  }
  if (value === null) return 'null';
  if (depth >= maxDepth) throw new MalformedError(`nested deeper than ${maxDepth}`);
  if (Array.isArray(value)) {
    // The records are one level deeper than the array: only if that is allowed.
    const records = value.length > 0 && depth + 1 < maxDepth ? encodeRecords(value, cache) : undefined;
    if (records !== undefined) return records;
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // JSON.stringify writes holes and undefined elements as null; so do we.
      out += (i === 0 ? '' : ',') + (item === undefined ? 'null' : encode(item, depth + 1, maxDepth, cache));
    }
    return out + ']';
  }
  if (!isPlainObject(value)) throw new MalformedError('only plain objects and arrays are JSON');
  const { sorted, names, inOrder } = shapeOf(value, depth === 0 && cache.top !== undefined ? cache.top : cache);
  // Fast path: keys already in canonical order, and every value a scalar or
  // an empty array (a probe and its answer): JSON.stringify writes exactly
  // the canonical form, natively. No toJSON may be reachable.
  // (Its empty arrays are one level deeper: only if that is allowed.)
  if (inOrder && depth + 1 < maxDepth && flatValues(value, sorted)) return JSON.stringify(value);
  let out = '{';
  for (let i = 0; i < sorted.length; i++) {
    const item = value[sorted[i]!];
    if (item === undefined) continue;
    out += (out.length === 1 ? '' : ',') + names[i]! + encode(item, depth + 1, maxDepth, cache);
  }
  return out + '}';
}
