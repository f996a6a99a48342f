/** The acknowledgements a write needs: a pure rule, as a table. */
import { describe, expect, it } from 'vitest';
import type { MemberEntry } from '../membership/entry.js';
import { acksNeeded } from './acks.js';

const SELF = 'http://a/';
const m = (baseUrl: string, state: MemberEntry['state'], reason?: MemberEntry['reason']): MemberEntry =>
  ({ baseUrl, state, monitor: false, lastUpdate: 1, ...(reason === undefined ? {} : { reason }) }) as MemberEntry;

describe('acksNeeded', () => {
  const five = [m(SELF, 'online'), m('http://b/', 'online'), m('http://c/', 'suspect'), m('http://d/', 'online'), m('http://e/', 'online')];
  it.each([
    ['local', five, 4, 1],
    ['majority', five, 4, 3],
    ['all', five, 4, 5],
    // two declared failed by a partition still count: the minority side needs 3 it cannot get
    ['majority', [m(SELF, 'online'), m('http://b/', 'online'), m('http://c/', 'offline', 'failed'), m('http://d/', 'offline', 'failed'), m('http://e/', 'offline', 'failed')], 1, 3],
    // servers that left or were taken offline by an operator do not count
    ['majority', [m(SELF, 'online'), m('http://b/', 'online'), m('http://c/', 'offline', 'left'), m('http://d/', 'offline', 'admin')], 1, 2],
    ['all', [m(SELF, 'online'), m('http://b/', 'online'), m('http://c/', 'offline', 'failed')], 1, 2],
    // the table does not list this server yet (starting): it still counts itself
    ['majority', [m('http://b/', 'online'), m('http://c/', 'online')], 2, 2],
    ['majority', [], 0, 1],
  ] as const)('%s of %j (%i peers up) needs %i', (consistency, members, up, needed) => {
    expect(acksNeeded(consistency, members, up, SELF)).toBe(needed);
  });
});
