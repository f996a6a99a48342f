import { codeOf } from '../../test/helpers/error-code.js';
import { describe, it, expect } from 'vitest';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { seededRandom } from '../core/random.js';
import { canonicalJson } from './canonical-json.js';
import { ShazbotError } from '../errors.js';
import {
  checkBearer,
  checkControlAuthorization,
  makeNonce,
  parseSignedHeader,
  signReply,
  signReplySized,
  signRequest,
  signRequestCanonical,
  verifyReply,
  verifyRequest,
} from './signature.js';

const A = 'https://a.example:3000/clustershazbot/gossip';
const B = 'https://b.example:3000/clustershazbot/gossip';
const K1 = 'key-one';
const K2 = 'key-two ü';
const T = 1_700_000_000_000;
const N = 'AAAAAAAAAAAAAAAAAAAAAA';
const body = {
  message: 'gossip',
  online: [{ baseUrl: 'https://a.example:3000/', monitor: false, lastUpdate: T }],
  offline: [],
};


function verifyHeader(secrets: readonly string[], url: string, b: unknown, header: string): boolean {
  return verifyRequest(secrets, url, b, parseSignedHeader(header));
}

describe('makeNonce', () => {
  it('is 22 base64url characters from 16 random bytes', () => {
    const r = seededRandom(1);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const n = makeNonce(r);
      expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(n);
    }
    expect(seen.size).toBe(100);
  });

  it('draws the same nonces through fill() as through bytes(), and works without fill()', () => {
    const viaFill = seededRandom(9);
    const seeded = seededRandom(9);
    const viaBytes = { float: () => seeded.float(), bytes: (n: number) => seeded.bytes(n) };
    for (let i = 0; i < 50; i++) {
      const n = makeNonce(viaFill);
      expect(makeNonce(viaBytes)).toBe(n);
      expect(Buffer.from(n, 'base64url')).toHaveLength(16);
    }
    // The stream stays in step: both sources have drawn the same number of words.
    expect(viaFill.float()).toBe(seeded.float());
  });
});

describe('signRequest / verifyRequest', () => {
  const header = signRequest(K1, A, body, T, N);

  it('writes the documented header', () => {
    expect(header).toMatch(/^SHAZBOT-HMAC-SHA256 t=1700000000000,n=A{22},s=[A-Za-z0-9_-]{43}$/);
    expect(parseSignedHeader(header)).toEqual({ t: T, n: N, s: header.slice(header.indexOf('s=') + 2) });
  });

  it('signs the documented string', () => {
    const canonical = '{"message":"gossip","offline":[],"online":[{"baseUrl":"https://a.example:3000/","lastUpdate":1700000000000,"monitor":false}]}';
    const expected = createHmac('sha256', K1).update(['clustershazbot-v1', 'POST', A, String(T), N, canonical].join('\n')).digest('base64url');
    expect(parseSignedHeader(header).s).toBe(expected);
  });

  it('round-trips, also through JSON text with other key order and spacing', () => {
    expect(verifyHeader([K1], A, body, header)).toBe(true);
    const reordered: unknown = JSON.parse(`{ "offline": [], "online": [ { "monitor": false, "lastUpdate": ${T}, "baseUrl": "https://a.example:3000/" } ], "message": "gossip" }`);
    expect(verifyHeader([K1], A, reordered, header)).toBe(true);
  });

  it('fails on every tampering', () => {
    const p = parseSignedHeader(header);
    expect(verifyRequest([K1], A, { ...body, message: 'gossiq' }, p)).toBe(false);
    expect(verifyRequest([K1], A, { ...body, online: [{ ...body.online[0], lastUpdate: T + 1 }] }, p)).toBe(false);
    expect(verifyRequest([K1], A, { ...body, extra: 1 }, p)).toBe(false);
    expect(verifyRequest([K1], A, { ...body, offline: undefined }, p)).toBe(false);
    expect(verifyRequest([K1], A, body, { ...p, t: T + 1 })).toBe(false);
    expect(verifyRequest([K1], A, body, { ...p, n: 'BAAAAAAAAAAAAAAAAAAAAA' })).toBe(false);
    expect(verifyRequest([K1], B, body, p)).toBe(false);
    expect(verifyRequest([K2], A, body, p)).toBe(false);
    expect(verifyRequest([], A, body, p)).toBe(false);
    const flipped = p.s[0] === 'A' ? 'B' + p.s.slice(1) : 'A' + p.s.slice(1);
    expect(verifyRequest([K1], A, body, { ...p, s: flipped })).toBe(false);
  });

  it('rejects a non-canonical encoding of the right signature bytes', () => {
    const p = parseSignedHeader(header);
    // The last of 43 characters carries 4 bits; its 2 low bits are padding, ignored by decoders.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(p.s[42]!);
    const variant = p.s.slice(0, 42) + alphabet[last ^ 1]!;
    expect(Buffer.from(variant, 'base64url')).toEqual(Buffer.from(p.s, 'base64url'));
    expect(verifyRequest([K1], A, body, { ...p, s: variant })).toBe(false);
  });

  it('supports key rotation: the first key signs, any verifies', () => {
    const h2 = signRequest(K2, A, body, T, N);
    expect(verifyHeader([K1, K2], A, body, h2)).toBe(true);
    expect(verifyHeader([K2, K1], A, body, h2)).toBe(true);
    expect(verifyHeader([K1], A, body, h2)).toBe(false);
  });

  it('throws MALFORMED for bodies that are not canonicalisable JSON', () => {
    const p = parseSignedHeader(header);
    let deep: unknown = 0;
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(codeOf(() => verifyRequest([K1], A, deep, p))).toBe('MALFORMED');
    expect(codeOf(() => verifyRequest([K1], A, undefined, p))).toBe('MALFORMED');
  });

  it('refuses to sign a t or nonce the peer could not parse', () => {
    expect(() => signRequest(K1, A, body, 1.5, N)).toThrow(RangeError);
    expect(() => signRequest(K1, A, body, -1, N)).toThrow(RangeError);
    expect(() => signRequest(K1, A, body, T, 'short')).toThrow(RangeError);
  });

  it('round-trips arbitrary JSON bodies, nonces and times (property)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 5 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 1000 }),
        fc.string({ minLength: 1 }),
        (b, t, seed, key) => {
          const nonce = makeNonce(seededRandom(seed));
          const h = signRequest(key, A, b, t, nonce);
          expect(verifyHeader([key], A, JSON.parse(JSON.stringify(b)), h)).toBe(true);
          expect(verifyHeader([key], B, b, h)).toBe(false);
        },
      ),
    );
  });
});

