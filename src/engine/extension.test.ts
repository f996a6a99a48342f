/**
 * The extension interface on the virtual-time test cluster, with a toy
 * extension: a grow-only set of strings (a G-Set). Its requests carry the
 * items added since its last message (news, as dissemination does), its
 * digest summarises the whole set, and a repair trades whole sets through
 * `host.exchange`.
 */
import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../core/logger.js';
import { ConfigError, MalformedError } from '../errors.js';
import type { Cluster } from './cluster.js';
import type { EngineExtension, ExchangeKind, ExtensionHost } from './extension.js';
import { onlineUrls, world, type TestWorld } from './test-cluster.js';

/** A grow-only set of strings riding on the gossip. */
class GSet implements EngineExtension {
  host!: ExtensionHost;
  readonly items = new Set<string>();
  /** Items not yet sent (the toy's dissemination: each goes out on the next message, once). */
  news: string[] = [];
  /** What arrived, by hook and kind. */
  readonly seen: Array<{ hook: 'onRequest' | 'onReply'; kind: ExchangeKind; peer: string | undefined; had: boolean }> = [];
  readonly repairs: Array<{ peer: string; at: number }> = [];
  repairing = new Map<string, number>();
  maxConcurrent = 0;
  /** How long a repair waits before it exchanges (to show that a slow one is not doubled). */
  repairDelayMs = 0;
  startCount = 0;
  statusAtStart: string | undefined;
  isReady = true;

  constructor(readonly name = 'gset') {}

  attach(host: ExtensionHost): void {
    this.host = host;
  }

  add(item: string): void {
    if (this.items.has(item)) return;
    this.items.add(item);
    this.news.push(item);
  }

  request(): unknown {
    if (this.news.length === 0) return undefined;
    const out = this.news;
    this.news = [];
    return out;
  }

  onRequest(section: unknown, from: string | undefined, kind: ExchangeKind): unknown {
    this.seen.push({ hook: 'onRequest', kind, peer: from, had: section !== undefined });
    if (section !== undefined) this.#absorb(section);
    // A repair's exchange gets the whole set back; anything else this side's news.
    return kind === 'direct' ? [...this.items].sort() : this.request();
  }

  onReply(section: unknown, peer: string, kind: ExchangeKind): void {
    this.seen.push({ hook: 'onReply', kind, peer, had: true });
    this.#absorb(section);
  }

  digest(): string {
    return `${this.items.size}:${[...this.items].sort().join(',')}`.slice(0, 200);
  }

  async repair(peer: string): Promise<void> {
    this.repairs.push({ peer, at: this.host.clock.now() });
    const n = (this.repairing.get(peer) ?? 0) + 1;
    this.repairing.set(peer, n);
    this.maxConcurrent = Math.max(this.maxConcurrent, n);
    try {
      if (this.repairDelayMs > 0) await new Promise<void>((resolve) => this.host.after(this.repairDelayMs, 'slow repair', resolve));
      const theirs = await this.host.exchange(peer, [...this.items].sort(), 1_000);
      if (theirs !== undefined && theirs !== null) this.#absorb(theirs);
    } finally {
      this.repairing.set(peer, n - 1);
    }
  }

  started(): void {
    this.startCount++;
    this.statusAtStart = this.host.status();
  }

  ready(): boolean {
    return this.isReady;
  }

  info(): unknown {
    return { items: this.items.size };
  }

  #absorb(section: unknown): void {
    if (!Array.isArray(section) || !section.every((x) => typeof x === 'string')) throw new MalformedError('gset: a section is a list of strings');
    for (const x of section) this.items.add(x);
  }
}

/** An extension every hook of which throws. */
const thrower: EngineExtension = {
  name: 'thrower',
  attach() {},
  request() { throw new Error('request'); },
  onRequest() { throw new Error('onRequest'); },
  onReply() { throw new Error('onReply'); },
  digest() { throw new Error('digest'); },
  repair() { throw new Error('repair'); },
  started() { throw new Error('started'); },
  memberChanged() { throw new Error('memberChanged'); },
  ready() { throw new Error('ready'); },
  stopping() { throw new Error('stopping'); },
  info() { throw new Error('info'); },
};

