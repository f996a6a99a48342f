import { silentLogger, type Logger } from '../core/logger.js';
import { seededRandom } from '../core/random.js';
import type { ClusterOptions } from '../config.js';
import { createCluster, type Cluster, type ClusterDeps } from '../engine/cluster.js';
import type { StateOptions } from '../state/replica.js';
import type { MemberEntry } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
import { SimClock } from './sim-clock.js';
import { SIM_MASTER_LIST_URL, SimNetwork } from './sim-network.js';
import { NodeClock, runUntilSettled } from './sim-node-clock.js';
import { fmix32 } from '../swim/hash.js';

/** Gossip secret every simulated server shares (unless `options` overrides it). */
export const SIM_SECRET = 'sim-gossip-secret-0123456789abcdef';
/** Control secret every simulated server shares (unless `options` overrides it). */
export const SIM_CONTROL_SECRET = 'sim-control-secret-0123456789abcdef';
/** Virtual time at which every simulation starts, ms since the epoch. */
export const SIM_START_MS = 1_700_000_000_000;

/** How a simulation is set up. */
export interface SimulationOptions {
  /** Seed of every random draw: same seed, same run. */
  seed: number;
  /** Servers started by {@link Simulation.create}, at `http://n<i>.sim/`. */
  nodes: number;
  /** Mean one-way message latency, ms. @default 5 */
  latencyMs?: number;
  /** Latency spread: uniform in [latency − jitter, latency + jitter]. @default 2 */
  jitterMs?: number;
  /** Per-message loss probability. @default 0 */
  loss?: number;
  /** Clock skew of node i, ms: its clock reads global time + skew(i). @default 0 */
  skewMs?: (i: number) => number;
  /**
   * Cluster options of node i, merged over the simulation's defaults: the
   * shared secrets, `masterListUrl` = the simulated store, `baseUrl` =
   * `http://n<i>.sim/`, and `fanout: 0` for warm-started nodes. Nodes do not
   * write the master list unless given `masterListUpdateUrl` here (use
   * {@link SIM_MASTER_LIST_URL}): thousands of servers each writing a list
   * of thousands of entries would dominate a large run. Nodes keep no
   * timeline and no exchange statistics (`timelineSize: 0`,
   * `exchangeStatsPeers: 0`) unless given them here: they change no
   * behaviour, and their memory would be multiplied by the number of nodes
   * (up to 256 events and 1,024 peers × 64 samples each at the defaults).
   */
  options?: (i: number) => Partial<ClusterOptions>;
  /**
   * Start every node knowing the full membership (all online at version
   * {@link SIM_START_MS}) as a restored snapshot, the only way to start
   * 10,000 nodes quickly: a cold start of N servers costs N master-list
   * reads of N entries plus a fan-out of exchanges each carrying the list.
   * Warm nodes get `fanout: 0` for the same reason. When false, every node
   * starts cold: it reads the full list from the store and exchanges with
   * its fan-out. @default true
   */
  warmStart?: boolean;
  /**
   * The replicated state (`cluster.state`, docs/state.md) of node i: its
   * options (a store, settings), `true` for the defaults, or `false` for
   * none. Off by default, so that membership runs cost what they did: a
   * replica keeps a timer of its own on every server (one tick a second),
   * which 10,000 simulated servers would pay for. With it on, each node's
   * replica is `sim.nodes[i].cluster.state`; give each node its own store
   * (the same object for all would make them share one identity).
   * @default false
   */
  state?: boolean | StateOptions | ((i: number) => boolean | StateOptions);
  /**
   * Called with each node's new instance (at create, restart and join)
   * after it is created and before it starts: to declare maps, subscribe
   * to events, or load data into it.
   */
  setup?: (node: SimNode) => void;
  /** Logger of node i. @default silent */
  logger?: (i: number) => Logger;
  /** Microtask turns after each timer (default DRAIN_DEPTH of sim-clock.ts); raise it to measure the engine's needs. */
  drainDepth?: number;
}

/** What a simulated server is doing. */
export type SimNodeStatus = 'up' | 'crashed' | 'paused';

/** One simulated server. */
export interface SimNode {
  readonly index: number;
  readonly baseUrl: string;
  /** The current instance (a restart replaces it). */
  readonly cluster: Cluster;
  readonly status: SimNodeStatus;
}

/** Membership events the simulation reports. */
export type SimEventType = 'server:up' | 'server:down' | 'server:suspect';

/** A membership change one node observed. */
export interface SimEvent {
  /** Global virtual time, ms. */
  readonly at: number;
  /** Index of the observing node. */
  readonly node: number;
  readonly type: SimEventType;
  /** The server the event is about. */
  readonly url: string;
  readonly reason?: string;
}

const EVENT_TYPES: readonly SimEventType[] = ['server:up', 'server:down', 'server:suspect'];

/** Upper bound of virtual time a `start()` may take before the simulation gives up on it. */
const START_LIMIT_MS = 10 * 60_000;