describe('parseSignedHeader', () => {
  const S = 'a'.repeat(43);
  it.each([
    ['lower-case scheme', `shazbot-hmac-sha256 t=1,n=${N},s=${S}`, { t: 1, n: N, s: S }],
    ['parameters in any order', `SHAZBOT-HMAC-SHA256 s=${S},n=${N},t=0`, { t: 0, n: N, s: S }],
    ['64-char nonce', `SHAZBOT-HMAC-SHA256 t=9007199254740991,n=${'-'.repeat(64)},s=${S}`, { t: 9007199254740991, n: '-'.repeat(64), s: S }],
    ['16-char nonce', `SHAZBOT-HMAC-SHA256 t=5,n=${'_'.repeat(16)},s=${S}`, { t: 5, n: '_'.repeat(16), s: S }],
  ])('accepts %s', (_name, header, expected) => {
    expect(parseSignedHeader(header)).toEqual(expected);
  });

  it.each([
    ['empty', ''],
    ['scheme only', 'SHAZBOT-HMAC-SHA256'],
    ['scheme and space only', 'SHAZBOT-HMAC-SHA256 '],
    ['no scheme', `t=1,n=${N},s=${S}`],
    ['other scheme', `Bearer t=1,n=${N},s=${S}`],
    ['look-alike scheme (U+017F)', `\u017fHAZBOT-HMAC-SHA256 t=1,n=${N},s=${S}`],
    ['two spaces', `SHAZBOT-HMAC-SHA256  t=1,n=${N},s=${S}`],
    ['tab', `SHAZBOT-HMAC-SHA256\tt=1,n=${N},s=${S}`],
    ['spaces between params', `SHAZBOT-HMAC-SHA256 t=1, n=${N}, s=${S}`],
    ['trailing comma', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${S},`],
    ['missing t', `SHAZBOT-HMAC-SHA256 n=${N},s=${S}`],
    ['missing n', `SHAZBOT-HMAC-SHA256 t=1,s=${S}`],
    ['missing s', `SHAZBOT-HMAC-SHA256 t=1,n=${N}`],
    ['duplicate t', `SHAZBOT-HMAC-SHA256 t=1,t=2,n=${N}`],
    ['duplicate n among four', `SHAZBOT-HMAC-SHA256 t=1,n=${N},n=${N},s=${S}`],
    ['unknown param', `SHAZBOT-HMAC-SHA256 t=1,n=${N},x=${S}`],
    ['extra unknown param', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${S},v=1`],
    ['param without =', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s`],
    ['upper-case key', `SHAZBOT-HMAC-SHA256 T=1,n=${N},s=${S}`],
    ['negative t', `SHAZBOT-HMAC-SHA256 t=-1,n=${N},s=${S}`],
    ['fractional t', `SHAZBOT-HMAC-SHA256 t=1.5,n=${N},s=${S}`],
    ['exponent t', `SHAZBOT-HMAC-SHA256 t=1e3,n=${N},s=${S}`],
    ['hex t', `SHAZBOT-HMAC-SHA256 t=0x10,n=${N},s=${S}`],
    ['leading-zero t', `SHAZBOT-HMAC-SHA256 t=01,n=${N},s=${S}`],
    ['empty t', `SHAZBOT-HMAC-SHA256 t=,n=${N},s=${S}`],
    ['unsafe t', `SHAZBOT-HMAC-SHA256 t=9007199254740992,n=${N},s=${S}`],
    ['huge t', `SHAZBOT-HMAC-SHA256 t=${'9'.repeat(30)},n=${N},s=${S}`],
    ['15-char nonce', `SHAZBOT-HMAC-SHA256 t=1,n=${'a'.repeat(15)},s=${S}`],
    ['65-char nonce', `SHAZBOT-HMAC-SHA256 t=1,n=${'a'.repeat(65)},s=${S}`],
    ['nonce with padding', `SHAZBOT-HMAC-SHA256 t=1,n=${'a'.repeat(20)}==,s=${S}`],
    ['nonce with +/', `SHAZBOT-HMAC-SHA256 t=1,n=${'a+/'.repeat(8)},s=${S}`],
    ['42-char s', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${'a'.repeat(42)}`],
    ['44-char s', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${'a'.repeat(44)}`],
    ['padded s', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${'a'.repeat(43)}=`],
    ['s with non-ASCII', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${'a'.repeat(42)}é`],
    ['longer than 512 chars', `SHAZBOT-HMAC-SHA256 t=1,n=${N},s=${S}`.padEnd(513, ' ')],
  ])('rejects %s with UNAUTHORIZED', (_name, header) => {
    expect(codeOf(() => parseSignedHeader(header))).toBe('UNAUTHORIZED');
  });

  it('rejects non-strings with UNAUTHORIZED', () => {
    expect(codeOf(() => parseSignedHeader(undefined as unknown as string))).toBe('UNAUTHORIZED');
  });

  it('never throws anything but UNAUTHORIZED (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (tail) => {
        for (const h of [tail, `SHAZBOT-HMAC-SHA256 ${tail}`]) {
          try {
            const p = parseSignedHeader(h);
            expect(Number.isSafeInteger(p.t)).toBe(true);
          } catch (e) {
            expect((e as ShazbotError).code).toBe('UNAUTHORIZED');
          }
        }
      }),
    );
  });
});

describe('signReply / verifyReply', () => {
  const reqNonce = 'RRRRRRRRRRRRRRRRRRRRRR';
  const replyBody = { message: 'gossip', online: [], offline: [] };
  const reply = signReply(K1, A, reqNonce, replyBody, T, N);

  it('adds a signature field and leaves the input alone', () => {
    expect(reply).toMatchObject(replyBody);
    expect(reply.signature).toMatch(/^t=1700000000000,n=A{22},s=[A-Za-z0-9_-]{43}$/);
    expect(replyBody).not.toHaveProperty('signature');
  });

  it('signs the documented string', () => {
    const canonical = '{"message":"gossip","offline":[],"online":[]}';
    const expected = createHmac('sha256', K1).update(['clustershazbot-v1-reply', A, reqNonce, String(T), N, canonical].join('\n')).digest('base64url');
    expect(reply.signature).toBe(`t=${T},n=${N},s=${expected}`);
  });

  it('round-trips through JSON text', () => {
    expect(verifyReply([K1], A, reqNonce, JSON.parse(JSON.stringify(reply)))).toEqual({ t: T, n: N });
  });

  it('replaces a signature already in the body', () => {
    const again = signReply(K1, A, reqNonce, { ...replyBody, signature: 'junk' }, T, N);
    expect(again).toEqual(reply);
  });

  it('is bound to the request nonce, responder and key', () => {
    expect(verifyReply([K1], A, 'SSSSSSSSSSSSSSSSSSSSSS', reply)).toBeUndefined();
    expect(verifyReply([K1], B, reqNonce, reply)).toBeUndefined();
    expect(verifyReply([K2], A, reqNonce, reply)).toBeUndefined();
    expect(verifyReply([K2, K1], A, reqNonce, reply)).toEqual({ t: T, n: N });
  });

  it('fails on every tampering of the body or signature', () => {
    expect(verifyReply([K1], A, reqNonce, { ...reply, online: [1] })).toBeUndefined();
    expect(verifyReply([K1], A, reqNonce, { ...reply, extra: true })).toBeUndefined();
    const sig = reply.signature as string;
    expect(verifyReply([K1], A, reqNonce, { ...reply, signature: sig.replace(`t=${T}`, `t=${T + 1}`) })).toBeUndefined();
    expect(verifyReply([K1], A, reqNonce, { ...reply, signature: sig.replace(`n=${N}`, 'n=BAAAAAAAAAAAAAAAAAAAAA') })).toBeUndefined();
  });

  describe('over the received text', () => {
    const bodyArb = fc.record({
      message: fc.constant('gossip'),
      online: fc.array(fc.record({ baseUrl: fc.webUrl(), monitor: fc.boolean(), lastUpdate: fc.nat() }), { maxLength: 4 }),
      digest: fc.option(fc.string(), { nil: undefined }),
      note: fc.option(fc.string(), { nil: undefined }),
    });

    it('verifies the text signReplySized writes, and the same reply re-serialised in any key order (property)', () => {
      fc.assert(
        fc.property(bodyArb, (b) => {
          const { text } = signReplySized(K1, A, reqNonce, b, T, N);
          const parsed = JSON.parse(text) as Record<string, unknown>;
          expect(verifyReply([K1], A, reqNonce, parsed, text)).toEqual({ t: T, n: N });
          // Another serialisation of the same value: the raw check fails, the canonical fallback verifies.
          const reordered = JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse()));
          expect(verifyReply([K1], A, reqNonce, JSON.parse(reordered), reordered)).toEqual({ t: T, n: N });
        }),
      );
    });

    it('rejects any change to the signed part of the text (property)', () => {
      fc.assert(
        fc.property(bodyArb, fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), (b, at, junk) => {
          const { text } = signReplySized(K1, A, reqNonce, b, T, N);
          const sigAt = text.lastIndexOf(',"signature"');
          const cut = sigAt < 0 ? 1 : 1 + (at % Math.max(1, sigAt - 1));
          const tampered = text.slice(0, cut) + junk + text.slice(cut);
          let parsed: unknown;
          try {
            parsed = JSON.parse(tampered);
          } catch {
            return; // not JSON: never reaches verifyReply
          }
          if (canonicalJson(parsed) === canonicalJson(JSON.parse(text))) return; // same value, e.g. junk was whitespace
          expect(verifyReply([K1], A, reqNonce, parsed, tampered)).toBeUndefined();
        }),
      );
    });

    it('verifies the empty reply', () => {
      const { text } = signReplySized(K1, A, reqNonce, {}, T, N);
      expect(text.startsWith('{"signature":')).toBe(true);
      expect(verifyReply([K1], A, reqNonce, JSON.parse(text), text)).toEqual({ t: T, n: N });
      expect(verifyReply([K2], A, reqNonce, JSON.parse(text), text)).toBeUndefined();
    });

    it('is bound to the request nonce, responder and key', () => {
      const { text } = signReplySized(K1, A, reqNonce, replyBody, T, N);
      const parsed = JSON.parse(text) as unknown;
      expect(verifyReply([K1], A, 'SSSSSSSSSSSSSSSSSSSSSS', parsed, text)).toBeUndefined();
      expect(verifyReply([K1], B, reqNonce, parsed, text)).toBeUndefined();
      expect(verifyReply([K2], A, reqNonce, parsed, text)).toBeUndefined();
    });
  });

  it.each([
    ['null', null],
    ['array', [reply]],
    ['string', 'x'],
    ['no signature', { ...replyBody }],
    ['numeric signature', { ...replyBody, signature: 5 }],
    ['scheme-prefixed signature', { ...reply, signature: `SHAZBOT-HMAC-SHA256 ${reply.signature as string}` }],
    ['over-long signature', { ...reply, signature: `${reply.signature as string}`.padEnd(600, 'x') }],
    ['non-JSON content', { ...reply, when: new Date(0) }],
  ])('returns undefined for %s', (_name, r) => {
    expect(verifyReply([K1], A, reqNonce, r)).toBeUndefined();
  });

  it('key order of the reply does not matter', () => {
    const reordered: Record<string, unknown> = {};
    for (const k of Object.keys(reply).reverse()) reordered[k] = reply[k];
    expect(verifyReply([K1], A, reqNonce, reordered)).toEqual({ t: T, n: N });
  });
});

describe('checkBearer', () => {
  it('accepts any configured secret, scheme case-insensitive', () => {
    expect(checkBearer(`Bearer ${K1}`, [K1])).toBe(true);
    expect(checkBearer(`bearer ${K2}`, [K1, K2])).toBe(true);
    expect(checkBearer(`BEARER ${K1}`, [K1, K2])).toBe(true);
  });

  it.each([
    ['wrong secret', `Bearer nope`],
    ['prefix of the secret', `Bearer ${K1.slice(0, -1)}`],
    ['secret plus suffix', `Bearer ${K1}x`],
    ['two spaces', `Bearer  ${K1}`],
    ['no scheme', K1],
    ['other scheme', `Basic ${K1}`],
    ['empty token', 'Bearer '],
    ['empty header', ''],
  ])('rejects %s', (_name, header) => {
    expect(checkBearer(header, [K1, K2])).toBe(false);
  });

  it('rejects an empty token even against an empty configured secret', () => {
    expect(checkBearer('Bearer ', [''])).toBe(false);
  });

  it('rejects everything when no secret is configured', () => {
    expect(checkBearer(`Bearer ${K1}`, [])).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(checkBearer(undefined as unknown as string, [K1])).toBe(false);
  });
});

describe('signRequestCanonical', () => {
  it('signs the canonical text exactly as signRequest signs the body (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 2 ** 50 }), (b, t) => {
      expect(signRequestCanonical(K1, A, canonicalJson(b), t, N)).toBe(signRequest(K1, A, b, t, N));
    }));
  });
});

describe('signReplySized', () => {
  it('gives the same reply as signReply and its exact compact JSON size (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.integer({ min: 0, max: 2 ** 50 }), (b, t) => {
        const { reply, text, bytes } = signReplySized(K2, A, N, b, t, N);
        expect(reply).toEqual(signReply(K2, A, N, b, t, N));
        expect(bytes).toBe(Buffer.byteLength(JSON.stringify(reply)));
        expect(bytes).toBe(Buffer.byteLength(text));
        // The text is the reply: it parses to it and verifies.
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(reply)));
        expect(verifyReply([K2], A, N, JSON.parse(text))).toEqual({ t, n: N });
      }),
    );
  });
});

describe('checkControlAuthorization', () => {
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('accepts the secret as Bearer, or as the Basic password with any user name', () => {
    expect(checkControlAuthorization(`Bearer ${K1}`, [K1])).toBe(true);
    expect(checkControlAuthorization(basic('operator', K2), [K1, K2])).toBe(true);
    expect(checkControlAuthorization(basic('', K1), [K1])).toBe(true);
    expect(checkControlAuthorization(basic('a:b', K1), [K1])).toBe(false); // the password starts after the first colon
    expect(checkControlAuthorization(basic('user', `${K1}:x`), [`${K1}:x`])).toBe(true);
  });

  it.each([
    ['wrong Basic password', `Basic ${Buffer.from(`u:nope`).toString('base64')}`],
    ['Basic without a colon', `Basic ${Buffer.from(K1).toString('base64')}`],
    ['Basic with junk', 'Basic !!!not-base64!!!'],
    ['empty Basic', 'Basic '],
    ['empty password', `Basic ${Buffer.from('u:').toString('base64')}`],
    ['wrong Bearer', 'Bearer nope'],
    ['huge header', `Basic ${'A'.repeat(10_000)}`],
  ])('rejects %s', (_name, header) => {
    expect(checkControlAuthorization(header, [K1, K2])).toBe(false);
  });

  it('never throws, whatever the header (property)', () => {
    fc.assert(fc.property(fc.string(), (h) => {
      expect(typeof checkControlAuthorization(`Basic ${h}`, [K1])).toBe('boolean');
      expect(typeof checkControlAuthorization(h, [K1])).toBe('boolean');
    }));
    expect(checkControlAuthorization(undefined as unknown as string, [K1])).toBe(false);
  });
});
