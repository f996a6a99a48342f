import { describe, expect, it } from 'vitest';
import { MalformedError } from '../errors.js';
import { runWithSession } from './session-context.js';
import { decodeToken, encodeToken, MAX_TOKEN_ENTRIES, type SessionWrite } from './session.js';
import type { Version } from './types.js';
import { notifyWrite, onStateWrite } from './write-observers.js';

const v = (t: number, replica = 'http://a:1/#x'): Version => ({ t, replica });

/** What a request's response header holds: each value setHeader got, decoded. */
function headerLog(): { set: (token: string) => void; tokens: string[]; last: () => SessionWrite[] | undefined } {
  const tokens: string[] = [];
  return { set: (t) => tokens.push(t), tokens, last: () => (tokens.length === 0 ? undefined : decodeToken(tokens.at(-1)!)) };
}

/** Resolves after a macrotask, so work continues in a later turn (as after real I/O). */
const later = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('onStateWrite / notifyWrite', () => {
  it('calls every listener with the write, ignores one that throws, and unsubscribes', () => {
    const seen: string[] = [];
    const offThrowing = onStateWrite(() => {
      throw new Error('listener bug');
    });
    const off = onStateWrite((w) => seen.push(`${w.map}/${w.key}@${w.version.t}`));
    expect(() => notifyWrite('m', 'k', v(1))).not.toThrow();
    off();
    offThrowing();
    notifyWrite('m', 'k2', v(2));
    expect(seen).toEqual(['m/k@1']);
  });
});

describe('runWithSession', () => {
  it('without an incoming session: no header until a write, then the token of the writes, awaited or not', async () => {
    const h = headerLog();
    await runWithSession(undefined, h.set, async () => {
      expect(h.tokens).toEqual([]);
      notifyWrite('m', 'a', v(10));
      await later();
      notifyWrite('m', 'b', v(11));
      void later().then(() => notifyWrite('n', 'c', v(12)));
      await later();
      await later();
    });
    expect(h.last()).toEqual([
      { map: 'm', key: 'a', version: v(10) }, { map: 'm', key: 'b', version: v(11) }, { map: 'n', key: 'c', version: v(12) },
    ]);
    expect(h.tokens).toHaveLength(3);
  });

  it('merges with the incoming session (echoed at once): the newest version per key, the latest write last', () => {
    const incoming = encodeToken([{ map: 'm', key: 'a', version: v(20) }, { map: 'm', key: 'b', version: v(5) }]);
    const h = headerLog();
    const result = runWithSession(` ${incoming} `, h.set, () => {
      expect(h.last()).toEqual(decodeToken(incoming));
      notifyWrite('m', 'a', v(15)); // older than what the session saw: the session keeps 20
      notifyWrite('m', 'b', v(30));
      return 'handler result';
    });
    expect(result).toBe('handler result');
    expect(h.last()).toEqual([{ map: 'm', key: 'a', version: v(20) }, { map: 'm', key: 'b', version: v(30) }]);
  });

  it('keeps requests apart, even interleaved, and ignores writes made outside any request', async () => {
    const x = headerLog();
    const y = headerLog();
    notifyWrite('m', 'outside', v(1));
    await Promise.all([
      runWithSession(undefined, x.set, async () => {
        notifyWrite('m', 'x1', v(2));
        await later();
        notifyWrite('m', 'x2', v(4));
      }),
      runWithSession('', y.set, async () => {
        await later();
        notifyWrite('m', 'y1', v(3));
      }),
    ]);
    notifyWrite('m', 'after', v(5));
    expect(x.last()?.map((w) => w.key)).toEqual(['x1', 'x2']);
    expect(y.last()?.map((w) => w.key)).toEqual(['y1']);
  });

  it(`keeps the ${MAX_TOKEN_ENTRIES} most recent keys`, () => {
    const h = headerLog();
    runWithSession(undefined, h.set, () => {
      for (let i = 0; i < 40; i++) notifyWrite('m', `k${i}`, v(100 + i));
      notifyWrite('m', 'k30', v(500)); // rewritten: now the most recent
    });
    const keys = h.last()!.map((w) => w.key);
    expect(keys).toHaveLength(MAX_TOKEN_ENTRIES);
    expect(keys.at(-1)).toBe('k30');
    expect(keys[0]).toBe('k24'); // k24..k39 were the last 16; k30 moved to the end
  });

  it('refuses a malformed incoming session with MalformedError before running anything', () => {
    for (const header of ['not a token!', Buffer.from('{"a":1}').toString('base64url'), 'x'.repeat(5_000)]) {
      let ran = false;
      const h = headerLog();
      expect(() => runWithSession(header, h.set, () => (ran = true))).toThrow(MalformedError);
      expect([ran, h.tokens]).toEqual([false, []]);
    }
  });

  it('an empty incoming session (a token of no writes) sets no header by itself', () => {
    const h = headerLog();
    runWithSession(encodeToken([]), h.set, () => undefined);
    expect(h.tokens).toEqual([]);
  });
});
