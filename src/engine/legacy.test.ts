import { describe, expect, it } from 'vitest';
import { ShazbotError } from '../errors.js';
import { CONTROL, SECRET, world } from './test-cluster.js';

/** A 1.x gossip body: unsigned seed format. */
function v1Body(lastUpdate: number) {
  return { message: 'gossip' as const, online: [{ baseUrl: 'http://v1.test:3000/', monitor: false, lastUpdate }], offline: [] };
}

async function status(p: Promise<unknown>): Promise<number | 'ok'> {
  return p.then(() => 'ok' as const, (e: unknown) => (e instanceof ShazbotError ? e.status : -1));
}

describe('1.x compatibility (legacyAuth)', () => {
  it('is off by default: the raw secret authorises nothing', async () => {
    const w = world(21);
    const a = w.make(0);
    await Promise.all([a.start(), w.clock.advance(100)]);
    expect(await status(a.handleGossip(SECRET, v1Body(w.clock.now())))).toBe(401);
    expect(await status(a.handleList(CONTROL))).toBe(401);
    expect(await status(a.handleControl(CONTROL, { message: 'control', online: false }))).toBe(401);
    expect(a.member('http://v1.test:3000/')).toBeUndefined();
    expect(a.self().state).toBe('online');
  });

  it('accepts 1.x gossip and answers it unsigned with the whole list; raw control secret for list and control', async () => {
    const w = world(22);
    const a = w.make(0, { legacyAuth: true });
    await Promise.all([a.start(), w.clock.advance(100)]);
    const reply = await a.handleGossip(SECRET, v1Body(w.clock.now())) as unknown as Record<string, unknown>;
    expect(Object.keys(reply).sort()).toEqual(['message', 'offline', 'online']);
    expect((reply['online'] as Array<{ baseUrl: string }>).map((s) => s.baseUrl).sort()).toEqual([a.baseUrl, 'http://v1.test:3000/'].sort());
    expect(a.member('http://v1.test:3000/')?.state).toBe('online');
    // Still validated: a junk entry is refused and changes nothing.
    expect(await status(a.handleGossip(SECRET, { message: 'gossip', online: [{ baseUrl: 'ftp://x/', monitor: false, lastUpdate: 1 }] }))).toBe(400);
    // The signed protocol still works beside it, and a wrong raw secret is refused.
    expect(await status(a.handleGossip('not-the-secret-at-all', v1Body(w.clock.now())))).toBe(401);
    expect((await a.handleList(CONTROL)).offline).toEqual([]);
    await a.handleControl(CONTROL, { message: 'control', online: false });
    expect(a.self().state).toBe('offline');
  });

  it('talks 1.x to a peer that refuses signed requests, and signed again once it stops taking 1.x', async () => {
    const w = world(23);
    const a = w.make(0, { legacyAuth: true, probeIntervalMs: 500, probeTimeoutMs: 200, indirectProbeTimeoutMs: 300 });
    await Promise.all([a.start(), w.clock.advance(100)]);
    // A 1.x peer on the memory network: raw secret or 401, unsigned whole lists.
    const seen: string[] = [];
    let speaksV1 = true;
    const peer = 'http://v1.test:3000/';
    w.net.route(peer, (req) => {
      const auth = req.headers?.['authorization'] ?? '';
      seen.push(auth.startsWith('SHAZBOT-HMAC-SHA256') ? 'signed' : auth === SECRET ? 'raw' : 'other');
      if (speaksV1 ? auth !== SECRET : !auth.startsWith('SHAZBOT-HMAC-SHA256')) return { status: 401, headers: {}, body: '{"error":"unauthorized"}' };
      return { status: 200, headers: {}, body: JSON.stringify({ message: 'gossip', online: [{ baseUrl: peer, monitor: false, lastUpdate: 5 }], offline: [] }) };
    });
    await a.handleGossip(SECRET, { message: 'gossip', online: [{ baseUrl: peer, monitor: false, lastUpdate: 5 }] });
    await w.clock.advance(5_000);
    expect(seen[0]).toBe('signed');
    expect(seen).toContain('raw');
    // Once it answered a 1.x request, it gets 1.x requests only.
    const after = seen.slice(seen.indexOf('raw'));
    expect(after.every((s) => s === 'raw')).toBe(true);
    expect(a.member(peer)?.state).toBe('online');
    // Upgraded without legacy mode: 401 to raw; a switches back to signed.
    speaksV1 = false;
    seen.length = 0;
    await w.clock.advance(5_000);
    expect(seen).toContain('signed');
  });
});
