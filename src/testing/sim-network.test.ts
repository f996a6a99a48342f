import { describe, it, expect } from 'vitest';
import { seededRandom } from '../core/random.js';
import { TransportError, type TransportRequest, type TransportResponse } from '../core/transport.js';
import { UnauthorizedError } from '../errors.js';
import { requestBytes, responseBytes } from './http-bytes.js';
import { SimClock } from './sim-clock.js';
import { SIM_MASTER_LIST_URL, SimNetwork, type SimHandler, type SimMessage, type SimNetworkOptions } from './sim-network.js';

const A = 'http://a.sim/';
const B = 'http://b.sim/';

/** A handler that records what it got and echoes it. */
function echo(clock: SimClock, log: Array<{ at: number; body: unknown; auth: string }>): SimHandler {
  return {
    async handleGossip(auth, body) {
      log.push({ at: clock.now(), body, auth });
      if (auth === 'deny') throw new UnauthorizedError('no');
      if (auth === 'crash') throw new Error('bug');
      return { echo: body };
    },
    async handleList() {
      log.push({ at: clock.now(), body: 'list', auth: '' });
      return { online: [] };
    },
    async handleControl(_auth, body) {
      log.push({ at: clock.now(), body, auth: '' });
    },
  };
}

function setup(options: SimNetworkOptions = {}, seed = 7) {
  const clock = new SimClock(0);
  const net = new SimNetwork(clock, seededRandom(seed), options);
  const logA: Array<{ at: number; body: unknown; auth: string }> = [];
  const logB: Array<{ at: number; body: unknown; auth: string }> = [];
  net.register(A, echo(clock, logA));
  net.register(B, echo(clock, logB));
  return { clock, net, logA, logB };
}

function gossip(to: string, body: unknown, auth = 'ok'): TransportRequest {
  return {
    method: 'POST', url: `${to}clustershazbot/gossip`, headers: { 'content-type': 'application/json', authorization: auth },
    body: JSON.stringify(body), timeoutMs: 5_000, maxResponseBytes: 1 << 20,
  };
}

/** Tracks how a promise settled without awaiting it. */
function watch<T>(p: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const w: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then((v) => Object.assign(w, { value: v, settled: true }), (e: unknown) => Object.assign(w, { error: e, settled: true }));
  return w;
}

