import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostAllowList } from './allow-list.js';

function list(...patterns: string[]): HostAllowList {
  const parsed = HostAllowList.parse(patterns);
  if (!(parsed instanceof HostAllowList)) throw new Error(parsed.problems.join('; '));
  return parsed;
}

describe('HostAllowList', () => {
  it('allows everything when empty', () => {
    expect(list().restricts).toBe(false);
    expect(list().allows('http://169.254.169.254/')).toBe(true);
  });

  it('matches exact hosts, with or without a port', () => {
    const l = list('app.internal', 'db.internal:8080', '10.0.0.7', '[fd00::1]:3000');
    expect(l.allows('https://app.internal/')).toBe(true);
    expect(l.allows('http://app.internal:1234/x/')).toBe(true);
    expect(l.allows('http://db.internal:8080/')).toBe(true);
    expect(l.allows('http://db.internal:8081/')).toBe(false);
    expect(l.allows('http://10.0.0.7:3000/')).toBe(true);
    expect(l.allows('http://[fd00::1]:3000/')).toBe(true);
    expect(l.allows('http://[fd00::1]:3001/')).toBe(false);
    expect(l.allows('http://169.254.169.254/')).toBe(false);
    expect(l.allows('http://app.internal.evil.com/')).toBe(false);
    expect(l.allows('http://evilapp.internal/')).toBe(false);
  });

  it('a *. pattern matches subdomains only, case-insensitively', () => {
    const l = list('*.Svc.Cluster.Local');
    expect(l.allows('http://api-0.svc.cluster.local:3000/')).toBe(true);
    expect(l.allows('http://a.b.svc.cluster.local/')).toBe(true);
    expect(l.allows('http://svc.cluster.local/')).toBe(false);
    expect(l.allows('http://xsvc.cluster.local/')).toBe(false);
    expect(l.allows('http://svc.cluster.local.evil/')).toBe(false);
  });

  it('default ports count: a pattern with :80 or :443 matches URLs without a port', () => {
    expect(list('a.example:443').allows('https://a.example/')).toBe(true);
    expect(list('a.example:80').allows('http://a.example/')).toBe(true);
    expect(list('a.example:443').allows('http://a.example/')).toBe(false);
  });

  it.each(['http://a.example', 'a.example/path', 'user@a.example', '*', '*.', 'a b', ''])('rejects the malformed pattern %j', (p) => {
    const parsed = HostAllowList.parse([p]);
    expect(parsed).not.toBeInstanceOf(HostAllowList);
  });

  it('never throws, whatever the pattern or URL (property)', () => {
    fc.assert(fc.property(fc.array(fc.string()), fc.string(), (patterns, url) => {
      const parsed = HostAllowList.parse(patterns);
      if (parsed instanceof HostAllowList) expect(typeof parsed.allows(url)).toBe('boolean');
      else expect(parsed.problems.length).toBeGreaterThan(0);
    }));
  });
});
