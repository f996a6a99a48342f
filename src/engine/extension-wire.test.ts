/**
 * The `ext` field on the wire: what a server without extensions sends (the
 * same bytes as before extensions existed), what one with extensions adds,
 * and what a malformed field costs the receiver (nothing but the field).
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/random.js';
import type { Transport } from '../core/transport.js';
import { makeNonce, signRequestCanonical } from '../protocol/signature.js';
import { createCluster, type Cluster } from './cluster.js';
import type { EngineExtension, ExchangeKind } from './extension.js';
import { isJsonWithin, MAX_SECTION_DEPTH, parseEnvelope } from './extension-wire.js';
import { CONTROL, SECRET, world, type TestWorld } from './test-cluster.js';

/** Server i of `w`, whose gossip request and reply bodies are appended to `log`. */
function recorded(w: TestWorld, i: number, log: Array<{ from: string; request: string; reply: string }>): Cluster {
  const baseUrl = `http://s${i}.test:3000/`;
  const inner = w.net.transport(baseUrl);
  const transport: Transport = {
    async request(req) {
      const res = await inner.request(req);
      if (req.url.endsWith('clustershazbot/gossip')) log.push({ from: baseUrl, request: req.body ?? '', reply: res.body });
      return res;
    },
  };
  const c = createCluster(
    { baseUrl, secret: SECRET, controlSecret: CONTROL, masterListUrl: w.list.url, masterListUpdateUrl: w.list.url, masterListUpdateAuth: 'Bearer t', gossipIntervalMs: 1_000 },
    { clock: w.clock, random: seededRandom(700 + i), transport, state: false },
  );
  w.net.register(c);
  return c;
}

describe('the ext field on the wire', () => {
  it('without extensions, no message has an ext field: a probe is exactly what it was', async () => {
    const w = world(31);
    const log: Array<{ from: string; request: string; reply: string }> = [];
    const cs = [0, 1, 2].map((i) => recorded(w, i, log));
    // A failed registration registers nothing, and changes nothing on the wire.
    expect(() => cs[0]!.use({ name: 'Bad Name', attach() {} })).toThrow();
    for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(20_000);
    expect(log.length).toBeGreaterThan(30);
    for (const m of log) expect(m.request + m.reply).not.toContain('"ext"');
    // At rest, a probe carries nothing but the ping.
    expect(log.map((m) => m.request)).toContain('{"message":"gossip","offline":[],"online":[],"ping":true}');
  });

  it('with an extension, requests carry ext (from, kind, sections, digests) between digest and full; replies too', async () => {
    const w = world(32);
    const log: Array<{ from: string; request: string; reply: string }> = [];
    const cs = [0, 1].map((i) => recorded(w, i, log));
    const ext = (name: string): EngineExtension => ({
      name, attach() {}, request: (kind: ExchangeKind) => (kind === 'probe' ? { n: 1 } : undefined), onRequest: () => [1], digest: () => 'd1',
    });
    cs[0]!.use(ext('toy'));
    cs[1]!.use(ext('toy'));
    for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(10_000);
    // A probe at rest (no membership news).
    const probe = log.find((m) => m.from === cs[0]!.baseUrl && m.request.includes('"k":"probe"') && m.request.includes('"online":[]'))!;
    expect(probe.request).toBe(`{"ext":{"d":{"toy":"d1"},"from":"${cs[0]!.baseUrl}","k":"probe","s":{"toy":{"n":1}}},"message":"gossip","offline":[],"online":[],"ping":true}`);
    // A reply says only sections and digests: the requester knows who answers and why.
    expect(JSON.parse(probe.reply).ext).toEqual({ d: { toy: 'd1' }, s: { toy: [1] } });
    const ae = log.find((m) => m.request.includes('"k":"anti-entropy"'))!.request;
    expect(ae.indexOf('"digest"')).toBeLessThan(ae.indexOf('"ext"'));
    // No section to send: the field says only what there is (the digests), no empty `s`.
    const aeExt = JSON.parse(ae).ext as Record<string, unknown>;
    expect(Object.keys(aeExt)).toEqual(['d', 'from', 'k']);
    expect(aeExt).toMatchObject({ d: { toy: 'd1' }, k: 'anti-entropy' });
  });

  it('a malformed or oversized ext is ignored as a whole and counted; the membership part still merges', async () => {
    const w = world(33);
    const a = w.make(0);
    const calls: Array<[unknown, string | undefined, ExchangeKind]> = [];
    a.use({ name: 'toy', attach() {}, onRequest: (s, from, kind) => void calls.push([s, from, kind]), digest: () => 'mine' });
    await Promise.all([a.start(), w.clock.advance(100)]);
    const url = `${a.baseUrl}clustershazbot/gossip`;
    const rng = seededRandom(5);
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const bad = [
      '"x"', '[]', 'null', '{"s":[]}', '{"s":{"toy":' + deep(10_000) + '}}', `{"s":{"toy":${deep(MAX_SECTION_DEPTH + 1)}}}`,
      '{"d":{"toy":5}}', `{"d":{"toy":"${'x'.repeat(300)}"}}`, '{"from":7}', '{"d":[]}',
      `{"s":{${Array.from({ length: 65 }, (_, i) => `"e${i}":1`).join(',')}}}`,
    ];
    for (const [i, ext] of bad.entries()) {
      const member = `http://new-${i}.test:3000/`;
      const raw = `{"ext":${ext},"message":"gossip","online":[{"baseUrl":"${member}","lastUpdate":${w.clock.now()},"monitor":false}],"ping":true}`;
      const before = a.stats().extensionRejections;
      const { reply, text } = await a.handleGossipWire(signRequestCanonical(SECRET, url, raw, w.clock.now(), makeNonce(rng)), JSON.parse(raw), raw);
      expect(a.member(member)?.state, ext.slice(0, 40)).toBe('online');
      expect(a.stats().extensionRejections, ext.slice(0, 40)).toBe(before + 1);
      expect((reply as unknown as Record<string, unknown>)['ext']).toBeUndefined();
      expect(text).not.toContain('"ext"');
    }
    expect(calls).toEqual([]);
    // An unusable `from` or an unknown kind are not malformed: no sender, and 'direct'.
    const raw = `{"ext":{"from":"not a url","k":"gossip?","s":{"toy":${deep(MAX_SECTION_DEPTH)}}},"message":"gossip","online":[],"ping":true}`;
    const { reply } = await a.handleGossipWire(signRequestCanonical(SECRET, url, raw, w.clock.now(), makeNonce(rng)), JSON.parse(raw), raw);
    expect(calls).toEqual([[JSON.parse(deep(MAX_SECTION_DEPTH)), undefined, 'direct']]);
    expect((reply as unknown as { ext: unknown }).ext).toEqual({ d: { toy: 'mine' } });
  });
});

