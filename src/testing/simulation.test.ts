import { describe, it, expect } from 'vitest';
import { DRAIN_DEPTH } from './sim-clock.js';
import { SIM_MASTER_LIST_URL } from './sim-network.js';
import { Simulation, SIM_START_MS, type SimEvent, type SimulationOptions } from './simulation.js';

/** Fast gossip so scenarios take seconds of virtual time, not minutes. */
const FAST = { gossipIntervalMs: 1_000 };

function sim(o: Partial<SimulationOptions> & { nodes: number }): Promise<Simulation> {
  return Simulation.create({ seed: 42, options: () => FAST, ...o });
}

/** Whether node i lists every server in `urls` as online. */
function seesOnline(s: Simulation, i: number, urls: readonly string[]): boolean {
  return urls.every((u) => s.view(i, u)?.state === 'online');
}

/** Whether every live node other than `url` holds `url` in `state`. */
function everyoneSees(s: Simulation, url: string, state: string): boolean {
  return s.nodes.every((n) => n.status !== 'up' || n.baseUrl === url || s.view(n.index, url)?.state === state);
}

function allUp(s: Simulation): boolean {
  const urls = s.nodes.filter((n) => n.status === 'up').map((n) => n.baseUrl);
  return s.nodes.every((n) => n.status !== 'up' || seesOnline(s, n.index, urls));
}

