import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { MemberEntry } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
import { MalformedError, ShazbotError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { parseControlMessage, parseGossipMessage, parseServerList, toServerList, type MessageLimits } from './validate.js';

const NOW = 1_700_000_000_000;
const LIMITS: MessageLimits = { maxEntries: 100, maxUrlLength: 200, maxFutureMs: 60_000 };
const good = { baseUrl: 'https://a.example:3000/', monitor: false, lastUpdate: NOW };

function failure(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ShazbotError)) throw e;
    return { code: e.code, message: e.message };
  }
  return undefined;
}

function byUrl(a: MemberEntry, b: MemberEntry): number {
  return a.baseUrl < b.baseUrl ? -1 : a.baseUrl > b.baseUrl ? 1 : 0;
}

describe('parseGossipMessage', () => {
  it('parses and normalises a valid message', () => {
    const out = parseGossipMessage(
      {
        message: 'gossip',
        online: [{ baseUrl: 'HTTPS://A.example:3000', monitor: true, lastUpdate: NOW, extra: { x: 1 } }],
        offline: [
          { baseUrl: 'http://b:80/', monitor: false, lastUpdate: 0, reason: 'left' },
          { baseUrl: 'http://c/', monitor: false, lastUpdate: NOW + 60_000, reason: 'exploded' },
          { baseUrl: 'http://d/', monitor: false, lastUpdate: 5, reason: 7 },
        ],
        future: 'ignored',
      },
      NOW,
      LIMITS,
    );
    expect(out).toEqual([
      { baseUrl: 'https://a.example:3000/', state: 'online', monitor: true, lastUpdate: NOW },
      { baseUrl: 'http://b/', state: 'offline', monitor: false, lastUpdate: 0, reason: 'left' },
      { baseUrl: 'http://c/', state: 'offline', monitor: false, lastUpdate: NOW + 60_000 },
      { baseUrl: 'http://d/', state: 'offline', monitor: false, lastUpdate: 5 },
    ]);
    expect(out[2]).not.toHaveProperty('reason');
  });

  it('keeps every known reason on offline entries and drops reasons on online entries', () => {
    for (const reason of ['left', 'admin', 'failed'] as const) {
      const [entry] = parseGossipMessage({ message: 'gossip', online: [], offline: [{ ...good, reason }] }, NOW, LIMITS);
      expect(entry?.reason).toBe(reason);
    }
    const [online] = parseGossipMessage({ message: 'gossip', online: [{ ...good, reason: 'left' }] }, NOW, LIMITS);
    expect(online).not.toHaveProperty('reason');
  });

  it('accepts an absent or undefined offline list and keeps duplicates', () => {
    expect(parseGossipMessage({ message: 'gossip', online: [] }, NOW, LIMITS)).toEqual([]);
    expect(parseGossipMessage({ message: 'gossip', online: [good], offline: undefined }, NOW, LIMITS)).toHaveLength(1);
    expect(parseGossipMessage({ message: 'gossip', online: [good, good], offline: [good] }, NOW, LIMITS)).toHaveLength(3);
  });

  it('does not read inherited properties', () => {
    const body = Object.create({ message: 'gossip', online: [] }) as object;
    expect(failure(() => parseGossipMessage(body, NOW, LIMITS))?.code).toBe('MALFORMED');
  });

  const bad = (patch: Record<string, unknown>) => ({ message: 'gossip', online: [good], offline: [], ...patch });
  const badEntry = (patch: Record<string, unknown>) => bad({ online: [good, { ...good, ...patch }] });
  it.each([
    ['undefined body', undefined, 'body'],
    ['null body', null, 'body'],
    ['array body', [], 'body'],
    ['string body', 'gossip', 'body'],
    ['Date body', new Date(0), 'body'],
    ['missing message', { online: [] }, 'message'],
    ['wrong message', bad({ message: 'control' }), 'message'],
    ['message in other case', bad({ message: 'Gossip' }), 'message'],
    ['missing online', { message: 'gossip' }, 'online'],
    ['null online', bad({ online: null }), 'online'],
    ['object online', bad({ online: { 0: good, length: 1 } }), 'online'],
    ['null offline', bad({ offline: null }), 'offline'],
    ['string offline', bad({ offline: 'none' }), 'offline'],
    ['null entry', bad({ online: [null] }), 'online[0]'],
    ['array entry', bad({ offline: [[]] }), 'offline[0]'],
    ['string entry', bad({ online: [good, 'https://a/'] }), 'online[1]'],
    ['missing baseUrl', badEntry({ baseUrl: undefined }), 'online[1].baseUrl'],
    ['numeric baseUrl', badEntry({ baseUrl: 5 }), 'online[1].baseUrl'],
    ['relative baseUrl', badEntry({ baseUrl: '/x/' }), 'online[1].baseUrl'],
    ['ftp baseUrl', badEntry({ baseUrl: 'ftp://a/' }), 'online[1].baseUrl'],
    ['baseUrl with query', badEntry({ baseUrl: 'http://a/?x' }), 'online[1].baseUrl'],
    ['baseUrl with credentials', badEntry({ baseUrl: 'http://u:p@a/' }), 'online[1].baseUrl'],
    ['over-long baseUrl', badEntry({ baseUrl: `http://a/${'x'.repeat(300)}/` }), 'online[1].baseUrl'],
    ['missing monitor', badEntry({ monitor: undefined }), 'online[1].monitor'],
    ['string monitor', badEntry({ monitor: 'false' }), 'online[1].monitor'],
    ['numeric monitor', badEntry({ monitor: 0 }), 'online[1].monitor'],
    ['missing lastUpdate', badEntry({ lastUpdate: undefined }), 'online[1].lastUpdate'],
    ['string lastUpdate', badEntry({ lastUpdate: String(NOW) }), 'online[1].lastUpdate'],
    ['fractional lastUpdate', badEntry({ lastUpdate: 1.5 }), 'online[1].lastUpdate'],
    ['NaN lastUpdate', badEntry({ lastUpdate: NaN }), 'online[1].lastUpdate'],
    ['unsafe lastUpdate', badEntry({ lastUpdate: 2 ** 53 }), 'online[1].lastUpdate'],
    ['negative lastUpdate', badEntry({ lastUpdate: -1 }), 'online[1].lastUpdate'],
    ['future lastUpdate', badEntry({ lastUpdate: NOW + 60_001 }), 'online[1].lastUpdate'],
    ['bad offline entry', bad({ offline: [good, good, { ...good, monitor: null }] }), 'offline[2].monitor'],
  ])('rejects %s with MALFORMED naming the path', (_name, body, path) => {
    const f = failure(() => parseGossipMessage(body, NOW, LIMITS));
    expect(f?.code).toBe('MALFORMED');
    expect(f?.message.startsWith(`${path}:`)).toBe(true);
  });

  it('rejects too many entries with TOO_LARGE before looking at any entry', () => {
    const many = new Array(LIMITS.maxEntries).fill('not even an object');
    expect(failure(() => parseGossipMessage({ message: 'gossip', online: many, offline: ['x'] }, NOW, LIMITS))?.code).toBe('TOO_LARGE');
    // A sparse array with a huge length is rejected without iterating it.
    const huge: unknown[] = [];
    huge.length = 2 ** 32 - 1;
    expect(failure(() => parseGossipMessage({ message: 'gossip', online: huge }, NOW, LIMITS))?.code).toBe('TOO_LARGE');
    const exact = new Array(LIMITS.maxEntries).fill(good);
    expect(parseGossipMessage({ message: 'gossip', online: exact }, NOW, LIMITS)).toHaveLength(LIMITS.maxEntries);
  });

  it('never throws anything but a ShazbotError on arbitrary input (property)', () => {
    const entryish = fc.oneof(
      fc.anything(),
      fc.record(
        { baseUrl: fc.oneof(fc.string(), fc.webUrl(), fc.anything()), monitor: fc.oneof(fc.boolean(), fc.anything()), lastUpdate: fc.oneof(fc.integer(), fc.double(), fc.anything()), reason: fc.anything() },
        { requiredKeys: [] },
      ),
    );
    const bodyish = fc.oneof(
      fc.anything(),
      fc.record({ message: fc.oneof(fc.constant('gossip'), fc.anything()), online: fc.oneof(fc.array(entryish), fc.anything()), offline: fc.oneof(fc.array(entryish), fc.anything()) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(bodyish, (body) => {
        for (const fn of [() => parseGossipMessage(body, NOW, LIMITS), () => parseServerList(body, NOW, LIMITS), () => parseControlMessage(body)]) {
          try {
            fn();
          } catch (e) {
            expect(e).toBeInstanceOf(ShazbotError);
            expect(['MALFORMED', 'TOO_LARGE']).toContain((e as ShazbotError).code);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips valid lists through toServerList (property)', () => {
    const entry = fc
      .record({
        // Not `xn--…`: an invalid punycode label is not a valid host at all.
        host: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).filter((h) => !h.startsWith('xn--')),
        port: fc.integer({ min: 1, max: 65535 }),
        path: fc.stringMatching(/^(\/[a-z0-9]{1,5}){0,3}\/?$/),
        https: fc.boolean(),
        state: fc.constantFrom('online' as const, 'offline' as const),
        monitor: fc.boolean(),
        lastUpdate: fc.integer({ min: 0, max: NOW + LIMITS.maxFutureMs }),
        reason: fc.constantFrom(undefined, 'left' as const, 'admin' as const, 'failed' as const),
      })
      .map(({ host, port, path, https, state, monitor, lastUpdate, reason }): MemberEntry => {
        const baseUrl = normalizeBaseUrl(`${https ? 'https' : 'http'}://${host}:${port}${path}`);
        return state === 'offline' && reason !== undefined
          ? { baseUrl, state, monitor, lastUpdate, reason }
          : { baseUrl, state, monitor, lastUpdate };
      });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: LIMITS.maxEntries }), (entries) => {
        const list = toServerList(entries);
        const wire: unknown = JSON.parse(JSON.stringify({ message: 'gossip', ...list }));
        const back = parseGossipMessage(wire, NOW, LIMITS);
        expect(back.slice().sort(byUrl)).toEqual(entries.slice().sort(byUrl));
        expect(parseServerList(JSON.parse(JSON.stringify(list)), NOW, LIMITS).slice().sort(byUrl)).toEqual(entries.slice().sort(byUrl));
      }),
    );
  });
});

describe('parseServerList', () => {
  it('does not require message, but a present message must be a string', () => {
    expect(parseServerList({ online: [good] }, NOW, LIMITS)).toHaveLength(1);
    expect(parseServerList({ message: 'anything', online: [good] }, NOW, LIMITS)).toHaveLength(1);
    expect(failure(() => parseServerList({ message: 1, online: [good] }, NOW, LIMITS))?.code).toBe('MALFORMED');
    expect(failure(() => parseServerList({ online: null }, NOW, LIMITS))?.code).toBe('MALFORMED');
    expect(failure(() => parseServerList([], NOW, LIMITS))?.code).toBe('MALFORMED');
    expect(failure(() => parseServerList({ online: new Array(101).fill(good) }, NOW, LIMITS))?.code).toBe('TOO_LARGE');
  });
});

describe('parseControlMessage', () => {
  it('accepts both directions and ignores extra fields', () => {
    expect(parseControlMessage({ message: 'control', online: true })).toEqual({ online: true });
    expect(parseControlMessage({ message: 'control', online: false, note: 'x' })).toEqual({ online: false });
  });

  it('throws MalformedError instances', () => {
    expect(() => parseControlMessage(null)).toThrow(MalformedError);
  });

  it.each([
    ['null', null],
    ['array', [{ message: 'control', online: true }]],
    ['missing message', { online: true }],
    ['wrong message', { message: 'gossip', online: true }],
    ['missing online', { message: 'control' }],
    ['string online', { message: 'control', online: 'true' }],
    ['numeric online', { message: 'control', online: 1 }],
  ])('rejects %s with MALFORMED', (_name, body) => {
    expect(failure(() => parseControlMessage(body))?.code).toBe('MALFORMED');
  });
});

describe('toServerList', () => {
  it('splits by state, sorts by baseUrl and keeps offline reasons', () => {
    const list = toServerList([
      { baseUrl: 'http://b/', state: 'online', monitor: true, lastUpdate: 2 },
      { baseUrl: 'http://z/', state: 'offline', monitor: false, lastUpdate: 3, reason: 'admin' },
      { baseUrl: 'http://a/', state: 'online', monitor: false, lastUpdate: 1 },
      { baseUrl: 'http://B/', state: 'offline', monitor: false, lastUpdate: 4 },
    ]);
    expect(list).toEqual({
      online: [
        { baseUrl: 'http://a/', monitor: false, lastUpdate: 1 },
        { baseUrl: 'http://b/', monitor: true, lastUpdate: 2 },
      ],
      offline: [
        { baseUrl: 'http://B/', monitor: false, lastUpdate: 4 },
        { baseUrl: 'http://z/', monitor: false, lastUpdate: 3, reason: 'admin' },
      ],
    });
    expect(list.offline[0]).not.toHaveProperty('reason');
  });

  it('returns empty lists for no entries', () => {
    expect(toServerList([])).toEqual({ online: [], offline: [] });
  });

  it('writes every field in canonical order, so a list serialises as its canonical JSON', () => {
    const list = toServerList([
      { baseUrl: 'http://a/', state: 'online', monitor: true, lastUpdate: 1 },
      { baseUrl: 'http://b/', state: 'suspect', monitor: false, lastUpdate: 2, by: 'http://a/', downAt: 3 },
      { baseUrl: 'http://c/', state: 'offline', monitor: false, lastUpdate: 4, reason: 'failed', by: 'http://a/', downAt: 5 },
      { baseUrl: 'http://d/', state: 'offline', monitor: false, lastUpdate: 6, reason: 'left' },
    ]);
    for (const server of [...list.online, ...list.offline]) expect(Object.keys(server)).toEqual(Object.keys(server).sort());
    expect(list.online[1]).toEqual({ baseUrl: 'http://b/', by: 'http://a/', downAt: 3, lastUpdate: 2, monitor: false, suspect: true });
    expect(JSON.stringify(list.online)).toBe(canonicalJson(list.online));
    expect(JSON.stringify(list.offline)).toBe(canonicalJson(list.offline));
  });
});
