import { describe, expect, it } from 'vitest';
import { ShazbotError } from '../errors.js';
import { CONTROL, world } from './test-cluster.js';

const basic = (password: string): string => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

describe('health, info, stats and exchange observers (virtual time)', () => {
  it('health is 503-worthy until running and after shutdown', async () => {
    const w = world(11);
    const a = w.make(0);
    expect(a.health()).toEqual({ healthy: false, status: 'idle' });
    const started = a.start();
    expect(a.health()).toEqual({ healthy: false, status: 'starting' });
    await Promise.all([started, w.clock.advance(100)]);
    expect(a.health()).toEqual({ healthy: true, status: 'running' });
    await Promise.all([a.shutdown(), w.clock.advance(6_000)]);
    expect(a.health()).toEqual({ healthy: false, status: 'stopped' });
  });

  it('info lists every member with state, version and last contact, and no secret', async () => {
    const w = world(12);
    const cs = [0, 1, 2].map((i) => w.make(i, { monitor: i === 2 }));
    for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(10_000);
    const [a, b, c] = cs as [typeof cs[0], typeof cs[0], typeof cs[0]];
    const before = a.info();
    expect(before.servers.map((s) => s.baseUrl)).toEqual(cs.map((x) => x.baseUrl).sort());
    expect(before.counts).toEqual({ online: 3, suspect: 0, offline: 0 });
    const self = before.servers.find((s) => s.self)!;
    expect(self).toMatchObject({ baseUrl: a.baseUrl, state: 'online', lastContactAt: null, version: a.self().lastUpdate });
    const peer = before.servers.find((s) => s.baseUrl === b.baseUrl)!;
    expect(peer.lastContactAt).not.toBeNull();
    expect(peer.lastContactAt!).toBeLessThanOrEqual(before.now);
    expect(before.servers.find((s) => s.baseUrl === c.baseUrl)!.monitor).toBe(true);
    expect(before.config).toMatchObject({ gossipIntervalMs: 1_000, monitor: false, announces: true });
    const text = JSON.stringify(before);
    for (const secret of [a.config.secrets[0]!, CONTROL, 'store-token']) expect(text).not.toContain(secret);

    await expect(a.handleInfo(`Bearer ${CONTROL}`)).resolves.toMatchObject({ baseUrl: a.baseUrl });
    await expect(a.handleInfo(basic(CONTROL))).resolves.toMatchObject({ baseUrl: a.baseUrl });
    for (const bad of ['', 'Bearer nope', basic('nope'), 'Basic %%%']) {
      const e = await a.handleInfo(bad).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ShazbotError);
      expect((e as ShazbotError).status).toBe(401);
    }
    // The three wrong secrets count; a request without credentials (a browser's first) does not.
    expect(a.stats().signatureRejections).toBe(3);

    // c leaves: a sees it offline, with the reason.
    await Promise.all([c.shutdown(), w.clock.advance(6_000)]);
    const after = a.info();
    expect(after.servers.find((s) => s.baseUrl === c.baseUrl)).toMatchObject({ state: 'offline', reason: 'left' });
    expect(after.counts).toEqual({ online: 2, suspect: 0, offline: 1 });
    expect(a.offline().map((e) => e.baseUrl)).toEqual([c.baseUrl]);
    expect(a.online().map((e) => e.baseUrl)).toEqual([a.baseUrl, b.baseUrl].sort());
  });

  it('counts rounds, exchanges, bytes and rejections, and reports each exchange to observers', async () => {
    const w = world(13);
    const a = w.make(0, { probeIntervalMs: 500, probeTimeoutMs: 200, indirectProbeTimeoutMs: 300 });
    const b = w.make(1, { probeIntervalMs: 500, probeTimeoutMs: 200, indirectProbeTimeoutMs: 300 });
    for (const c of [a, b]) await Promise.all([c.start(), w.clock.advance(100)]);
    const seen: Array<{ peer: string; ms: number; ok: boolean }> = [];
    const off = a.observeExchanges((peer, ms, ok) => seen.push({ peer, ms, ok }));
    a.observeExchanges(() => {
      throw new Error('an observer that throws changes nothing');
    });
    const s0 = a.stats();
    await w.clock.advance(5_000);
    const s1 = a.stats();
    expect(s1.probeRounds - s0.probeRounds).toBeGreaterThanOrEqual(8);
    expect(s1.antiEntropyRounds - s0.antiEntropyRounds).toBeGreaterThanOrEqual(3);
    expect(s1.exchanges - s0.exchanges).toBe(seen.length);
    expect(s1.exchangeFailures).toBe(0);
    expect(s1.bytesOut).toBeGreaterThan(s0.bytesOut);
    expect(s1.bytesIn).toBeGreaterThan(s0.bytesIn);
    expect(seen.every((x) => x.ok && x.peer === b.baseUrl && x.ms >= 0)).toBe(true);

    // b vanishes: a's exchanges with it fail and are reported as failures.
    w.net.setDown(b.baseUrl, 'refuse');
    await w.clock.advance(3_000);
    const s2 = a.stats();
    expect(s2.exchangeFailures).toBeGreaterThan(0);
    expect(seen.some((x) => !x.ok)).toBe(true);
    off();
    const n = seen.length;
    await w.clock.advance(2_000);
    expect(seen.length).toBe(n);
  });

  it('keeps a timeline of what this server saw: joins, operator offline/online, a leave, a crash with its suspicion', async () => {
    const w = world(14);
    const fast = { probeIntervalMs: 500, probeTimeoutMs: 200, indirectProbeTimeoutMs: 300, suspicionMult: 1 };
    const cs = [0, 1, 2, 3].map((i) => w.make(i, fast));
    for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(5_000);
    const [a, b, c, d] = cs as [typeof cs[0], typeof cs[0], typeof cs[0], typeof cs[0]];
    const t0 = w.clock.now();
    await b.handleControl(`Bearer ${CONTROL}`, { message: 'control', online: false });
    await w.clock.advance(3_000);
    await b.handleControl(`Bearer ${CONTROL}`, { message: 'control', online: true });
    await w.clock.advance(3_000);
    await Promise.all([c.shutdown(), w.clock.advance(6_000)]);
    w.net.setDown(d.baseUrl, 'refuse');
    await w.clock.advance(30_000);

    const info = a.info();
    const short = info.events.map((e) => `${e.kind}:${e.cause}:${e.self ? 'self' : e.baseUrl}`);
    expect(short[0]).toBe('up:started:self');
    for (const x of [b, c, d]) expect(short).toContain(`up:first-seen:${x.baseUrl}`);
    const after = info.events.filter((e) => e.at >= t0).map((e) => `${e.kind}:${e.cause}:${e.baseUrl}`);
    expect(after.filter((e) => !e.startsWith('suspect:') && !e.startsWith('down:'))).toEqual([
      `operator-offline:admin:${b.baseUrl}`,
      `operator-online:admin:${b.baseUrl}`,
      `left:shutdown:${c.baseUrl}`,
    ]);
    // The crash: suspected (by a's own probes or reported by b), then declared failed, in that order.
    const aboutD = info.events.filter((e) => e.baseUrl === d.baseUrl && e.at >= t0);
    expect(aboutD.map((e) => e.kind)).toEqual(['suspect', 'down']);
    for (const e of aboutD) expect(e.by === a.baseUrl ? ['probe-failed', 'suspicion-timeout'] : ['reported']).toContain(e.cause);
    // Positions increase and times never go backwards.
    for (let i = 1; i < info.events.length; i++) {
      expect(info.events[i]!.seq).toBeGreaterThan(info.events[i - 1]!.seq);
      expect(info.events[i]!.at).toBeGreaterThanOrEqual(info.events[i - 1]!.at);
    }

    // Exchange statistics: b answered recently; d's recent exchanges failed; totals add up.
    const rowOf = (url: string) => info.servers.find((s) => s.baseUrl === url)!;
    expect(rowOf(a.baseUrl).exchanges).toBeUndefined();
    const xb = rowOf(b.baseUrl).exchanges!;
    expect(xb.samples).toBeGreaterThan(5);
    expect(xb.lastOk).toBe(true);
    expect(xb.p99Ms).not.toBeNull();
    expect(xb.recentMs.length).toBeGreaterThan(0);
    const xd = rowOf(d.baseUrl).exchanges!;
    expect(xd.failures).toBeGreaterThan(0);
    expect(xd.recentMs).toContain(null);
    const sum = info.servers.reduce((n, s) => n + (s.exchanges?.samples ?? 0), 0);
    expect(info.exchanges).toMatchObject({ windowMs: 300_000, samples: sum });
    expect(info.exchanges.failures).toBeGreaterThanOrEqual(xd.failures);
  });

  it('keeps at most timelineSize events, and none (nor exchange statistics) when both are 0', async () => {
    const w = world(15);
    const small = w.make(0, { timelineSize: 2 });
    const none = w.make(1, { timelineSize: 0, exchangeStatsPeers: 0 });
    const others = [2, 3, 4].map((i) => w.make(i));
    for (const c of [small, none, ...others]) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(5_000);
    const events = small.info().events;
    expect(events).toHaveLength(2);
    expect(events[1]!.seq).toBeGreaterThanOrEqual(5); // started + four first-seen, only the last two kept
    expect(none.info().events).toEqual([]);
    expect(none.info().exchanges).toMatchObject({ peers: 0, samples: 0 });
    expect(none.info().servers.every((s) => s.exchanges === undefined)).toBe(true);
    expect(none.stats().exchanges).toBeGreaterThan(0);
  });
});
