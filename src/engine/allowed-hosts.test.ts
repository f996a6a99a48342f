import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/random.js';
import { makeNonce, signRequest } from '../protocol/signature.js';
import { SECRET, world } from './test-cluster.js';

describe('allowedHosts (virtual time)', () => {
  it('drops gossiped and listed entries for other hosts and never contacts them', async () => {
    const w = world(31);
    w.list.body = JSON.stringify({ online: [{ baseUrl: 'http://169.254.169.254/', monitor: true, lastUpdate: w.clock.now() }] });
    const opts = { allowedHosts: ['*.test:3000'] };
    const a = w.make(0, opts);
    const b = w.make(1, opts);
    for (const c of [a, b]) await Promise.all([c.start(), w.clock.advance(100)]);
    // A holder of the gossip secret pushes a URL outside the list, correctly signed: accepted, but the entry is dropped.
    const body = { message: 'gossip' as const, online: [{ baseUrl: 'http://internal-admin.local:8080/', monitor: true, lastUpdate: w.clock.now() }] };
    const auth = signRequest(SECRET, `${a.baseUrl}clustershazbot/gossip`, body, w.clock.now(), makeNonce(seededRandom(5)));
    await a.handleGossip(auth, body);
    await w.clock.advance(20_000);
    for (const c of [a, b]) {
      expect(c.members().map((m) => m.baseUrl).sort()).toEqual([a.baseUrl, b.baseUrl].sort());
    }
    const contacted = new Set(w.net.requests.map((r) => new URL(r.url).host));
    expect([...contacted].sort()).toEqual(['master-list.test', 's0.test:3000', 's1.test:3000']);
  });
});
