import { describe, expect, it } from 'vitest';
import type { MemberEntry } from '../membership/entry.js';
import { holds } from './dissemination.js';

const X = 'http://x/';
const e = (o: Partial<MemberEntry>): MemberEntry => ({ baseUrl: X, state: 'online', monitor: false, lastUpdate: 10, ...o });

describe('holds: whether a peer that sent one entry holds a queued one (and it need not be echoed back)', () => {
  it.each<[string, MemberEntry | undefined, MemberEntry, boolean]>([
    ['sent nothing about it', undefined, e({}), false],
    ['the same entry', e({}), e({}), true],
    ['a newer version', e({ lastUpdate: 11 }), e({ state: 'suspect', by: 'http://a/' }), true],
    ['an older version', e({ lastUpdate: 9 }), e({}), false],
    ['the same suspicion', e({ state: 'suspect', by: 'http://a/' }), e({ state: 'suspect', by: 'http://a/' }), true],
    ['another confirmation of it', e({ state: 'suspect', by: 'http://a/' }), e({ state: 'suspect', by: 'http://b/' }), false],
    ['online where we queue a suspicion', e({}), e({ state: 'suspect', by: 'http://a/' }), false],
    ['offline for another reason', e({ state: 'offline', reason: 'left' }), e({ state: 'offline', reason: 'failed', by: 'http://a/' }), false],
  ])('%s → %s', (_label, theirs, mine, expected) => {
    expect(holds(theirs, mine)).toBe(expected);
  });
});
