import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MemberEntry, OfflineReason, ServerState } from '../membership/entry.js';
import { classifyChange, Timeline, type ClassifiedChange } from './timeline.js';

const SELF = 'http://self:1/';
const PEER = 'http://peer:1/';
const OTHER = 'http://other:1/';

function entry(state: ServerState, lastUpdate: number, extra: { reason?: OfflineReason; by?: string; monitor?: boolean; url?: string } = {}): MemberEntry {
  return {
    baseUrl: extra.url ?? PEER,
    state,
    monitor: extra.monitor ?? false,
    lastUpdate,
    ...(extra.reason !== undefined && { reason: extra.reason }),
    ...(extra.by !== undefined && { by: extra.by, downAt: lastUpdate + 5 }),
  };
}

describe('classifyChange', () => {
  const cases: Array<[string, MemberEntry | undefined, MemberEntry | undefined, ClassifiedChange | undefined]> = [
    ['a new server', undefined, entry('online', 1), { kind: 'up', cause: 'first-seen' }],
    ['this server starting', undefined, entry('online', 1, { url: SELF }), { kind: 'up', cause: 'started' }],
    ['a server first learned offline', undefined, entry('offline', 1, { reason: 'left' }), undefined],
    ['removal of a tombstone', entry('offline', 1, { reason: 'left' }), undefined, undefined],
    ['a version bump', entry('online', 1), entry('online', 2), undefined],
    ['a monitor flag', entry('online', 1), entry('online', 2, { monitor: true }), undefined],
    ['our own probes failed', entry('online', 1), entry('suspect', 1, { by: SELF }), { kind: 'suspect', cause: 'probe-failed', by: SELF }],
    ['another server suspects it', entry('online', 1), entry('suspect', 1, { by: OTHER }), { kind: 'suspect', cause: 'reported', by: OTHER }],
    ['a first-seen suspect', undefined, entry('suspect', 1, { by: OTHER }), { kind: 'suspect', cause: 'reported', by: OTHER }],
    ['a further confirmation', entry('suspect', 1, { by: OTHER }), entry('suspect', 1, { by: SELF }), undefined],
    ['a refutation', entry('suspect', 1, { by: OTHER }), entry('online', 2), { kind: 'up', cause: 'refuted' }],
    ['our suspicion timed out', entry('suspect', 1, { by: SELF }), entry('offline', 1, { reason: 'failed', by: SELF }), { kind: 'down', cause: 'suspicion-timeout', by: SELF }],
    ['declared failed elsewhere', entry('online', 1), entry('offline', 1, { reason: 'failed', by: OTHER }), { kind: 'down', cause: 'reported', by: OTHER }],
    ['offline without a reason (seed format)', entry('online', 1), entry('offline', 2), { kind: 'down', cause: 'unknown' }],
    ['a graceful leave', entry('online', 1), entry('offline', 2, { reason: 'left' }), { kind: 'left', cause: 'shutdown' }],
    ['a leave after being declared failed', entry('offline', 1, { reason: 'failed', by: OTHER }), entry('offline', 2, { reason: 'left' }), { kind: 'left', cause: 'shutdown' }],
    ['an operator takes it offline', entry('online', 1), entry('offline', 2, { reason: 'admin' }), { kind: 'operator-offline', cause: 'admin' }],
    ['an operator brings it back', entry('offline', 2, { reason: 'admin' }), entry('online', 3), { kind: 'operator-online', cause: 'admin' }],
    ['back after being declared failed', entry('offline', 1, { reason: 'failed', by: OTHER }), entry('online', 2), { kind: 'up', cause: 'recovered' }],
    ['back after leaving', entry('offline', 1, { reason: 'left' }), entry('online', 2), { kind: 'up', cause: 'rejoined' }],
    ['back, and suspected already', entry('offline', 1, { reason: 'left' }), entry('suspect', 2, { by: OTHER }), { kind: 'up', cause: 'rejoined' }],
    ['still offline, newer version', entry('offline', 1, { reason: 'left' }), entry('offline', 2, { reason: 'left' }), undefined],
    ['this server suspected by another', entry('online', 1, { url: SELF }), entry('suspect', 1, { url: SELF, by: OTHER }), { kind: 'suspect', cause: 'reported', by: OTHER }],
  ];
  it.each(cases)('%s', (_name, before, after, want) => {
    expect(classifyChange(before, after, SELF)).toEqual(want);
  });

  it('is undefined exactly when nothing visible changed, for any pair of entries', () => {
    const arbEntry = fc.record({
      state: fc.constantFrom<ServerState>('online', 'suspect', 'offline'),
      lastUpdate: fc.integer({ min: 1, max: 3 }),
      reason: fc.constantFrom<OfflineReason | undefined>('left', 'admin', 'failed', undefined),
      by: fc.constantFrom(SELF, OTHER, undefined),
    }).map(({ state, lastUpdate, reason, by }) => entry(state, lastUpdate, state === 'offline' ? { ...(reason && { reason }), ...(by && { by }) } : state === 'suspect' ? { ...(by && { by }) } : {}));
    fc.assert(fc.property(fc.option(arbEntry, { nil: undefined }), fc.option(arbEntry, { nil: undefined }), (before, after) => {
      const got = classifyChange(before, after, SELF);
      const sameState = before !== undefined && after !== undefined && before.state === after.state && before.reason === after.reason;
      if (after === undefined || sameState) expect(got).toBeUndefined();
      else if (before === undefined && after.state === 'offline') expect(got).toBeUndefined();
      else expect(got).toBeDefined();
      // An event's kind matches where the server ended up.
      if (got !== undefined && after !== undefined) {
        const offlineKinds = ['down', 'left', 'operator-offline'];
        expect(offlineKinds.includes(got.kind)).toBe(after.state === 'offline');
      }
    }));
  });
});

describe('Timeline', () => {
  const up: ClassifiedChange = { kind: 'up', cause: 'first-seen' };

  it('keeps the last `capacity` events, oldest first, with increasing positions', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 70 }), (capacity, n) => {
      const t = new Timeline(capacity);
      for (let i = 1; i <= n; i++) t.record(i * 10, `http://s${i}:1/`, false, up);
      const events = t.events();
      const kept = Math.min(n, capacity);
      expect(events).toHaveLength(kept);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: kept }, (_, k) => n - kept + k + 1));
      expect(events.map((e) => e.at)).toEqual(events.map((e) => e.seq * 10));
      expect(t.recorded).toBe(capacity === 0 ? 0 : n);
    }));
  });

  it('returns copies: callers cannot change what it holds', () => {
    const t = new Timeline(2);
    t.record(1, PEER, false, up);
    t.events().pop();
    expect(t.events()).toHaveLength(1);
    expect(t.events()[0]).toEqual({ seq: 1, at: 1, baseUrl: PEER, self: false, kind: 'up', cause: 'first-seen' });
  });
});
