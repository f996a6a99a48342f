/**
 * Byte accounting of the replicated state: sizes are UTF-8 bytes, as they
 * travel and as the limits (`maxKeyBytes`, `maxValueBytes`) count them.
 */
import type { JsonValue } from './types.js';

/**
 * UTF-8 length of `s` without encoding it. A lone surrogate counts 3 bytes,
 * as TextEncoder writes it (U+FFFD).
 */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A pair: 2 code units, 4 bytes.
        n += 2;
        i++;
      } else {
        n += 2;
      }
    } else {
      n += 2;
    }
  }
  return n;
}

/** UTF-8 length of `JSON.stringify(value)`: a write's `bytes`. */
export function jsonBytes(value: JsonValue): number {
  return utf8Length(JSON.stringify(value));
}