function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: LogFields }> } {
  const lines: Array<{ level: string; message: string; fields?: LogFields }> = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, ...(fields ? { fields } : {}) });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Starts servers one after another, then lets them settle. */
async function startAll(w: TestWorld, cs: readonly Cluster[], settleMs = 10_000): Promise<void> {
  for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
  await w.clock.advance(settleMs);
}

function withSet(c: Cluster, name = 'gset'): GSet {
  const g = new GSet(name);
  c.use(g);
  return g;
}

const CONTROL_AUTH = 'Bearer control-secret-0123456789abcdef';

/** An extension whose every request says its kind, and whose every answer echoes the request; it records what arrives. */
function echo(log: string[]): EngineExtension {
  return {
    name: 'echo',
    attach() {},
    request: (kind) => `echo:${kind}`,
    onRequest(section, from, kind) {
      log.push(`request ${kind} ${String(section)} from ${from ?? '-'}`);
      return `re:${String(section)}`;
    },
    onReply(section, peer, kind) {
      log.push(`reply ${kind} ${String(section)} from ${peer}`);
    },
  };
}

describe('extensions (virtual time)', () => {
  it('sections travel both ways on probes, pushes, anti-entropy and leave', async () => {
    const w = world(21, { state: false });
    const cs = [0, 1, 2].map((i) => w.make(i));
    const logs = cs.map(() => [] as string[]);
    cs.forEach((c, i) => c.use(echo(logs[i]!)));
    await startAll(w, cs);
    // A change of membership makes pushes.
    await cs[2]!.handleControl(CONTROL_AUTH, { message: 'control', online: false });
    await w.clock.advance(3_000);
    await cs[2]!.handleControl(CONTROL_AUTH, { message: 'control', online: true });
    await w.clock.advance(5_000);
    await Promise.all([cs[2]!.shutdown(), w.clock.advance(1_000)]);
    const [a, b, c] = cs.map((x) => x.baseUrl);
    for (const kind of ['probe', 'push', 'anti-entropy']) {
      expect(logs[0], kind).toContain(`request ${kind} echo:${kind} from ${b}`);
      expect(logs[0], kind).toContain(`reply ${kind} re:echo:${kind} from ${b}`);
    }
    expect(logs[0]).toContain(`request leave echo:leave from ${c}`);
    expect(logs[1]).toContain(`request leave echo:leave from ${c}`);
    expect(logs[2]).toContain(`reply push re:echo:push from ${a}`);
  });

  it('a grow-only set converges through news and repairs; started() once running; info shows it', async () => {
    const w = world(22, { state: false });
    const cs = [0, 1, 2].map((i) => w.make(i));
    const sets = cs.map((c) => withSet(c));
    expect(sets[0]!.startCount).toBe(0);
    await startAll(w, cs);
    for (const g of sets) expect([g.startCount, g.statusAtStart]).toEqual([1, 'running']);
    for (let round = 0; round < 20; round++) {
      sets.forEach((g, i) => g.add(`${i}-${round}`));
      await w.clock.advance(700);
    }
    await w.clock.advance(10_000);
    for (const g of sets) expect(g.items.size).toBe(60);
    // The sender's URL comes with each request.
    expect(new Set(sets[1]!.seen.filter((s) => s.hook === 'onRequest').map((s) => s.peer))).toEqual(new Set([cs[0]!.baseUrl, cs[2]!.baseUrl]));
    expect(cs[0]!.info().extensions).toEqual({ gset: { items: 60 } });
  });

  it('a differing digest starts a repair: never two at once for one peer, at most one per probe period', async () => {
    const w = world(23, { state: false });
    const cs = [0, 1].map((i) => w.make(i));
    const [ga, gb] = cs.map((c) => withSet(c)) as [GSet, GSet];
    await startAll(w, cs);
    for (let i = 0; i < 50; i++) ga.items.add(`quiet-${i}`); // not news: only a repair can carry them
    // Slow repairs (longer than two probe periods): probes keep finding different digests meanwhile.
    ga.repairDelayMs = 6_000;
    gb.repairDelayMs = 6_000;
    await w.clock.advance(20_000);
    expect(gb.items.size).toBe(50);
    expect([ga.maxConcurrent, gb.maxConcurrent]).toEqual([1, 1]);
    for (const g of [ga, gb]) {
      expect(g.repairs.length).toBeGreaterThan(0);
      for (let i = 1; i < g.repairs.length; i++) expect(g.repairs[i]!.at - g.repairs[i - 1]!.at).toBeGreaterThanOrEqual(6_000);
    }
    // Once equal, nothing more to repair.
    const before = ga.repairs.length + gb.repairs.length;
    await w.clock.advance(20_000);
    expect(ga.repairs.length + gb.repairs.length).toBe(before);
  });

  it('a repair that repairs nothing is tried again at most once per probe period and peer', async () => {
    const w = world(28, { state: false });
    const cs = [0, 1, 2].map((i) => w.make(i));
    const starts = cs.map(() => [] as Array<{ peer: string; at: number }>);
    cs.forEach((c, i) => c.use({
      name: 'stubborn', attach() {}, digest: () => c.baseUrl, // never equal to anyone's
      repair: async (peer) => void starts[i]!.push({ peer, at: w.clock.now() }),
    }));
    await startAll(w, cs, 1_000);
    const from = w.clock.now();
    await w.clock.advance(30_000);
    for (const [i, mine] of starts.entries()) {
      for (const peer of cs.filter((_, j) => j !== i).map((c) => c.baseUrl)) {
        const times = mine.filter((r) => r.peer === peer && r.at >= from).map((r) => r.at);
        expect(times.length, `${i} with ${peer}`).toBeGreaterThanOrEqual(3);
        expect(times.length).toBeLessThanOrEqual(30_000 / 2_500 + 1);
        for (let k = 1; k < times.length; k++) expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(2_500);
      }
    }
  });

  it('an older peer (no extension) interoperates: membership converges, host.exchange to it resolves null', async () => {
    const w = world(24, { state: false });
    const cs = [0, 1, 2].map((i) => w.make(i));
    const [g0, g1] = [withSet(cs[0]!), withSet(cs[1]!)];
    await startAll(w, cs);
    const all = cs.map((c) => c.baseUrl).sort();
    for (const c of cs) expect(onlineUrls(c)).toEqual(all);
    g0.add('x');
    await w.clock.advance(5_000);
    expect(g1.items.has('x')).toBe(true);
    const pending = [g0.host.exchange(cs[2]!.baseUrl, ['x'], 1_000), g0.host.exchange(cs[1]!.baseUrl, ['y'], 1_000),
      g0.host.exchange('http://stranger.test:3000/', [], 1_000), g0.host.exchange('not a url', [], 1_000)];
    await w.clock.advance(100);
    expect(await Promise.all(pending)).toEqual([null, ['x', 'y'], undefined, undefined]);
    // Down: the exchange fails, without rejecting.
    w.net.setDown(cs[2]!.baseUrl, 'refuse');
    const down = g0.host.exchange(cs[2]!.baseUrl, [], 500);
    await w.clock.advance(1_000);
    expect(await down).toBeUndefined();
    expect(cs[2]!.stats().extensionRejections).toBe(0);
  });

  it('a throwing hook is logged and never stops probes, failure detection or replication', async () => {
    const w = world(25, { state: false });
    const loggers = [0, 1, 2, 3].map(() => recordingLogger());
    const cs = [0, 1, 2, 3].map((i) => w.make(i, {}, loggers[i]));
    for (const c of cs) c.use({ ...thrower });
    const sets = cs.map((c) => withSet(c));
    await startAll(w, cs);
    const all = cs.map((c) => c.baseUrl).sort();
    for (const c of cs) expect(onlineUrls(c)).toEqual(all);
    sets[0]!.add('survives');
    await w.clock.advance(5_000);
    for (const g of sets) expect(g.items.has('survives')).toBe(true);
    // A crash is still detected by everyone.
    w.net.setDown(cs[3]!.baseUrl, 'hang');
    await w.clock.advance(60_000);
    for (const c of cs.slice(0, 3)) expect(c.member(cs[3]!.baseUrl)).toMatchObject({ state: 'offline', reason: 'failed' });
    sets[1]!.add('after');
    await w.clock.advance(5_000);
    for (const g of sets.slice(0, 3)) expect(g.items.has('after')).toBe(true);
    const messages = new Set(loggers[0]!.lines.filter((l) => l.level === 'error').map((l) => l.message));
    for (const hook of ['request', 'onRequest', 'digest', 'started', 'memberChanged', 'ready', 'info']) {
      if (hook === 'ready') expect(cs[0]!.ready()).toBe(false); // a throwing ready() is not ready
      if (hook === 'info') expect(cs[0]!.info().extensions).toEqual({ gset: { items: 2 } });
      const now = new Set(loggers[0]!.lines.filter((l) => l.level === 'error').map((l) => l.message));
      expect(new Set([...messages, ...now]), hook).toContain(`extension thrower: ${hook} threw; the engine carries on`);
    }
    await Promise.all([cs[0]!.shutdown(), w.clock.advance(6_000)]);
    expect(cs[0]!.status).toBe('stopped');
    expect(loggers[0]!.lines.map((l) => l.message)).toContain('extension thrower: stopping threw; the engine carries on');
  });

  it('use() checks the name: bad or duplicate names throw ConfigError, a non-extension TypeError', () => {
    const w = world(26, { state: false });
    const c = w.make(0);
    for (const name of ['', 'A', '1x', '-x', 'x'.repeat(33), 'has space', 'ünï', 5, undefined]) {
      expect(() => c.use({ name, attach() {} } as unknown as EngineExtension), String(name)).toThrow(ConfigError);
    }
    expect(() => c.use(null as unknown as EngineExtension)).toThrow(TypeError);
    expect(() => c.use({ name: 'x' } as unknown as EngineExtension)).toThrow(TypeError);
    expect(() => c.use({ name: 'boom', attach() { throw new Error('attach'); } })).toThrow('attach');
    c.use({ name: 'x'.repeat(32), attach() {} });
    c.use({ name: 'boom', attach() {} }); // the failed one was not registered
    expect(() => c.use({ name: 'boom', attach() {} })).toThrow(ConfigError);
  });

  it('ready() is running and every extension ready; use() after start starts at once; stopping() is bounded', async () => {
    const w = world(27, { state: false });
    const c = w.make(0, { shutdownTimeoutMs: 2_000 });
    const g = withSet(c);
    g.isReady = false;
    expect(c.ready()).toBe(false);
    await startAll(w, [c], 100);
    expect([c.status, c.ready(), g.startCount]).toEqual(['running', false, 1]);
    g.isReady = true;
    expect(c.ready()).toBe(true);
    const late = new GSet('late');
    c.use(late);
    expect([late.startCount, c.ready()]).toEqual([1, true]);
    late.isReady = false;
    expect(c.ready()).toBe(false);
    let stoppedAt: number | undefined;
    c.use({ name: 'slow', attach() {}, stopping: () => new Promise<void>(() => undefined) });
    c.use({ name: 'prompt', attach() {}, stopping() { stoppedAt = w.clock.now(); } });
    const t0 = w.clock.now();
    const done = c.shutdown();
    await w.clock.advance(2_500);
    await done;
    expect([c.status, stoppedAt, c.ready()]).toEqual(['stopped', t0, false]);
  });
});
