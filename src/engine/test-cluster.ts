// Shared set-up for the engine's virtual-time tests: N instances on one
// MemoryNetwork with one ManualClock per test.
import { ManualClock } from '../core/clock.js';
import { seededRandom } from '../core/random.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { ClusterOptions } from '../config.js';
import { MemoryNetwork } from '../testing/memory-network.js';
import { createCluster, type Cluster, type ClusterDeps } from './cluster.js';

export const SECRET = 'gossip-secret-0123456789abcdef';
export const CONTROL = 'control-secret-0123456789abcdef';

export interface TestWorld {
  clock: ManualClock;
  net: MemoryNetwork;
  list: ReturnType<MemoryNetwork['masterList']>;
  make(i: number, extra?: Partial<ClusterOptions>, logger?: Logger, clock?: ManualClock, deps?: Pick<ClusterDeps, 'state'>): Cluster;
}

/** `deps` are added to every instance's (e.g. `{ state: false }` to test an extension alone). */
export function world(seed = 1, deps: Pick<ClusterDeps, 'state'> = {}): TestWorld {
  const clock = new ManualClock();
  const net = new MemoryNetwork(clock, 2);
  const list = net.masterList();
  return {
    clock,
    net,
    list,
    make(i, extra = {}, logger = silentLogger, ownClock = clock, own = {}) {
      const baseUrl = `http://s${i}.test:3000/`;
      const c = createCluster(
        {
          baseUrl,
          secret: SECRET,
          controlSecret: CONTROL,
          masterListUrl: list.url,
          masterListUpdateUrl: list.url,
          masterListUpdateAuth: 'Bearer store-token',
          gossipIntervalMs: 1_000,
          masterAnnounceMinimumMs: 10_000,
          masterAnnounceIntervalMs: 5_000,
          ...extra,
        },
        { clock: ownClock, random: seededRandom(seed * 1000 + i), transport: net.transport(baseUrl), logger, ...deps, ...own },
      );
      net.register(c);
      return c;
    },
  };
}

/** The URLs a cluster lists as online, sorted. */
export function onlineUrls(c: Cluster): string[] {
  return c.members().filter((m) => m.state === 'online').map((m) => m.baseUrl);
}
