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
  return encode(value, 0, maxDepth);
}

/** True for objects whose prototype is Object.prototype or null (what JSON.parse makes). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `depth` counts the containers enclosing `value`. It is checked before
 * descending, so recursion never goes deeper than `maxDepth` frames, however
 * deep (or cyclic) the input.
 */
function encode(value: unknown, depth: number, maxDepth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new MalformedError('non-finite number is not JSON');
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new MalformedError(`${typeof value} is not JSON`);
  }
  if (value === null) return 'null';
  if (depth >= maxDepth) throw new MalformedError(`nested deeper than ${maxDepth}`);
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // JSON.stringify writes holes and undefined elements as null; so do we.
      parts.push(item === undefined ? 'null' : encode(item, depth + 1, maxDepth));
    }
    return `[${parts.join(',')}]`;
  }
  if (!isPlainObject(value)) throw new MalformedError('only plain objects and arrays are JSON');
  const parts: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${encode(item, depth + 1, maxDepth)}`);
  }
  return `{${parts.join(',')}}`;
}
