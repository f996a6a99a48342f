import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/helpers/error-code.js';
import type { MemberEntry } from '../membership/entry.js';
import { parseGossipExtras, parseGossipMessage, toServerList } from './validate.js';

const NOW = 1_700_000_000_000;
const LIMITS = { maxEntries: 100, maxUrlLength: 1024, maxFutureMs: 3_600_000 };

describe('failure claims on the wire', () => {
  const suspect: MemberEntry = { baseUrl: 'http://a.test/', state: 'suspect', monitor: false, lastUpdate: NOW - 5, by: 'http://b.test/', downAt: NOW - 1 };
  const failed: MemberEntry = { baseUrl: 'http://c.test/', state: 'offline', monitor: true, lastUpdate: NOW - 9, reason: 'failed', by: 'http://b.test/', downAt: NOW };

  it('a suspect travels in the online list with suspect: true, and round-trips', () => {
    const wire = toServerList([suspect, failed]);
    expect(wire.online).toEqual([{ baseUrl: 'http://a.test/', monitor: false, lastUpdate: NOW - 5, suspect: true, by: 'http://b.test/', downAt: NOW - 1 }]);
    expect(parseGossipMessage({ message: 'gossip', ...wire }, NOW, LIMITS)).toEqual([suspect, failed]);
  });

  it('a seed-format reader of the same message sees the suspect as online', () => {
    const wire = JSON.parse(JSON.stringify(toServerList([suspect]))) as { online: Array<{ baseUrl: string }> };
    expect(wire.online.map((s) => s.baseUrl)).toEqual(['http://a.test/']);
  });

  it('claim fields on entries that are not claims are dropped; wrong types are malformed', () => {
    const online = { baseUrl: 'http://a.test/', monitor: false, lastUpdate: 1, by: 'http://b.test/', downAt: 5 };
    expect(parseGossipMessage({ message: 'gossip', online: [online] }, NOW, LIMITS)).toEqual([
      { baseUrl: 'http://a.test/', state: 'online', monitor: false, lastUpdate: 1 },
    ]);
    const bad = (extra: Record<string, unknown>) => () =>
      parseGossipMessage({ message: 'gossip', online: [{ baseUrl: 'http://a.test/', monitor: false, lastUpdate: 1, ...extra }] }, NOW, LIMITS);
    expect(codeOf(bad({ suspect: 'yes' }))).toBe('MALFORMED');
    expect(codeOf(bad({ suspect: true, by: 'ftp://x/' }))).toBe('MALFORMED');
    expect(codeOf(bad({ suspect: true, by: 42 }))).toBe('MALFORMED');
    expect(codeOf(bad({ suspect: true, downAt: -1 }))).toBe('MALFORMED');
    expect(codeOf(bad({ suspect: true, downAt: NOW + 2 * 3_600_000 }))).toBe('MALFORMED');
  });
});

describe('parseGossipExtras', () => {
  it('reads the optional message fields, and none of them on a seed-format message', () => {
    expect(parseGossipExtras({ message: 'gossip', online: [] }, LIMITS)).toEqual({
      digest: undefined, ping: false, probe: undefined, probeOk: undefined, full: false,
    });
    expect(parseGossipExtras({ message: 'gossip', online: [], digest: '0123456789abcdef:12', ping: true, probe: 'HTTP://X.test', probeOk: false, full: true }, LIMITS)).toEqual({
      digest: '0123456789abcdef:12', ping: true, probe: 'http://x.test/', probeOk: false, full: true,
    });
  });

  it.each([
    [{ digest: 'xyz' }],
    [{ digest: 12 }],
    [{ ping: 'true' }],
    [{ full: 1 }],
    [{ probeOk: 'no' }],
    [{ probe: 5 }],
    [{ probe: 'javascript:alert(1)' }],
    [{ probe: 'http://user:pw@x.test/' }],
  ])('rejects %j as malformed', (extra) => {
    expect(codeOf(() => parseGossipExtras({ message: 'gossip', online: [], ...extra }, LIMITS))).toBe('MALFORMED');
  });
});
