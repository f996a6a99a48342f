import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/random.js';
import { ShazbotError } from '../errors.js';
import { canonicalJson } from '../protocol/canonical-json.js';
import { makeNonce, signRequestCanonical, verifyReply } from '../protocol/signature.js';
import { SECRET, world } from './test-cluster.js';

describe('handleGossipWire: the signature over the received text', () => {
  it('accepts the canonical text it was signed over, or any spelling of the same body, and answers with the reply text', async () => {
    const w = world(41);
    const a = w.make(0);
    await Promise.all([a.start(), w.clock.advance(100)]);
    const url = `${a.baseUrl}clustershazbot/gossip`;
    const rng = seededRandom(9);
    const body = { message: 'gossip', online: [{ baseUrl: 'http://x.test:3000/', monitor: false, lastUpdate: w.clock.now() }], ping: true };
    const canonical = canonicalJson(body);

    const n1 = makeNonce(rng);
    const fast = await a.handleGossipWire(signRequestCanonical(SECRET, url, canonical, w.clock.now(), n1), JSON.parse(canonical), canonical);
    expect(JSON.parse(fast.text)).toEqual(JSON.parse(JSON.stringify(fast.reply)));
    expect(verifyReply([SECRET], url, n1, JSON.parse(fast.text))).not.toBeUndefined();
    expect(a.member('http://x.test:3000/')?.state).toBe('online');

    // Another spelling of the same JSON (spaces, key order): the text does not match the signature, the canonical form does.
    const spelled = JSON.stringify({ ping: true, online: body.online, message: 'gossip' }, null, 2);
    const n2 = makeNonce(rng);
    await expect(a.handleGossipWire(signRequestCanonical(SECRET, url, canonical, w.clock.now(), n2), JSON.parse(spelled), spelled)).resolves.toBeDefined();

    // A text signed with another key is refused both ways, and changes nothing.
    const forged = { ...body, online: [{ baseUrl: 'http://evil.test:3000/', monitor: true, lastUpdate: w.clock.now() }] };
    const forgedText = canonicalJson(forged);
    const e = await a.handleGossipWire(signRequestCanonical('another-secret-0123456789', url, forgedText, w.clock.now(), makeNonce(rng)), forged, forgedText)
      .then(() => undefined, (x: unknown) => x);
    expect((e as ShazbotError).status).toBe(401);
    expect(a.member('http://evil.test:3000/')).toBeUndefined();
  });
});
