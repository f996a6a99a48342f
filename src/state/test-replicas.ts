/**
 * A test bench for the replicated state alone: replicas attached to fake
 * engine hosts on one virtual clock, whose `exchange` goes through JSON
 * (as on the wire) to the peer's `onRequest`, with partitions. The real
 * engine is tested with the state in src/state/cluster-state.test.ts; this
 * bench isolates the state's own rules. For tests only.
 */
import { ManualClock } from '../core/clock.js';
import { seededRandom } from '../core/random.js';
import { silentLogger } from '../core/logger.js';
import { resolveOptions } from '../config.js';
import type { ExtensionHost } from '../engine/extension.js';
import type { MemberEntry } from '../membership/entry.js';
import { StateReplica, type StateOptions } from './replica.js';

export interface Bench {
  readonly clock: ManualClock;
  readonly replicas: StateReplica[];
  url(i: number): string;
  /** Starts replica `i` (attach + started), optionally with options (a store). */
  start(i: number, options?: StateOptions): StateReplica;
  /** Takes replica `i` down (its exchanges fail both ways). */
  kill(i: number): Promise<void>;
  /** Cuts traffic between the two groups. */
  partition(a: readonly number[], b: readonly number[]): void;
  heal(): void;
  /** Drops every exchange to and from `i`, while everyone still lists everyone up (before suspicion). */
  isolate(i: number): void;
  /** Advances virtual time by `ms`, letting every timer and promise run. */
  run(ms: number): Promise<void>;
  /** Exchanges sent, and their JSON bytes both ways. */
  readonly traffic: { exchanges: number; bytes: number };
}

export function bench(n: number, seed = 1): Bench {
  const clock = new ManualClock();
  const random = seededRandom(seed);
  const urls = Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:3000/`);
  const config = resolveOptions({ baseUrl: urls[0]!, secret: 'x'.repeat(32), controlSecret: 'y'.repeat(32), masterListUrl: 'file:///dev/null' });
  const replicas: StateReplica[] = new Array<StateReplica>(n);
  const up = new Set<number>();
  const cut = new Set<string>();
  const traffic = { exchanges: 0, bytes: 0 };
  const isolated = new Set<number>();
  const reachable = (a: number, b: number): boolean => up.has(a) && up.has(b) && !cut.has(`${a}>${b}`) && !isolated.has(a) && !isolated.has(b);
  const listed = (a: number, b: number): boolean => up.has(b) && !cut.has(`${a}>${b}`);

  const host = (i: number): ExtensionHost => ({
    selfUrl: urls[i]!,
    config: { ...config, baseUrl: urls[i]! },
    clock,
    random,
    log: silentLogger,
    status: () => (up.has(i) ? 'running' : 'stopped'),
    members: (): MemberEntry[] => urls.map((u, j) => ({ baseUrl: u, state: up.has(j) ? 'online' : 'offline', monitor: false, lastUpdate: 1 } as MemberEntry)),
    upPeers: () => urls.filter((_, j) => j !== i && listed(i, j)),
    upPeerCount: () => urls.filter((_, j) => j !== i && listed(i, j)).length,
    exchange: async (peer, section, timeoutMs) => {
      const j = urls.indexOf(peer);
      traffic.exchanges++;
      await Promise.resolve();
      if (j < 0 || !reachable(i, j)) {
        await new Promise<void>((resolve) => clock.setTimer(Math.min(timeoutMs, 50), resolve));
        return undefined;
      }
      const text = JSON.stringify(section ?? null);
      traffic.bytes += text.length;
      const reply = replicas[j]!.onRequest(JSON.parse(text) as unknown, urls[i], 'direct');
      await Promise.resolve();
      if (!reachable(j, i)) return undefined;
      const back = JSON.stringify(reply ?? null);
      traffic.bytes += back.length;
      return JSON.parse(back) as unknown;
    },
    after: (ms, _what, task) => {
      clock.setTimer(ms, () => {
        if (!up.has(i)) return;
        void Promise.resolve().then(task).catch(() => undefined);
      });
    },
    spawn: (_what, task) => {
      void Promise.resolve().then(task).catch(() => undefined);
    },
    maxBodyBytes: 4 * 1024 * 1024,
  });

  return {
    clock,
    replicas,
    traffic,
    url: (i) => urls[i]!,
    start(i, options) {
      const r = new StateReplica(options);
      replicas[i] = r;
      up.add(i);
      const h = host(i);
      r.attach(h);
      r.started();
      // The engine's probes, which carry the state's section: one a second, to a random peer.
      const probe = (): void => {
        if (replicas[i] !== r || !up.has(i)) return;
        const peers = h.upPeers();
        const peer = peers[Math.floor(random.float() * peers.length)];
        if (peer !== undefined) {
          const section = r.request('probe');
          if (section !== undefined) {
            void h.exchange(peer, section, 500).then((reply) => {
              if (reply !== undefined && reply !== null) r.onReply(reply, peer, 'probe');
            });
          }
        }
        clock.setTimer(1000, probe);
      };
      clock.setTimer(1000, probe);
      return r;
    },
    async kill(i) {
      up.delete(i);
      await replicas[i]?.stopping();
    },
    partition(a, b) {
      for (const x of a) for (const y of b) {
        cut.add(`${x}>${y}`);
        cut.add(`${y}>${x}`);
      }
    },
    heal() {
      cut.clear();
      isolated.clear();
    },
    isolate(i) {
      isolated.add(i);
    },
    async run(ms) {
      await clock.advance(ms);
    },
  };
}