/**
 * The simulator: many instances of the real engine (createCluster) on one
 * virtual clock and one simulated network. Same seed, same run: the only
 * sources of randomness are seeded and the event order is fixed.
 */
export class Simulation {
  /** The global virtual clock. */
  readonly clock: SimClock;
  /** The simulated network (latency, loss, partitions, bytes). */
  readonly net: SimNetwork;
  readonly #o: SimulationOptions;
  readonly #nodes: NodeRecord[] = [];
  readonly #listeners = new Set<(e: SimEvent) => void>();

  private constructor(o: SimulationOptions) {
    this.#o = o;
    this.clock = new SimClock(SIM_START_MS, o.drainDepth === undefined ? {} : { drainDepth: o.drainDepth });
    this.net = new SimNetwork(this.clock, seededRandom(mix(o.seed, 0x6e6574)), {
      latencyMs: o.latencyMs, jitterMs: o.jitterMs, loss: o.loss,
    });
  }

  /**
   * Creates `o.nodes` servers and starts them all, running virtual time until
   * every `start()` has resolved. The store then holds the full list, so
   * {@link addNode} and {@link restart} bootstrap from it.
   */
  static async create(o: SimulationOptions): Promise<Simulation> {
    const sim = new Simulation(o);
    const warm = o.warmStart ?? true;
    const options = Array.from({ length: o.nodes }, (_, i) => sim.#optionsFor(i, warm));
    const snapshot: MemberEntry[] = options.map((opt) => ({
      baseUrl: normalizeBaseUrl(opt.baseUrl), state: 'online', monitor: opt.monitor ?? false, lastUpdate: SIM_START_MS,
    }));
    const list = JSON.stringify({ online: snapshot.map((e) => ({ baseUrl: e.baseUrl, monitor: e.monitor, lastUpdate: e.lastUpdate })) });
    // With a snapshot the list is stored only after the start, so N starting
    // servers each read a 404 instead of N entries (O(N) instead of O(N²)).
    const viaSnapshot = warm;
    if (!viaSnapshot) sim.net.masterList = list;
    const starts = options.map((opt, i) => sim.#spawn(i, opt, viaSnapshot ? snapshot : undefined).cluster.start());
    await sim.#settle(Promise.all(starts), 'start');
    if (viaSnapshot) sim.net.masterList = list;
    return sim;
  }

  /** Every server, by index (crashed ones included). */
  get nodes(): ReadonlyArray<SimNode> {
    return this.#nodes;
  }

  /** Global virtual time, ms since the epoch. */
  now(): number {
    return this.clock.now();
  }

  /** Runs `ms` of virtual time. */
  run(ms: number): Promise<void> {
    return this.clock.runFor(ms);
  }

  /**
   * Runs until `predicate` holds, checking it every `checkEveryMs` of
   * virtual time (it may be O(N²): check it rarely on large runs). Resolves
   * with the virtual time elapsed when it first held (0 if it held at once),
   * or undefined if it did not within `maxMs`.
   */
  async runUntil(predicate: () => boolean, maxMs: number, checkEveryMs = 1_000): Promise<number | undefined> {
    const start = this.clock.now();
    if (predicate()) return 0;
    for (let elapsed = 0; elapsed < maxMs; ) {
      await this.clock.runFor(Math.min(Math.max(1, checkEveryMs), maxMs - elapsed));
      elapsed = this.clock.now() - start;
      if (predicate()) return elapsed;
    }
    return undefined;
  }

  /**
   * Kills node i (SIGKILL): its timers never fire again, work in flight is
   * dropped, and requests to it are refused.
   */
  crash(i: number): void {
    const n = this.#node(i);
    if (n.status === 'crashed') return;
    this.net.crash(n.baseUrl);
    n.status = 'crashed';
  }

  /** Freezes node i (SIGSTOP): its timers, incoming requests and replies wait. */
  pause(i: number): void {
    const n = this.#node(i);
    if (n.status !== 'up') return;
    this.net.pause(n.baseUrl);
    n.status = 'paused';
  }

  /** Thaws node i (SIGCONT): what it missed fires and arrives now, late, in order. */
  resume(i: number): void {
    const n = this.#node(i);
    if (n.status !== 'paused') return;
    this.net.resume(n.baseUrl);
    n.status = 'up';
  }

  /**
   * Replaces node i (crashing it first if needed) by a new instance at the
   * same URL, which bootstraps from the master list as a restarted server
   * does; runs virtual time until its `start()` resolved.
   */
  async restart(i: number): Promise<void> {
    this.crash(i);
    const n = this.#spawn(i, this.#optionsFor(i, false), undefined);
    await this.#settle(n.cluster.start(), 'restart');
  }

  /**
   * Adds a server (index `nodes.length`) that joins by bootstrapping from
   * the master list; `options` go over those of {@link SimulationOptions.options}.
   * Runs virtual time until its `start()` resolved.
   */
  async addNode(options: Partial<ClusterOptions> = {}): Promise<SimNode> {
    const i = this.#nodes.length;
    const n = this.#spawn(i, over(this.#optionsFor(i, false), options), undefined);
    await this.#settle(n.cluster.start(), 'addNode');
    return n;
  }

  /**
   * Adds a server like {@link addNode} but returns at once: its `start()`
   * runs as virtual time advances, so that many servers can start one after
   * another at chosen times (a cold start of a whole fleet). A start that
   * fails is reported through the returned promise only.
   */
  launchNode(options: Partial<ClusterOptions> = {}): SimNode {
    const i = this.#nodes.length;
    const n = this.#spawn(i, over(this.#optionsFor(i, false), options), undefined);
    n.cluster.start().catch(() => undefined);
    return n;
  }

  /** What node i currently believes about `url`. */
  view(i: number, url: string): MemberEntry | undefined {
    return this.#node(i).cluster.member(url);
  }

  /** What node i's clock reads now: global time plus its skew. */
  nodeNow(i: number): number {
    return this.#node(i).clock.now();
  }

  /** Changes node i's clock skew from now on (a clock jump). */
  setSkew(i: number, skewMs: number): void {
    this.#node(i).clock.skewMs = skewMs;
  }

  /** Subscribes to membership events of every node (current and future instances); returns the unsubscribe function. */
  onEvent(listener: (e: SimEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  // ---- internals ---------------------------------------------------------------

  #node(i: number): NodeRecord {
    const n = this.#nodes[i];
    if (n === undefined) throw new RangeError(`no node ${i}`);
    return n;
  }

  #optionsFor(i: number, warm: boolean): ClusterOptions {
    const defaults: ClusterOptions = {
      baseUrl: `http://n${i}.sim/`,
      secret: SIM_SECRET,
      controlSecret: SIM_CONTROL_SECRET,
      masterListUrl: SIM_MASTER_LIST_URL,
      timelineSize: 0,
      exchangeStatsPeers: 0,
      ...(warm ? { fanout: 0 } : {}),
    };
    return over(defaults, this.#o.options?.(i));
  }

  /** Creates (or replaces) node i's instance and registers it on the network. */
  #spawn(i: number, options: ClusterOptions, snapshot: readonly MemberEntry[] | undefined): NodeRecord {
    const baseUrl = normalizeBaseUrl(options.baseUrl);
    const previous = this.#nodes[i];
    const generation = previous === undefined ? 0 : previous.generation + 1;
    const proc = this.net.process(baseUrl);
    const clock = new NodeClock(this.clock, proc, previous?.clock.skewMs ?? this.#o.skewMs?.(i) ?? 0);
    const deps: ClusterDeps = {
      clock,
      random: seededRandom(mix(this.#o.seed, i, generation)),
      transport: proc.transport(),
      logger: this.#o.logger?.(i) ?? silentLogger,
      ...(snapshot !== undefined ? { snapshot } : {}),
      state: this.#stateFor(i),
    };
    const cluster = createCluster(options, deps);
    const record: NodeRecord = { index: i, baseUrl, cluster, status: 'up', generation, clock };
    this.#nodes[i] = record;
    this.net.register(baseUrl, cluster);
    this.#o.setup?.(record);
    // `server:suspect` may not exist on this engine's event map; subscribing to an unknown event is harmless.
    const on = cluster.on as unknown as (event: string, l: (server: MemberEntry, reason?: string) => void) => () => void;
    for (const type of EVENT_TYPES) {
      on.call(cluster, type, (server, reason) => {
        // A straggling continuation of a replaced instance is not news.
        if (this.#listeners.size === 0 || this.#nodes[i] !== record) return;
        const event: SimEvent = { at: this.clock.now(), node: i, type, url: server.baseUrl, ...(reason !== undefined ? { reason } : {}) };
        for (const l of [...this.#listeners]) l(event);
      });
    }
    return record;
  }

  /** `deps.state` of node i: false unless {@link SimulationOptions.state} turns it on. */
  #stateFor(i: number): StateOptions | false {
    const o = this.#o.state;
    const v = typeof o === 'function' ? o(i) : o;
    if (v === undefined || v === false) return false;
    return v === true ? {} : v;
  }

  #settle(p: Promise<unknown>, what: string): Promise<void> {
    return runUntilSettled(this.clock, p, START_LIMIT_MS, what);
  }
}

interface NodeRecord {
  readonly index: number;
  readonly baseUrl: string;
  readonly cluster: Cluster;
  status: SimNodeStatus;
  /** Instance number at this index: 0, then one more per restart. */
  readonly generation: number;
  readonly clock: NodeClock;
}

/** `base` with every defined field of `extra` written over it (an explicit undefined keeps the default). */
function over(base: ClusterOptions, extra: Partial<ClusterOptions> | undefined): ClusterOptions {
  const out: Record<string, unknown> = { ...base };
  if (extra !== undefined) for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as unknown as ClusterOptions;
}

/** A 32-bit hash of a few integers (murmur3's finaliser over an FNV-style fold), for per-node seeds. */
function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(x / 4294967296), 0x01000193);
  }
  return fmix32(h);
}