describe('parseEnvelope and isJsonWithin', () => {
  it('accept what the engine sends, normalise from, and default the kind', () => {
    expect(parseEnvelope({ d: { a: 'x' }, from: 'HTTP://S.test:80', k: 'push', s: { a: [1], b: 'not read' } }, ['a'], 1_024))
      .toEqual({ d: { a: 'x' }, from: 'http://s.test/', k: 'push', s: { a: [1], b: 'not read' } });
    expect(parseEnvelope({}, ['a'], 1_024)).toEqual({ d: {}, from: undefined, k: 'direct', s: {} });
    // Sections of extensions this server does not run are not looked at.
    expect(parseEnvelope({ s: { other: JSON.parse('['.repeat(100) + ']'.repeat(100)) } }, ['a'], 1_024)).toBeDefined();
    // Inherited names do not count.
    expect(parseEnvelope(JSON.parse('{"s":{"__proto__":{"a":1}}}'), ['a'], 1_024)?.s['a']).toBeUndefined();
  });

  it('isJsonWithin: JSON values only, nested at most so deep, without recursion', () => {
    const nest = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));
    expect(isJsonWithin(nest(3), 3)).toBe(true);
    expect(isJsonWithin(nest(4), 3)).toBe(false);
    expect(isJsonWithin(nest(100_000), 24)).toBe(false);
    for (const ok of ['s', 1, true, null, [], {}, { a: [1, { b: null }] }, { u: undefined }, [undefined]]) expect(isJsonWithin(ok, 24), JSON.stringify(ok)).toBe(true);
    for (const bad of [undefined, NaN, Infinity, 1n, () => 1, Symbol('s'), new Date(), new Map(), { f: () => 1 }, [Number.NaN]]) {
      expect(isJsonWithin(bad, 24), String(bad)).toBe(false);
    }
  });
});
