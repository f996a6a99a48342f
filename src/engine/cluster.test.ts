import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { LogFields, Logger } from '../core/logger.js';
import { seededRandom } from '../core/random.js';
import { ShazbotError } from '../errors.js';
import { makeNonce, signRequest } from '../protocol/signature.js';
import { createCluster } from './cluster.js';
import { CONTROL, SECRET, onlineUrls, world } from './test-cluster.js';

const bearer = `Bearer ${CONTROL}`;

async function expectCode(p: Promise<unknown>, code: string, status: number): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(ShazbotError);
  expect((e as ShazbotError).code).toBe(code);
  expect((e as ShazbotError).status).toBe(status);
}

function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: LogFields }> } {
  const lines: Array<{ level: string; message: string; fields?: LogFields }> = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, ...(fields ? { fields } : {}) });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Starts servers one after another, as a rolling deploy would. */
async function startInTurn(w: ReturnType<typeof world>, cs: Array<ReturnType<ReturnType<typeof world>['make']>>): Promise<void> {
  for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
}

describe('cluster engine (virtual time)', () => {
  it('five servers starting one after another converge through the master list and gossip', async () => {
    const w = world();
    const cs = [0, 1, 2, 3, 4].map((i) => w.make(i));
    for (const c of cs) {
      await Promise.all([c.start(), w.clock.advance(100)]);
      expect(c.status).toBe('running');
    }
    // The first server announced itself at once, so the second found it.
    expect(w.list.log.some((r) => r.method === 'PUT')).toBe(true);
    await w.clock.advance(10_000);
    const all = cs.map((c) => c.baseUrl).sort();
    for (const c of cs) expect(onlineUrls(c)).toEqual(all);
  });

  it('gossip rounds are spaced by the interval ± 20 % jitter', async () => {
    const w = world(7);
    // Probes so rare that no recent probe answer settles a round (see the next test): every round is an exchange.
    const a = w.make(0, { probeIntervalMs: 3_600_000 });
    const b = w.make(1, { probeIntervalMs: 3_600_000 });
    await Promise.all([a.start(), b.start(), w.clock.advance(50)]);
    await w.clock.advance(200_000);
    const times = w.net.requests
      .filter((r) => r.from === a.baseUrl && r.url === `${b.baseUrl}clustershazbot/gossip` && r.kind === 'anti-entropy')
      .map((r) => r.at);
    expect(times.length).toBeGreaterThan(100);
    const gaps = times.slice(2).map((t, i) => t - times[i + 1]!);
    // Each gap is the jittered delay plus one exchange (2 × 2 ms latency).
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_200 + 10);
    // and the jitter is really used: both halves of the range occur.
    expect(gaps.some((g) => g < 900)).toBe(true);
    expect(gaps.some((g) => g > 1_100)).toBe(true);
  });

  it('at rest, a round settled by a recent probe answer sends nothing; a probe that finds a difference picks the partner', async () => {
    const w = world(11);
    // No pushes: only anti-entropy can carry the change below.
    const cs = [0, 1, 2].map((i) => w.make(i, { pushChanges: false, gossipIntervalMs: 30_000 }));
    for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
    await w.clock.advance(20_000);
    const all = cs.map((c) => c.baseUrl).sort();
    for (const c of cs) expect(onlineUrls(c)).toEqual(all);
    const exchanges = (): typeof w.net.requests => w.net.requests.filter((r) => r.kind === 'anti-entropy');
    const before = exchanges().length;
    const rounds = cs[0]!.stats().antiEntropyRounds;
    await w.clock.advance(300_000); // about 10 rounds each (30 s interval) and 120 probes each (2.5 s)
    expect(cs[0]!.stats().antiEntropyRounds - rounds).toBeGreaterThanOrEqual(8);
    expect(exchanges().length - before).toBe(0);
    // An operator takes s2 offline: nobody is told, but the next probe answer from s2 differs.
    await cs[2]!.handleControl(`Bearer ${CONTROL}`, { message: 'control', online: false });
    const t0 = w.clock.now();
    for (let t = 0; t < 120_000 && !cs.slice(0, 2).every((c) => c.member(cs[2]!.baseUrl)?.state === 'offline'); t += 100) await w.clock.advance(100);
    expect(cs[0]!.member(cs[2]!.baseUrl)?.state).toBe('offline');
    expect(cs[1]!.member(cs[2]!.baseUrl)?.state).toBe('offline');
    const repairs = exchanges().filter((r) => r.at >= t0);
    expect(repairs.length).toBeGreaterThan(0);
    expect(repairs.every((r) => r.url === `${cs[2]!.baseUrl}clustershazbot/gossip` || r.from === cs[2]!.baseUrl)).toBe(true);
  });

  it('announces every MINIMUM + random(0..INTERVAL): GET then PUT, with If-Match', async () => {
    const w = world(3);
    w.list.body = JSON.stringify({ online: [] });
    const a = w.make(0, { masterAnnounceMinimumMs: 60_000, masterAnnounceIntervalMs: 30_000 });
    await Promise.all([a.start(), w.clock.advance(50)]);
    w.list.log.length = 0; // forget the start-up GET and immediate announce
    const t0 = w.clock.now();
    await w.clock.advance(1_000_000);
    const puts = w.list.log.filter((r) => r.method === 'PUT');
    const gets = w.list.log.filter((r) => r.method === 'GET');
    expect(puts.length).toBeGreaterThanOrEqual(1_000_000 / 90_000 - 1);
    expect(gets.length).toBe(puts.length);
    let prev = t0;
    for (const p of puts) {
      const gap = p.at - prev;
      expect(gap).toBeGreaterThanOrEqual(60_000);
      expect(gap).toBeLessThanOrEqual(90_000 + 20);
      expect(p.headers['if-match']).toMatch(/^".+"$/);
      expect(p.headers['authorization']).toBe('Bearer store-token');
      prev = p.at;
    }
    const stored = JSON.parse(w.list.body!) as { online: Array<{ baseUrl: string }> };
    expect(stored.online.map((s) => s.baseUrl)).toEqual([a.baseUrl]);
  });

  it('never PUTs after a failed GET, and resumes when the store recovers', async () => {
    const w = world();
    w.list.body = JSON.stringify({ online: [] });
    const a = w.make(0, { masterAnnounceMinimumMs: 10_000, masterAnnounceIntervalMs: 0 });
    await Promise.all([a.start(), w.clock.advance(50)]);
    w.list.log.length = 0;
    w.list.outage = 500;
    await w.clock.advance(35_000);
    expect(w.list.log.filter((r) => r.method === 'GET').length).toBe(3);
    expect(w.list.log.filter((r) => r.method === 'PUT').length).toBe(0);
    w.list.outage = undefined;
    await w.clock.advance(10_000);
    expect(w.list.log.filter((r) => r.method === 'PUT').length).toBe(1);
  });

  it('a corrupt master list is never overwritten', async () => {
    const w = world();
    w.list.body = '{"online": [ {"baseUrl": 42 } ]}';
    const log = recordingLogger();
    const a = w.make(0, { masterAnnounceMinimumMs: 10_000, masterAnnounceIntervalMs: 0 }, log);
    await Promise.all([a.start(), w.clock.advance(50)]);
    await w.clock.advance(30_000);
    expect(w.list.log.filter((r) => r.method === 'PUT').length).toBe(0);
    expect(w.list.body).toBe('{"online": [ {"baseUrl": 42 } ]}');
    expect(log.lines.some((l) => l.level === 'warn' && /master list/.test(l.message))).toBe(true);
  });

  it('retries a conflicting PUT (HTTP 412) from a fresh GET', async () => {
    const w = world();
    w.list.body = JSON.stringify({ online: [] });
    const a = w.make(0);
    const b = w.make(1);
    await Promise.all([a.start(), b.start(), w.clock.advance(100)]);
    // Both announced at start from the same empty list: one of them hit a 412 and
    // retried, so the stored list still names both.
    const stored = JSON.parse(w.list.body) as { online: Array<{ baseUrl: string }> };
    expect(stored.online.map((s) => s.baseUrl).sort()).toEqual([a.baseUrl, b.baseUrl].sort());
  });

  it('writes unconditionally to a store that sends no ETag, and with If-None-Match: * when there is no list yet', async () => {
    const w = world();
    const a = w.make(0);
    await Promise.all([a.start(), w.clock.advance(50)]);
    const first = w.list.log.find((r) => r.method === 'PUT')!;
    expect(first.headers['if-none-match']).toBe('*');
    w.list.etags = false;
    w.list.log.length = 0;
    await w.clock.advance(15_000);
    const put = w.list.log.find((r) => r.method === 'PUT')!;
    expect(put.headers['if-match']).toBeUndefined();
    expect(put.headers['if-none-match']).toBeUndefined();
  });

  it('start resolves in bounded time when the store hangs, then keeps retrying with backoff', async () => {
    const w = world();
    w.net.setDown('http://master-list.test/', 'hang');
    w.list.outage = undefined;
    const log = recordingLogger();
    // The list is in the network's store table, so make it hang through a transport wrapper.
    const clock = w.clock;
    let hang = true;
    const inner = w.net.transport('http://s0.test:3000/');
    const a = createCluster(
      { baseUrl: 'http://s0.test:3000/', secret: SECRET, controlSecret: CONTROL, masterListUrl: w.list.url, gossipIntervalMs: 1_000 },
      {
        clock,
        random: seededRandom(1),
        logger: log,
        transport: { request: (req) => (hang && req.url === w.list.url ? new Promise(() => undefined) : inner.request(req)) },
      },
    );
    let started = false;
    void a.start().then(() => { started = true; });
    await clock.advance(4_999);
    expect(started).toBe(false);
    await clock.advance(1);
    expect(started).toBe(true);
    expect(a.status).toBe('running');
    expect(log.lines.some((l) => l.level === 'warn' && /master list/.test(l.message))).toBe(true);
    const b = w.make(1, { masterListUrl: 'http://elsewhere.test/list', masterListUpdateUrl: undefined });
    await Promise.all([b.start(), clock.advance(10)]);
    w.list.body = JSON.stringify({ online: [{ baseUrl: b.baseUrl, monitor: false, lastUpdate: clock.now() }] });
    hang = false;
    await clock.advance(120_000);
    expect(onlineUrls(a)).toContain(b.baseUrl);
  });

  it('a crashed peer is probed, probed indirectly, suspected, then marked offline when the suspicion times out', async () => {
    const w = world();
    const cs = [0, 1, 2, 3].map((i) => w.make(i));
    await startInTurn(w, cs);
    await w.clock.advance(5_000);
    const [a, b] = cs as [typeof cs[0], typeof cs[0]];
    const seen: string[] = [];
    a.on('server:suspect', (s) => seen.push(`suspect ${s.baseUrl}`));
    a.on('server:down', (s, reason) => seen.push(`down ${s.baseUrl} ${reason}`));
    w.net.setDown(b.baseUrl, 'refuse');
    const t0 = w.clock.now();
    let downAt: number | undefined;
    a.on('server:down', () => {
      downAt ??= w.clock.now();
    });
    for (let i = 0; i < 400 && downAt === undefined; i++) await w.clock.advance(100);
    expect(seen).toEqual([`suspect ${b.baseUrl}`, `down ${b.baseUrl} failed`]);
    // Someone asked others to probe b before suspecting it.
    expect(w.net.requests.some((r) => r.kind === 'indirect' && r.at >= t0)).toBe(true);
    // Probe ring: b is probed within one period; the suspicion then lasts at
    // most suspicionMaxMult × min (n = 4: min = 1 × max(1, log10 4) × 2.5 s).
    expect(downAt! - t0).toBeLessThanOrEqual(2 * 2_500 + 1_500 + 3 * 2_500);
    for (const c of cs.slice(2)) expect(c.member(b.baseUrl)).toMatchObject({ state: 'offline', reason: 'failed' });
  });

  it('a refutation reaches a server that nobody can push to, through the answers to its own requests', async () => {
    const w = world();
    // Anti-entropy slower than any suspicion timeout: it must not be what saves b.
    const cs = [0, 1, 2].map((i) => w.make(i, { gossipIntervalMs: 600_000 }));
    await startInTurn(w, cs);
    const [a, b, c] = cs as [typeof cs[0], typeof cs[0], typeof cs[0]];
    // Nothing b or c sends reaches a: a hears only the answers to its own requests.
    w.net.block(b.baseUrl, a.baseUrl);
    w.net.block(c.baseUrl, a.baseUrl);
    // A suspicion about b, as c would raise it, reaches a.
    const v = a.member(b.baseUrl)!.lastUpdate;
    const claim = { message: 'gossip', ping: true, online: [{ baseUrl: b.baseUrl, monitor: false, lastUpdate: v, suspect: true, by: c.baseUrl, downAt: w.clock.now() }] };
    const target = `${a.baseUrl}clustershazbot/gossip`;
    await a.handleGossip(signRequest(SECRET, target, claim, w.clock.now(), makeNonce(seededRandom(3))), claim);
    expect(a.member(b.baseUrl)?.state).toBe('suspect');
    const downs: string[] = [];
    a.on('server:down', (s) => downs.push(s.baseUrl));
    await w.clock.advance(60_000);
    expect(downs).toEqual([]);
    expect(a.member(b.baseUrl)?.state).toBe('online');
    expect(a.member(b.baseUrl)!.lastUpdate).toBeGreaterThan(v);
  });

  it('a peer that only one server cannot reach is not suspected: the indirect probes reach it', async () => {
    const w = world();
    const cs = [0, 1, 2, 3].map((i) => w.make(i));
    await startInTurn(w, cs);
    const [a, b] = cs as [typeof cs[0], typeof cs[0]];
    w.net.block(a.baseUrl, b.baseUrl);
    const suspected: string[] = [];
    for (const c of cs) c.on('server:suspect', (s) => suspected.push(s.baseUrl));
    await w.clock.advance(60_000);
    expect(suspected).toEqual([]);
    for (const c of cs) expect(c.member(b.baseUrl)?.state).toBe('online');
    expect(w.net.requests.some((r) => r.from === a.baseUrl && r.kind === 'indirect')).toBe(true);
  });

  it('a lost probe is sent again alongside the indirect probes: one lost request raises no suspicion, two do', async () => {
    const w = world();
    // No indirect probes and no anti-entropy: the next request a sends b is a probe, and only its retry can save b.
    const cs = [0, 1, 2].map((i) => w.make(i, { indirectProbes: 0, gossipIntervalMs: 600_000 }));
    await startInTurn(w, cs);
    await w.clock.advance(10_000);
    const [a, b] = cs as [typeof cs[0], typeof cs[0]];
    const suspected: string[] = [];
    a.on('server:suspect', (s) => suspected.push(s.baseUrl));
    const probesOfB = (): number => w.net.requests.filter((r) => r.from === a.baseUrl && r.url === `${b.baseUrl}clustershazbot/gossip` && r.kind === 'ping').length;

    const before = probesOfB();
    w.net.drop(a.baseUrl, b.baseUrl, 1);
    for (let i = 0; i < 200 && probesOfB() < before + 2; i++) await w.clock.advance(100);
    await w.clock.advance(2_000);
    expect(probesOfB()).toBeGreaterThanOrEqual(before + 2);
    expect(suspected).toEqual([]);

    // Both the probe and its retry lost: with no helpers, a suspects b.
    w.net.drop(a.baseUrl, b.baseUrl, 2);
    for (let i = 0; i < 200 && suspected.length === 0; i++) await w.clock.advance(100);
    expect(suspected).toEqual([b.baseUrl]);
  });

  it('a server falsely claimed offline refutes the claim with a higher version', async () => {
    const w = world();
    const a = w.make(0);
    const b = w.make(1);
    await startInTurn(w, [a, b]);
    expect(a.member(b.baseUrl)?.state).toBe('online');
    // a cannot reach b for a while and marks it offline; b is alive all along.
    w.net.setDown(b.baseUrl, 'refuse');
    while (a.member(b.baseUrl)?.state === 'online') await w.clock.advance(100);
    const claim = a.member(b.baseUrl)!;
    w.net.setDown(b.baseUrl, undefined);
    // b's own gossip carries the claim back to it; it refutes and a learns.
    while (a.member(b.baseUrl)?.state !== 'online') await w.clock.advance(100);
    expect(a.member(b.baseUrl)!.lastUpdate).toBeGreaterThan(claim.lastUpdate);
    expect(b.self()).toMatchObject({ state: 'online' });
  });

  it('control offline keeps the server out of every list until it is brought back', async () => {
    const w = world();
    const cs = [0, 1, 2].map((i) => w.make(i));
    await Promise.all([...cs.map((c) => c.start()), w.clock.advance(100)]);
    await w.clock.advance(5_000);
    const [a, b, c] = cs as [typeof cs[0], typeof cs[0], typeof cs[0]];
    await expectCode(a.handleControl('', { message: 'control', online: false }), 'UNAUTHORIZED', 401);
    await expectCode(a.handleControl('Bearer wrong-secret-0123456789', { message: 'control', online: false }), 'UNAUTHORIZED', 401);
    await expectCode(a.handleControl(bearer, { message: 'control', online: 'no' }), 'MALFORMED', 400);
    expect(a.self().state).toBe('online');
    await a.handleControl(bearer, { message: 'control', online: false });
    expect(a.self()).toMatchObject({ state: 'offline', reason: 'admin' });
    await w.clock.advance(20_000);
    for (const x of [b, c]) expect(x.member(a.baseUrl)).toMatchObject({ state: 'offline', reason: 'admin' });
    // It keeps gossiping, and gossip never brings it back.
    expect(a.self().state).toBe('offline');
    await a.handleControl(bearer, { message: 'control', online: true });
    await w.clock.advance(20_000);
    for (const x of [a, b, c]) expect(x.member(a.baseUrl)?.state).toBe('online');
  });

  it('removes offline entries 24 h after their version, and does not take them back', async () => {
    const w = world();
    // Slow timers so that a virtual day is only a few thousand rounds.
    const slow = { gossipIntervalMs: 60_000, probeIntervalMs: 60_000, masterAnnounceMinimumMs: 3_600_000 };
    const a = w.make(0, slow);
    const b = w.make(1, slow);
    const c = w.make(2, slow);
    await startInTurn(w, [a, b, c]);
    expect(a.member(c.baseUrl)?.state).toBe('online');
    await Promise.all([c.shutdown(), w.clock.advance(100)]);
    await w.clock.advance(5_000);
    expect(a.member(c.baseUrl)?.state).toBe('offline');
    const left = a.member(c.baseUrl)!.lastUpdate;
    await w.clock.advanceTo(left + 24 * 3_600_000 - 60_000);
    expect(a.member(c.baseUrl)?.state).toBe('offline');
    // Pruning runs with each anti-entropy round: at most 72 s apart here.
    await w.clock.advanceTo(left + 24 * 3_600_000 + 75_000);
    expect(a.member(c.baseUrl)).toBeUndefined();
    expect(b.member(c.baseUrl)).toBeUndefined();
  }, 60_000);

  it('shutdown tells peers, updates the master list, is idempotent and bounded when peers hang', async () => {
    const w = world();
    const a = w.make(0, { updateMasterListOnShutdown: true });
    const b = w.make(1);
    const c = w.make(2);
    await Promise.all([a.start(), b.start(), c.start(), w.clock.advance(100)]);
    await w.clock.advance(3_000);
    w.net.setDown(c.baseUrl, 'hang');
    let done = 0;
    const p1 = a.shutdown().then(() => done++);
    const p2 = a.shutdown().then(() => done++);
    await w.clock.advance(100);
    expect(b.member(a.baseUrl)).toMatchObject({ state: 'offline', reason: 'left' });
    const stored = JSON.parse(w.list.body!) as { online: Array<{ baseUrl: string }> };
    expect(stored.online.map((s) => s.baseUrl)).not.toContain(a.baseUrl);
    expect(done).toBe(0); // still waiting on the hung peer
    await w.clock.advance(4_900);
    await Promise.all([p1, p2]);
    expect(done).toBe(2);
    expect(a.status).toBe('stopped');
    await expectCode(a.handleList(''), 'STOPPED', 503);
  });

  it('handlers refuse requests before start (503), forged or replayed signatures (401) and junk (400) without changing state', async () => {
    const w = world();
    const a = w.make(0);
    await expectCode(a.handleGossip('x', { message: 'gossip', online: [] }), 'NOT_STARTED', 503);
    await expectCode(a.handleList(''), 'NOT_STARTED', 503);
    await Promise.all([a.start(), w.clock.advance(50)]);
    const before = JSON.stringify(a.members());
    const target = `${a.baseUrl}clustershazbot/gossip`;
    const random = seededRandom(99);
    const body = { message: 'gossip', online: [{ baseUrl: 'http://x.test/', monitor: false, lastUpdate: w.clock.now() }] };
    const sign = (b: unknown, secret = SECRET, t = w.clock.now()) => signRequest(secret, target, b, t, makeNonce(random));
    await expectCode(a.handleGossip('', body as never), 'UNAUTHORIZED', 401);
    await expectCode(a.handleGossip(SECRET, body as never), 'UNAUTHORIZED', 401); // the 1.x raw secret
    await expectCode(a.handleGossip(sign(body, 'another-secret-0123456789abc'), body as never), 'UNAUTHORIZED', 401);
    await expectCode(a.handleGossip(sign(body, SECRET, w.clock.now() - 301_000), body as never), 'UNAUTHORIZED', 401);
    const tampered = { ...body, online: [{ ...body.online[0]!, baseUrl: 'http://evil.test/' }] };
    await expectCode(a.handleGossip(sign(body), tampered as never), 'UNAUTHORIZED', 401);
    for (const junk of [null, 'text', [], { message: 'gossip' }, { message: 'gossip', online: [{ baseUrl: 'ftp://x/', monitor: false, lastUpdate: 1 }] },
      { message: 'gossip', online: [{ baseUrl: 'http://x.test/', monitor: false, lastUpdate: w.clock.now() + 10 * 3_600_000 }] }]) {
      await expectCode(a.handleGossip(sign(junk), junk as never), 'MALFORMED', 400);
    }
    const many = { message: 'gossip', online: Array.from({ length: 20_001 }, (_, i) => ({ baseUrl: `http://h${i}.test/`, monitor: false, lastUpdate: 1 })) };
    await expectCode(a.handleGossip(sign(many), many as never), 'TOO_LARGE', 413);
    expect(JSON.stringify(a.members())).toBe(before);
    // A valid request is accepted once, then refused as a replay.
    const header = sign(body);
    const reply = await a.handleGossip(header, body as never);
    expect(reply.online.map((s) => s.baseUrl)).toContain('http://x.test/');
    expect(typeof (reply as unknown as { signature: unknown }).signature).toBe('string');
    await expectCode(a.handleGossip(header, body as never), 'REPLAYED', 401);
  });

  it('the list is public for online servers and shows offline ones only with the control secret', async () => {
    const w = world();
    const a = w.make(0);
    const b = w.make(1);
    await startInTurn(w, [a, b]);
    await Promise.all([b.shutdown(), w.clock.advance(100)]);
    const pub = await a.handleList('');
    expect(pub.online.map((s) => s.baseUrl)).toEqual([a.baseUrl]);
    expect(pub.offline).toBeUndefined();
    const full = await a.handleList(bearer);
    expect(full.offline?.map((s) => s.baseUrl)).toEqual([b.baseUrl]);
    await expectCode(a.handleList('Bearer nope-nope-nope-nope-nope'), 'UNAUTHORIZED', 401);
  });

  it('a server whose clock runs an hour behind is not made to look offline', async () => {
    const w = world();
    const slow = new ManualClock(w.clock.now() - 60_000 * 4); // within the signature window
    const a = w.make(0);
    const b = w.make(1, {}, undefined, slow);
    const advanceBoth = async (ms: number) => {
      await Promise.all([w.clock.advance(ms), slow.advance(ms)]);
    };
    await Promise.all([a.start(), b.start(), advanceBoth(100)]);
    for (let i = 0; i < 300; i++) await advanceBoth(100);
    expect(a.member(b.baseUrl)?.state).toBe('online');
    expect(b.member(a.baseUrl)?.state).toBe('online');
  });

  it('a throwing event listener never breaks the engine', async () => {
    const w = world();
    const a = w.make(0);
    const b = w.make(1);
    const off = a.on('server:up', () => {
      throw new Error('listener bug');
    });
    await Promise.all([a.start(), b.start(), w.clock.advance(100)]);
    await w.clock.advance(5_000);
    expect(onlineUrls(a)).toEqual([a.baseUrl, b.baseUrl].sort());
    off();
  });
});