describe('Simulation', () => {
  it('warm-starts every node knowing the full membership, then fills the master list', async () => {
    const s = await sim({ nodes: 8 });
    expect(s.nodes.map((n) => n.baseUrl)).toEqual(Array.from({ length: 8 }, (_, i) => `http://n${i}.sim/`));
    expect(s.nodes.every((n) => n.status === 'up' && n.cluster.status === 'running')).toBe(true);
    expect(allUp(s)).toBe(true);
    expect(s.view(0, 'http://n7.sim/')?.lastUpdate).toBe(SIM_START_MS);
    const stored = JSON.parse(s.net.masterList!) as { online: Array<{ baseUrl: string }> };
    expect(stored.online.map((e) => e.baseUrl)).toHaveLength(8);
  });

  it('cold-starts from the master list and the fan-out', async () => {
    const s = await sim({ nodes: 6, warmStart: false });
    expect(allUp(s)).toBe(true);
    expect(s.net.messagesSent).toBeGreaterThan(6 * 2);
  });

  it('spreads a joining server to everyone', async () => {
    const s = await sim({ nodes: 12 });
    const joined = await s.addNode();
    expect(joined.index).toBe(12);
    // It read the master list at start, so it knows everyone at once.
    expect(seesOnline(s, 12, s.nodes.map((n) => n.baseUrl))).toBe(true);
    const took = await s.runUntil(() => everyoneSees(s, joined.baseUrl, 'online'), 60_000, 250);
    expect(took).toBeDefined();
  });

  it('lets the survivors notice a crash within five minutes, and reports it as events', async () => {
    const s = await sim({ nodes: 10 });
    const events: SimEvent[] = [];
    s.onEvent((e) => events.push(e));
    const victim = s.nodes[3]!.baseUrl;
    await s.run(5_000);
    s.crash(3);
    expect(s.nodes[3]!.status).toBe('crashed');
    const sent = s.net.bytesSentBy(victim);
    const took = await s.runUntil(() => everyoneSees(s, victim, 'offline'), 5 * 60_000, 500);
    expect(took).toBeDefined();
    // A crashed instance never runs again: none of its timers fired.
    expect(s.net.bytesSentBy(victim)).toBe(sent);
    const downs = events.filter((e) => e.type === 'server:down' && e.url === victim);
    expect(new Set(downs.map((e) => e.node)).size).toBe(9);
    expect(downs.every((e) => e.at >= SIM_START_MS + 5_000 && e.node !== 3)).toBe(true);
  });

  it('restarts a crashed node as a new instance that everyone sees online again', async () => {
    const s = await sim({ nodes: 8 });
    const before = s.nodes[5]!.cluster;
    s.crash(5);
    await s.run(120_000);
    await s.restart(5);
    // By identity: not.toBe would also deep-compare the two instances, and cluster.state of an
    // instance without the state (the simulator's default) throws on any property, symbols included.
    expect(s.nodes[5]!.cluster === before).toBe(false);
    expect(s.nodes[5]!.status).toBe('up');
    expect(await s.runUntil(() => allUp(s), 3 * 60_000, 500)).toBeDefined();
  });

  it('holds a paused node: it sends nothing while paused and catches up after resume', async () => {
    const s = await sim({ nodes: 8 });
    const url = s.nodes[2]!.baseUrl;
    await s.run(3_000);
    s.pause(2);
    expect(s.nodes[2]!.status).toBe('paused');
    const sent = s.net.bytesSentBy(url);
    await s.run(20_000);
    expect(s.net.bytesSentBy(url)).toBe(sent);
    s.resume(2);
    await s.run(5_000);
    expect(s.net.bytesSentBy(url)).toBeGreaterThan(sent);
    expect(await s.runUntil(() => allUp(s), 3 * 60_000, 500)).toBeDefined();
  });

  it('separates a partition and heals it', async () => {
    const s = await sim({ nodes: 10 });
    const left = s.nodes.slice(0, 5).map((n) => n.baseUrl);
    const right = s.nodes.slice(5).map((n) => n.baseUrl);
    s.net.partition(left, right);
    const split = await s.runUntil(() => s.view(0, right[0]!)?.state === 'offline' && s.view(9, left[0]!)?.state === 'offline', 5 * 60_000, 1_000);
    expect(split).toBeDefined();
    s.net.heal();
    expect(await s.runUntil(() => allUp(s), 5 * 60_000, 1_000)).toBeDefined();
  });

  it('gives each node its own clock skew', async () => {
    const s = await sim({ nodes: 4, skewMs: (i) => i * 60_000 });
    await s.run(1_000);
    expect([0, 1, 2, 3].map((i) => s.nodeNow(i) - s.now())).toEqual([0, 60_000, 120_000, 180_000]);
    const before = s.now();
    await s.restart(3);
    // A restarted server stamps its own entry with its own clock, and keeps its skew.
    expect(s.nodes[3]!.cluster.self().lastUpdate).toBeGreaterThanOrEqual(before + 180_000);
    expect(s.nodeNow(3) - s.now()).toBe(180_000);
    s.setSkew(3, -5_000);
    expect(s.nodeNow(3) - s.now()).toBe(-5_000);
  });

  it('bootstraps a joining server from the store only when it is reachable', async () => {
    const s = await sim({ nodes: 4 });
    s.net.crash(SIM_MASTER_LIST_URL);
    const lonely = await s.addNode({ masterListTimeoutMs: 1_000 });
    expect(s.view(lonely.index, s.nodes[0]!.baseUrl)).toBeUndefined();
  });

  it('runs without the replicated state unless asked', async () => {
    const s = await sim({ nodes: 4 });
    expect(() => s.nodes[0]!.cluster.state.map('m')).toThrow(TypeError);
    expect(s.nodes[0]!.cluster.info().extensions).toBeUndefined();
  });

  it('runs the replicated state when asked: setup runs before the start, writes reach every replica', async () => {
    const setupStatus: string[] = [];
    const s = await sim({
      nodes: 6,
      state: (i) => (i === 5 ? { settings: { digestIntervalMs: 1_000 } } : true),
      setup: (node) => {
        setupStatus.push(node.cluster.status);
        node.cluster.state.map('m');
      },
    });
    expect(setupStatus).toEqual(Array(6).fill('idle'));
    expect(await s.runUntil(() => s.nodes.every((n) => n.cluster.state.isReady()), 60_000, 100)).toBeDefined();
    void s.nodes[2]!.cluster.state.map('m').set('k', { v: 1 });
    expect(await s.runUntil(() => s.nodes.every((n) => n.cluster.state.map('m').get('k') !== undefined), 60_000, 10)).toBeDefined();
    // A joining node runs it too (setup included), and syncs what the others hold.
    const joined = await s.addNode();
    expect(setupStatus).toHaveLength(7);
    expect(await s.runUntil(() => joined.cluster.state.isReady(), 60_000, 100)).toBeDefined();
    expect(joined.cluster.state.map('m').get('k')).toEqual({ v: 1 });
  });

  it('is deterministic: same seed, same messages, bytes, events and views', async () => {
    const scenario = async (seed: number): Promise<string> => {
      const s = await Simulation.create({ seed, nodes: 10, loss: 0.05, skewMs: (i) => (i % 3) * 700, options: () => FAST });
      const events: SimEvent[] = [];
      s.onEvent((e) => events.push(e));
      await s.run(10_000);
      s.crash(4);
      s.net.block([s.nodes[0]!.baseUrl], [s.nodes[1]!.baseUrl]);
      await s.run(30_000);
      s.pause(6);
      await s.run(10_000);
      s.resume(6);
      await s.restart(4);
      await s.run(20_000);
      const views = s.nodes.map((n) => n.cluster.members());
      return JSON.stringify({ m: s.net.messagesSent, b: s.net.bytesSent, t: s.clock.firedTimers, events, views });
    };
    const a = await scenario(9);
    expect(await scenario(9)).toBe(a);
    expect(await scenario(10)).not.toBe(a);
  });

  it('lets every engine continuation finish inside one drain', async () => {
    // Measured with a very deep drain: how deep do the engine's chains go?
    const s = await Simulation.create({ seed: 1, nodes: 6, loss: 0.1, drainDepth: 500, options: () => FAST });
    s.crash(1);
    await s.run(60_000);
    await s.restart(1);
    await s.run(10_000);
    expect(s.clock.deepestTimerTurn).toBeGreaterThan(0);
    expect(s.clock.deepestTimerTurn).toBeLessThanOrEqual(Math.floor((DRAIN_DEPTH * 2) / 3));
  });
});
