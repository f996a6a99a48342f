import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha256 } from './hmac.js';

const reference = (secret: string, data: string): string => createHmac('sha256', Buffer.from(secret, 'utf8')).update(data, 'utf8').digest('base64url');

describe('hmacSha256', () => {
  it('matches RFC 4231 test case 2', () => {
    const hex = Buffer.from(hmacSha256('Jefe', 'what do ya want for nothing?'), 'base64url').toString('hex');
    expect(hex).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('equals createHmac for ASCII keys (the fast path), any text, including lone surrogates', () => {
    fc.assert(fc.property(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 300 }), (secret, data) => {
      expect(hmacSha256(secret, data)).toBe(reference(secret, data));
    }), { numRuns: 2_000 });
  });

  it('equals createHmac for keys that take createHmac: non-ASCII, and longer than one block', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.string({ minLength: 65, maxLength: 200 }), fc.string({ maxLength: 200 }), (unicode, long, data) => {
      expect(hmacSha256(unicode, data)).toBe(reference(unicode, data));
      expect(hmacSha256(long, data)).toBe(reference(long, data));
    }), { numRuns: 500 });
  });

  it('keys of exactly 64 and 65 bytes, and an empty key', () => {
    for (const secret of ['k'.repeat(64), 'k'.repeat(65), '', 'é'.repeat(32), 'é'.repeat(33)]) {
      expect(hmacSha256(secret, 'clustershazbot-v1\nPOST\nhttp://a/\n1\nn\n{}')).toBe(reference(secret, 'clustershazbot-v1\nPOST\nhttp://a/\n1\nn\n{}'));
    }
  });
});
