import { codeOf } from '../../test/helpers/error-code.js';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CACHED_URLS, endpointUrl, normalizeBaseUrl } from './url.js';
import { ShazbotError } from '../errors.js';


describe('normalizeBaseUrl', () => {
  it.each([
    ['HTTP://Example.COM:80/api', 'http://example.com/api/'],
    ['https://h:3000', 'https://h:3000/'],
    ['https://h:443/', 'https://h/'],
    ['http://h:8080/a/b/', 'http://h:8080/a/b/'],
    ['http://10.0.0.1:3000', 'http://10.0.0.1:3000/'],
    ['http://[::1]:3000', 'http://[::1]:3000/'],
    ['https://localhost:3000/', 'https://localhost:3000/'],
  ])('%s -> %s', (raw, expected) => {
    expect(normalizeBaseUrl(raw)).toBe(expected);
  });

  it('is idempotent', () => {
    for (const raw of ['HTTP://Example.COM:80/api', 'https://h:3000', 'http://h/a%20b']) {
      const once = normalizeBaseUrl(raw);
      expect(normalizeBaseUrl(once)).toBe(once);
    }
  });

  it.each([
    ['', 'empty'],
    ['not a url', 'unparseable'],
    ['/relative/path', 'relative'],
    ['ftp://h/', 'other scheme'],
    ['file:///etc/passwd', 'file scheme'],
    ['javascript:alert(1)', 'javascript scheme'],
    ['http://user@h/', 'username'],
    ['http://user:pw@h/', 'credentials'],
    ['http://:pw@h/', 'password'],
    ['http://h/?q=1', 'query'],
    ['http://h/?', 'bare trailing ?'],
    ['http://h/#x', 'fragment'],
    ['http://h/#', 'bare trailing #'],
    ['http://', 'no host'],
  ])('rejects %j (%s) with MALFORMED', (raw) => {
    expect(codeOf(() => normalizeBaseUrl(raw))).toBe('MALFORMED');
  });

  it('rejects non-strings with MALFORMED', () => {
    expect(codeOf(() => normalizeBaseUrl(42 as unknown as string))).toBe('MALFORMED');
  });

  it('enforces the length limit on input and output', () => {
    const base = 'http://h/';
    const ok = base + 'a'.repeat(19) + '/';
    expect(normalizeBaseUrl(ok, ok.length)).toBe(ok);
    expect(codeOf(() => normalizeBaseUrl(ok + 'b', ok.length))).toBe('MALFORMED');
    // Appending the missing slash must not take the key past the limit either.
    expect(codeOf(() => normalizeBaseUrl(ok.slice(0, -1) + 'b', ok.length))).toBe('MALFORMED');
    // 5 raw characters, 12 once percent-encoded: the stored key obeys the limit too.
    expect(codeOf(() => normalizeBaseUrl('http://h/' + 'é'.repeat(5), 20))).toBe('MALFORMED');
    expect(codeOf(() => normalizeBaseUrl('http://h/' + 'a'.repeat(2000)))).toBe('MALFORMED');
  });

  it('remembers results, yet checks both length limits on every call', () => {
    expect(normalizeBaseUrl('http://h/\u00e9', 100)).toBe('http://h/%C3%A9/');
    expect(normalizeBaseUrl('http://h/\u00e9', 100)).toBe('http://h/%C3%A9/');
    // 10 characters in, 16 once normalised: a second call with a lower limit is refused.
    expect(codeOf(() => normalizeBaseUrl('http://h/\u00e9', 12))).toBe('MALFORMED');
    expect(normalizeBaseUrl('http://h/abc', 100)).toBe('http://h/abc/');
    expect(codeOf(() => normalizeBaseUrl('http://h/abc', 11))).toBe('MALFORMED');
    // A rejected URL stays rejected.
    expect(codeOf(() => normalizeBaseUrl('http://u:p@h/'))).toBe('MALFORMED');
    expect(codeOf(() => normalizeBaseUrl('http://u:p@h/'))).toBe('MALFORMED');
  });

  it('stays correct for more URLs than it remembers', () => {
    const count = CACHED_URLS + 100;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < count; i++) expect(normalizeBaseUrl(`HTTP://H${i}.example:80`)).toBe(`http://h${i}.example/`);
    }
  });

  it('never throws anything but a MalformedError, and its output is a fixed point', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })), (raw) => {
        let out: string;
        try {
          out = normalizeBaseUrl(raw);
        } catch (e) {
          expect(e).toBeInstanceOf(ShazbotError);
          expect((e as ShazbotError).code).toBe('MALFORMED');
          return;
        }
        expect(out.endsWith('/')).toBe(true);
        expect(out).toMatch(/^https?:\/\//);
        expect(normalizeBaseUrl(out)).toBe(out);
      }),
    );
  });
});

describe('endpointUrl', () => {
  it('appends clustershazbot/<name> to the base', () => {
    expect(endpointUrl('https://h:3000/', 'gossip')).toBe('https://h:3000/clustershazbot/gossip');
    expect(endpointUrl('http://h/api/', 'list')).toBe('http://h/api/clustershazbot/list');
    expect(endpointUrl('http://h/', 'control')).toBe('http://h/clustershazbot/control');
  });
});
