/**
 * The replicated state on the real engine (virtual time, MemoryNetwork):
 * sections travel on the signed gossip, an older peer without the state
 * interoperates, readiness follows the join sync, and the state digest rides
 * on probes at rest.
 */
import { describe, expect, it } from 'vitest';
import { world } from '../engine/test-cluster.js';
import type { Cluster } from '../engine/cluster.js';

async function settle(w: ReturnType<typeof world>, ms: number): Promise<void> {
  await w.clock.advance(ms);
}

async function startAll(w: ReturnType<typeof world>, cs: Cluster[]): Promise<void> {
  const started = Promise.all(cs.map((c) => c.start()));
  await w.clock.advance(6_000);
  await started;
}

describe('cluster.state on the engine', () => {
  it('a write reaches every server through the signed gossip, and each reports ready', async () => {
    const w = world(3);
    const cs = [0, 1, 2, 3, 4].map((i) => w.make(i));
    for (const c of cs) c.state.map('kv');
    await startAll(w, cs);
    await settle(w, 1_000);
    expect(cs.every((c) => c.state.isReady() && c.ready())).toBe(true);
    await cs[0]!.state.map('kv').set('a', { hello: 'world' });
    await settle(w, 200);
    for (const c of cs) expect(c.state.map('kv').get('a')).toEqual({ hello: 'world' });
    const majority = cs[1]!.state.map('kv').set('b', 2, { consistency: 'majority' });
    await settle(w, 100);
    expect((await majority).acks).toBeGreaterThanOrEqual(3);
  });

  it('a late server syncs what it missed before it is ready', async () => {
    const w = world(5);
    const cs = [0, 1, 2].map((i) => w.make(i));
    await startAll(w, cs);
    const m = cs[0]!.state.map('kv');
    for (let i = 0; i < 500; i++) await m.set(`k${i}`, i);
    await settle(w, 2_000);
    const late = w.make(3);
    const started = late.start();
    expect(late.ready()).toBe(false);
    await settle(w, 6_000);
    await started;
    await settle(w, 2_000);
    expect(late.ready()).toBe(true);
    expect(late.state.map('kv').size).toBe(500);
  });

  it('repairs by anti-entropy what a push missed (a lost message)', async () => {
    const w = world(9);
    const cs = [0, 1, 2].map((i) => w.make(i));
    await startAll(w, cs);
    await settle(w, 2_000);
    // Server 2 is cut off while a write is pushed, then comes back: its digest differs, a repair brings the write.
    w.net.setDown(cs[2]!.baseUrl, 'refuse');
    await cs[0]!.state.map('kv').set('missed', 1);
    await settle(w, 500);
    w.net.setDown(cs[2]!.baseUrl, undefined);
    await settle(w, 20_000);
    expect(cs[2]!.state.map('kv').get('missed')).toBe(1);
  });

  it('beside servers without the state (older versions), a server with it is ready at once and membership is unharmed', async () => {
    const w = world(13);
    const old = [0, 1].map((i) => w.make(i, {}, undefined, undefined, { state: false }));
    const fresh = w.make(2);
    await startAll(w, [...old, fresh]);
    await settle(w, 3_000);
    expect(fresh.ready()).toBe(true);
    expect(fresh.state.isReady()).toBe(true);
    await fresh.state.map('kv').set('a', 1); // pushed to peers that ignore it
    await settle(w, 2_000);
    for (const c of [...old, fresh]) expect(c.online().map((m) => m.baseUrl)).toHaveLength(3);
    expect(old.every((c) => c.ready())).toBe(true);
  });
});
