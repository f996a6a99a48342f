/**
 * Failure detection at the default probe timings, in virtual time: a
 * suspicion raised by one server is checked at once by the target's next
 * probers, and the final check before the verdict runs ahead of the
 * deadline. Without the first, this test's verdict comes 8.1 s after the
 * first suspicion; without the second, 1 s late.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../config.js';
import { suspicionBoundsMs } from '../swim/suspicion.js';
import type { Cluster } from './cluster.js';
import { world } from './test-cluster.js';

async function cluster(n: number, seed: number) {
  const w = world(seed);
  // The defaults' 30 s anti-entropy interval, so that what happens below is done by probes and pushes.
  const cs: Cluster[] = Array.from({ length: n }, (_, i) => w.make(i, { gossipIntervalMs: 30_000 }));
  for (const c of cs) await Promise.all([c.start(), w.clock.advance(100)]);
  await w.clock.advance(30_000);
  for (const c of cs) expect(c.online()).toHaveLength(n);
  return { w, cs };
}

describe('failure detection (virtual time, default probe timings)', () => {
  it('a frozen server is listed offline by everyone at about the minimum suspicion timeout after the first suspicion', async () => {
    const { w, cs } = await cluster(12, 9);
    const victim = cs[3]!;
    const url = victim.baseUrl;
    let first: number | undefined;
    const downAt = new Map<string, number>();
    for (const c of cs) {
      c.on('server:suspect', (s) => { if (s.baseUrl === url) first ??= w.clock.now(); });
      c.on('server:down', (s) => { if (s.baseUrl === url) downAt.set(c.baseUrl, w.clock.now()); });
    }
    w.net.setDown(url, 'hang'); // a frozen process: every request to it times out
    for (let t = 0; t < 30_000 && downAt.size < cs.length - 1; t += 10) await w.clock.advance(10);
    expect(downAt.size).toBe(cs.length - 1);
    const min = suspicionBoundsMs(12, DEFAULTS).minMs;
    const last = Math.max(...downAt.values());
    // Not before the minimum (the verdict waits for the deadline even though the final check ran ahead of it) ...
    expect(Math.min(...downAt.values()) - first!).toBeGreaterThanOrEqual(min);
    // ... and not much after it: confirmations came at once, and the final check (1 s of time limits) added no time.
    expect(last - first!).toBeLessThanOrEqual(min + 500);
  });
});