describe('SimNetwork', () => {
  it('delivers the parsed body to the handler and the JSON of its result back, each way after its own latency', async () => {
    const { clock, net, logB } = setup({ latencyMs: 10, jitterMs: 0 });
    const res = watch(net.transport(A).request(gossip(B, { message: 'gossip', n: 1 })));
    await clock.runFor(9);
    expect(logB).toEqual([]);
    await clock.runFor(1);
    expect(logB).toEqual([{ at: 10, body: { message: 'gossip', n: 1 }, auth: 'ok' }]);
    await clock.runFor(9);
    expect(res.settled).toBe(false);
    await clock.runFor(1);
    expect(res.value?.status).toBe(200);
    expect(JSON.parse(res.value!.body)).toEqual({ echo: { message: 'gossip', n: 1 } });
  });

  it('keeps every latency within [latency − jitter, latency + jitter] with a mean near latency', async () => {
    const { clock, net, logB } = setup({ latencyMs: 10, jitterMs: 3 });
    const t = net.transport(A);
    const sentAt: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      sentAt.push(clock.now());
      void t.request(gossip(B, { i }));
      await clock.runFor(1);
    }
    await clock.runFor(100);
    const delays = logB.map((e) => e.at - sentAt[(e.body as { i: number }).i]!);
    expect(delays).toHaveLength(2_000);
    expect(Math.min(...delays)).toBe(7);
    expect(Math.max(...delays)).toBe(13);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(9.8);
    expect(mean).toBeLessThan(10.2);
  });

  it('loses requests and replies at the configured rate; a lost message never settles the promise', async () => {
    const { clock, net, logB } = setup({ latencyMs: 1, jitterMs: 0, loss: 0.1 });
    const t = net.transport(A);
    const results = Array.from({ length: 10_000 }, (_, i) => watch(t.request(gossip(B, { i }))));
    await clock.runFor(1_000);
    // Requests arrive with p = 0.9; a reply comes back with p = 0.9 of those.
    expect(logB.length).toBeGreaterThan(8_850);
    expect(logB.length).toBeLessThan(9_150);
    const answered = results.filter((r) => r.settled);
    expect(answered.length).toBeGreaterThan(0.81 * 10_000 - 150);
    expect(answered.length).toBeLessThan(0.81 * 10_000 + 150);
    expect(answered.every((r) => r.value?.status === 200)).toBe(true);
    // Every message sent counts, lost or not.
    expect(net.messagesSent).toBe(10_000 + logB.length);
  });

  it('is deterministic for a seed', async () => {
    const outcome = async (seed: number): Promise<string> => {
      const { clock, net, logB } = setup({ loss: 0.3 }, seed);
      const t = net.transport(A);
      for (let i = 0; i < 200; i++) void t.request(gossip(B, { i }));
      await clock.runFor(100);
      return JSON.stringify(logB);
    };
    expect(await outcome(3)).toBe(await outcome(3));
    expect(await outcome(3)).not.toBe(await outcome(4));
  });

  it('blocks one way: a to b is dropped, b to a arrives but its reply to b is dropped; heal restores', async () => {
    const { clock, net, logA, logB } = setup({ latencyMs: 2, jitterMs: 0 });
    net.block([A], [B]);
    expect(net.isBlocked(A, B)).toBe(true);
    expect(net.isBlocked(B, A)).toBe(false);
    const ab = watch(net.transport(A).request(gossip(B, {})));
    const ba = watch(net.transport(B).request(gossip(A, {})));
    await clock.runFor(100);
    expect(logB).toHaveLength(0);
    expect(logA).toHaveLength(1);
    expect(ab.settled).toBe(false);
    expect(ba.settled).toBe(false);
    net.heal();
    const again = watch(net.transport(A).request(gossip(B, {})));
    await clock.runFor(10);
    expect(again.value?.status).toBe(200);
  });

  it('partitions both ways between groups and leaves other pairs alone', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const C = 'http://c.sim/';
    net.register(C, echo(clock, []));
    net.partition([A], [B, C]);
    expect([net.isBlocked(A, B), net.isBlocked(B, A), net.isBlocked(A, C), net.isBlocked(C, A), net.isBlocked(B, C)]).toEqual([
      true, true, true, true, false,
    ]);
    const bc = watch(net.transport(B).request(gossip(C, {})));
    await clock.runFor(5);
    expect(bc.value?.status).toBe(200);
  });

  it('supports more than 32 block rules', () => {
    const { net } = setup();
    for (let k = 0; k < 40; k++) net.block([`http://x${k}.sim/`], [`http://y${k}.sim/`]);
    expect(net.isBlocked('http://x39.sim/', 'http://y39.sim/')).toBe(true);
    expect(net.isBlocked('http://x39.sim/', 'http://y38.sim/')).toBe(false);
    expect(net.isBlocked('http://x0.sim/', 'http://y0.sim/')).toBe(true);
  });

  it('refuses requests to a crashed process after a round trip, and drops the crashed process\'s replies', async () => {
    const { clock, net, logB } = setup({ latencyMs: 3, jitterMs: 0 });
    net.crash(B);
    expect(net.state(B)).toBe('crashed');
    const refused = watch(net.transport(A).request(gossip(B, {})));
    await clock.runFor(5);
    expect(refused.settled).toBe(false);
    await clock.runFor(1);
    expect(refused.error).toBeInstanceOf(TransportError);
    expect((refused.error as TransportError).kind).toBe('network');
    expect(logB).toHaveLength(0);

    // A reply on its way to a process that crashes meanwhile is never seen.
    net.register(B, echo(clock, logB));
    const t = net.transport(A);
    const lost = watch(t.request(gossip(B, {})));
    await clock.runFor(4);
    net.crash(A);
    await clock.runFor(10);
    expect(logB).toHaveLength(1);
    expect(lost.settled).toBe(false);
    // The dead incarnation sends nothing more.
    const sent = net.messagesSent;
    expect(watch(t.request(gossip(B, {}))).settled).toBe(false);
    expect(net.messagesSent).toBe(sent);
  });

  it('refuses requests to an unknown URL', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const r = watch(net.transport(A).request(gossip('http://nobody.sim/', {})));
    await clock.runFor(5);
    expect((r.error as TransportError).kind).toBe('network');
  });

  it('holds requests and replies of a paused process and delivers them in arrival order on resume', async () => {
    const { clock, net, logB } = setup({ latencyMs: 2, jitterMs: 0 });
    net.pause(B);
    const first = watch(net.transport(A).request(gossip(B, { k: 1 })));
    await clock.runFor(1);
    const second = watch(net.transport(A).request(gossip(B, { k: 2 })));
    await clock.runFor(50);
    expect(logB).toHaveLength(0);
    net.resume(B);
    await clock.runFor(0);
    expect(logB.map((e) => [e.at, e.body])).toEqual([[51, { k: 1 }], [51, { k: 2 }]]);
    await clock.runFor(2);
    expect(first.value?.status).toBe(200);
    expect(second.value?.status).toBe(200);

    // A reply to a paused caller waits for the caller to resume.
    const third = watch(net.transport(A).request(gossip(B, { k: 3 })));
    await clock.runFor(3);
    net.pause(A);
    await clock.runFor(20);
    expect(third.settled).toBe(false);
    net.resume(A);
    await clock.runFor(0);
    expect(third.value?.status).toBe(200);
  });

  it('maps handler errors to HTTP statuses and unknown paths to 404', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const t = net.transport(A);
    const denied = watch(t.request(gossip(B, {}, 'deny')));
    const bug = watch(t.request(gossip(B, {}, 'crash')));
    const notJson = watch(t.request({ ...gossip(B, {}), body: '{nope' }));
    const missing = watch(t.request({ ...gossip(B, {}), url: `${B}clustershazbot/other` }));
    const list = watch(t.request({ method: 'GET', url: `${B}clustershazbot/list`, timeoutMs: 1, maxResponseBytes: 1_000 }));
    const control = watch(t.request({ ...gossip(B, { message: 'control', online: false }), url: `${B}clustershazbot/control` }));
    await clock.runFor(5);
    expect([denied, bug, notJson, missing, list, control].map((r) => r.value?.status)).toEqual([401, 500, 400, 404, 200, 200]);
    expect(JSON.parse(control.value!.body)).toEqual({ success: true });
  });

  it('rejects a reply larger than maxResponseBytes as too-large', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const r = watch(net.transport(A).request({ ...gossip(B, { pad: 'x'.repeat(100) }), maxResponseBytes: 50 }));
    await clock.runFor(5);
    expect((r.error as TransportError).kind).toBe('too-large');
  });

  it('routes to the longest registered base URL that prefixes the request URL', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const appLog: Array<{ at: number; body: unknown; auth: string }> = [];
    net.register('http://a.sim/app/', echo(clock, appLog));
    const r = watch(net.transport(B).request(gossip('http://a.sim/app/', { x: 1 })));
    await clock.runFor(5);
    expect(r.value?.status).toBe(200);
    expect(appLog).toHaveLength(1);
  });

  it('counts the HTTP bytes of every message, in total and per sender', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const req = gossip(B, { message: 'gossip', online: [] });
    const res = watch(net.transport(A).request(req));
    await clock.runFor(5);
    const reply: TransportResponse = res.value!;
    const up = requestBytes('POST', req.url, req.headers, req.body);
    const down = responseBytes(reply.status, reply.headers, reply.body);
    expect(net.messagesSent).toBe(2);
    expect(net.bytesSent).toBe(up + down);
    expect(net.bytesSentBy(A)).toBe(up);
    expect(net.bytesSentBy(B)).toBe(down);
  });

  it('reports every counted message to onMessage, a reply with the request it answers', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const seen: SimMessage[] = [];
    net.onMessage = (m) => seen.push(m);
    const req = gossip(B, { message: 'gossip', online: [] });
    watch(net.transport(A).request(req));
    await clock.runFor(5);
    expect(seen.map((m) => [m.from, m.to, m.kind])).toEqual([[A, B, 'request'], [B, A, 'reply']]);
    expect(seen[0]!.body).toBe(req.body);
    expect(seen[1]!.requestBody).toBe(req.body);
    expect(seen[0]!.bytes + seen[1]!.bytes).toBe(net.bytesSent);
  });

  it('serves a master list with ETags and conditional PUTs', async () => {
    const { clock, net } = setup({ latencyMs: 1, jitterMs: 0 });
    const t = net.transport(A);
    const call = async (req: Omit<TransportRequest, 'url' | 'timeoutMs' | 'maxResponseBytes'>): Promise<TransportResponse> => {
      const w = watch(t.request({ ...req, url: SIM_MASTER_LIST_URL, timeoutMs: 1, maxResponseBytes: 1 << 20 }));
      await clock.runFor(5);
      return w.value!;
    };
    expect((await call({ method: 'GET' })).status).toBe(404);
    expect((await call({ method: 'PUT', headers: { 'if-none-match': '*' }, body: '{"online":[]}' })).status).toBe(200);
    expect((await call({ method: 'PUT', headers: { 'if-none-match': '*' }, body: '{}' })).status).toBe(412);
    const got = await call({ method: 'GET' });
    expect(got.status).toBe(200);
    expect(got.body).toBe('{"online":[]}');
    const etag = got.headers['etag']!;
    expect((await call({ method: 'PUT', headers: { 'if-match': etag }, body: '{"online":[1]}' })).status).toBe(200);
    expect((await call({ method: 'PUT', headers: { 'if-match': etag }, body: '{"online":[2]}' })).status).toBe(412);
    expect(net.masterList).toBe('{"online":[1]}');
    net.crash(SIM_MASTER_LIST_URL);
    const down = watch(t.request({ method: 'GET', url: SIM_MASTER_LIST_URL, timeoutMs: 1, maxResponseBytes: 100 }));
    await clock.runFor(5);
    expect((down.error as TransportError).kind).toBe('network');
    net.revive(SIM_MASTER_LIST_URL);
    expect((await call({ method: 'GET' })).status).toBe(200);
  });
});
