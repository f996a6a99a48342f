/**
 * The replicated state of one server (`cluster.state`): an engine extension
 * (src/engine/extension.ts) named `state`. It owns the maps and counters,
 * this replica's identity and clock, and wires the parts together:
 * spreading (spread.ts), acknowledged writes (acks.ts), repair (repair.ts),
 * join sync (join-sync.ts), the serving side (serve.ts), persistence
 * (persist.ts) and tombstone collection (tombstones.ts).
 *
 * Identity: `<base URL>#<incarnation>`. The incarnation is new on every
 * start without durable state, so a replica that lost its data never
 * reuses the identity its old writes carry (Riak's lesson: its new writes
 * would otherwise be taken for old ones, and its counter restarted at 0
 * would be ignored by the max-merge).
 */
import { safeLog } from '../core/logger.js';
import type { EngineExtension, ExchangeKind, ExtensionHost } from '../engine/extension.js';
import type { MemberEntry } from '../membership/entry.js';
import { NotStartedError } from '../errors.js';
import { AckGatherer, acksNeeded } from './acks.js';
import { counterValue, mergeCounter, type CounterState } from './counter-state.js';
import { encodeCounter, encodeKeyState } from './codec.js';
import { openReplicaStore } from './opener.js';
import { JoinSync } from './join-sync.js';
import { MapSlot, MAP_DEFAULTS, MAP_NAME } from './map-slot.js';
import type { Persistence } from './persist.js';
import type { KeyState } from './register.js';
import { Repairer } from './repair.js';
import type { CounterSlot, ReplicaCore, StateSettings } from './replica-core.js';
import { CaughtUp } from './caught-up.js';
import { Spreader } from './spread.js';
import { ReplicatedMap, type MapWriter } from './state-map.js';
import { ReplicatedCounter } from './state-counter.js';
import type { StateStore, StoredRecord } from './store.js';
import { encodeToken } from './session.js';
import { notifyWrite } from './write-observers.js';
import { WriteTimeoutError } from './errors.js';
import { HybridClock } from './version.js';
import { incarnation, stateDigestOf } from './identity.js';
import { sample } from '../core/random.js';
import type { ChangeOrigin, JsonValue, MapOptions, ReplicatedState, StateCounter, StateMap, Version, WriteOptions, WriteResult } from './types.js';
import { decodeChanges, encodeChanges, type SectionLimits } from './wire.js';
import { WireHooks } from './wire-hooks.js';
import { Collector } from './collector.js';
import { stateInfo, type StateInfo } from './state-info.js';

export const STATE_DEFAULTS: StateSettings = Object.freeze({
  batchMs: 5, directPushMax: 1_000, retransmitMult: 1, maxItemsPerMessage: 512, chunkBytes: 262_144, maxPiggyback: 16, digestIntervalMs: 5_000,
  syncTimeoutMs: 30_000, tombstoneSettleMs: 30_000, tombstoneMaxAgeMs: 86_400_000,
});

/** Options of the replicated state. */
export interface StateOptions {
  /** A durable store, or a function opening one (called once, at start). @default none: memory only */
  store?: StateStore | (() => Promise<StateStore>);
  settings?: Partial<StateSettings>;
}

const TICK_MS = 1_000;

export class StateReplica implements EngineExtension, MapWriter, ReplicaCore {
  readonly name = 'state';
  host!: ExtensionHost;
  readonly settings: StateSettings;
  readonly counters = new Map<string, CounterSlot>();
  readonly #maps = new Map<string, MapSlot>();
  readonly #apis = new Map<string, ReplicatedMap<JsonValue>>();
  readonly #counterApis = new Map<string, ReplicatedCounter>();
  replica = '';
  hlc!: HybridClock;
  limits!: SectionLimits;
  readonly spread = new Spreader(this);
  readonly acks = new AckGatherer(this);
  readonly repairer = new Repairer(this);
  readonly joiner = new JoinSync(this, this.repairer);
  readonly waits = new CaughtUp(this);
  readonly hooks = new WireHooks(this);
  #collector!: Collector;
  #persist: Persistence | undefined;
  /** True while records from the store are loaded: they are neither written back nor pushed (opener.ts). */
  restoring = false;
  #opened: Promise<void> | undefined;
  #started = false;
  #stopped = false;
  #ready = false;
  readonly #readyWaiters: Array<() => void> = [];
  #digestCache: string | undefined;
  readonly stats = { rejectedSections: 0, futureVersions: 0 };

  constructor(private readonly options: StateOptions = {}) {
    this.settings = Object.freeze({ ...STATE_DEFAULTS, ...options.settings });
  }

  attach(host: ExtensionHost): void {
    this.host = host;
    this.hlc = new HybridClock(() => host.clock.now());
    this.replica = `${host.selfUrl}#${incarnation(host)}`;
    this.limits = { maxItems: 100_000, maxKeyBytes: 4_096, maxValueBytes: Math.max(MAP_DEFAULTS.maxValueBytes, 16 * 1024 * 1024) };
    this.#collector = new Collector(this.settings, this, (slot, key) => this.#persist?.noteKey(slot.name, key, null));
  }

  // ---- public API ------------------------------------------------------------

  map<V extends JsonValue = JsonValue>(name: string, options: MapOptions = {}): StateMap<V> {
    if (typeof name !== 'string' || !MAP_NAME.test(name)) throw new TypeError(`map name must match ${MAP_NAME}`);
    const slot = this.slot(name, true)!;
    slot.options = { ...MAP_DEFAULTS, ...slot.options, ...options };
    let api = this.#apis.get(name);
    if (api === undefined) this.#apis.set(name, (api = new ReplicatedMap<JsonValue>(slot, this)));
    return api as unknown as StateMap<V>;
  }

  counter(name: string): StateCounter {
    if (typeof name !== 'string' || !MAP_NAME.test(name)) throw new TypeError(`counter name must match ${MAP_NAME}`);
    let api = this.#counterApis.get(name);
    if (api === undefined) this.#counterApis.set(name, (api = new ReplicatedCounter(name, this, this.#counterSlot(name))));
    return api;
  }

  /** Resolves once the initial sync is verified (see join-sync.ts for the policy). */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** The engine's readiness hook: feeds `GET /clustershazbot/health/ready`. */
  ready(): boolean {
    return this.#ready;
  }

  /** `cluster.state`: the application's view. */
  api(): ReplicatedState {
    return {
      map: (name, options) => this.map(name, options),
      counter: (name) => this.counter(name),
      ready: () => this.whenReady(),
      isReady: () => this.#ready,
      caughtUp: (token, timeoutMs) => this.caughtUp(token, timeoutMs),
    };
  }

  caughtUp(token: string, timeoutMs?: number): Promise<void> {
    return this.waits.wait(token, timeoutMs);
  }

  info(): StateInfo {
    return stateInfo(this, this.#maps.values(), this.hooks.lastEqual, this.#collector.size, this.#collector.collected, this.#persist?.stats);
  }

  // ---- ReplicaCore -------------------------------------------------------------

  slot(name: string, create: boolean): MapSlot | undefined {
    let slot = this.#maps.get(name);
    if (slot === undefined && create) {
      this.#maps.set(name, (slot = new MapSlot(name, this.host?.log ?? { debug() {}, info() {}, warn() {}, error() {} })));
      this.#digestCache = undefined;
    }
    return slot;
  }

  slots(): Iterable<MapSlot> {
    return this.#maps.values();
  }

  #counterSlot(name: string): CounterSlot {
    let c = this.counters.get(name);
    if (c === undefined) this.counters.set(name, (c = { state: new Map(), listeners: new Set() }));
    return c;
  }

  running(): boolean {
    return this.#started && !this.#stopped && this.host.status() === 'running';
  }

  samplePeers(n: number): string[] {
    return sample(this.host.random, this.host.upPeers(), n);
  }

  stateDigest(): string {
    this.#digestCache ??= stateDigestOf(this.#maps, this.counters);
    return this.#digestCache;
  }

  isReady(): boolean {
    return this.#ready;
  }

  hasData(): boolean {
    for (const slot of this.#maps.values()) if (slot.state.size > 0) return true;
    for (const c of this.counters.values()) if (c.state.size > 0) return true;
    return false;
  }

  countersField(): Record<string, unknown> | undefined {
    if (this.counters.size === 0) return undefined;
    const c = encodeChanges(new Map(), new Map([...this.counters].map(([n, s]) => [n, s.state])));
    return c?.['n'] as Record<string, unknown> | undefined;
  }

  applyChangesField(raw: unknown, origin: 'remote' | 'sync', from: string | undefined): number {
    const changes = decodeChanges(raw, this.limits);
    let changed = 0;
    const now = this.host.clock.now();
    const horizon = (now + this.host.config.maxFutureMs) * 1000;
    for (const [name, items] of changes.maps) {
      const slot = this.slot(name, true)!;
      for (const [key, state] of items) {
        if (!this.#acceptable(state, horizon)) continue;
        if (this.applyKey(slot, key, state, origin)) changed++;
      }
    }
    for (const [name, state] of changes.counters) if (this.applyCounter(name, state)) changed++;
    void from;
    return changed;
  }

  /** Refuses states stamped past now + maxFutureMs (a clock far ahead), and observes the rest in the HLC. */
  #acceptable(state: KeyState<JsonValue>, horizonT: number): boolean {
    let max = 0;
    for (const w of state.writes) max = Math.max(max, w.v.t);
    if (state.delAt !== undefined) max = Math.max(max, state.delAt.t);
    if (max > horizonT) {
      this.stats.futureVersions++;
      return false;
    }
    this.hlc.observe(max);
    return true;
  }

  handleReplySection(section: unknown, peer: string): void {
    this.hooks.handleReplySection(section, peer);
  }

  // ---- MapWriter ---------------------------------------------------------------

  ensureOpen(): Promise<void> {
    if (this.#stopped) return Promise.reject(new NotStartedError('the replicated state has stopped', 'STOPPED'));
    if (this.host === undefined) return Promise.reject(new NotStartedError('the replicated state is not attached to a cluster'));
    return (this.#opened ??= this.#open());
  }

  nextVersion(): Version {
    return { t: this.hlc.next(), replica: this.replica };
  }

  writerOf(version: Version): string {
    const i = version.replica.lastIndexOf('#');
    return i < 0 ? version.replica : version.replica.slice(0, i);
  }

  async commit(slot: MapSlot, key: string, delta: KeyState<JsonValue>, version: Version | undefined, options: WriteOptions | undefined): Promise<WriteResult> {
    if (version === undefined) return { version: undefined, token: encodeToken([]), acks: 1 };
    this.applyKey(slot, key, delta, 'local');
    notifyWrite(slot.name, key, version); // joins the request's session, if any (session-context.ts)
    const token = encodeToken([{ map: slot.name, key, version }]);
    const durable = this.#persist?.durable();
    const consistency = options?.consistency ?? slot.options.consistency;
    const timeoutMs = options?.timeoutMs ?? slot.options.timeoutMs;
    const needed = consistency === 'local' ? 1 : acksNeeded(consistency, this.host.members(), this.host.upPeerCount(), this.host.selfUrl);
    let acks = 1;
    if (needed > 1) {
      // In a small cluster the acknowledged push goes to every peer and replaces the ordinary one.
      const everyone = this.spread.direct();
      if (everyone) this.spread.withdrawKey(slot.name, key);
      acks = await this.acks.gather({ map: slot.name, key }, needed, timeoutMs, everyone);
    }
    await durable;
    if (acks < needed) throw new WriteTimeoutError(acks, needed, version, token);
    return { version, token, acks };
  }

  /** Counter writes: the same path as map writes. */
  async commitCounter(name: string, delta: CounterState, options: WriteOptions | undefined): Promise<WriteResult> {
    await this.ensureOpen();
    this.applyCounter(name, delta);
    const version = this.nextVersion();
    const durable = this.#persist?.durable();
    const consistency = options?.consistency ?? 'local';
    const needed = consistency === 'local' ? 1 : acksNeeded(consistency, this.host.members(), this.host.upPeerCount(), this.host.selfUrl);
    const acks = needed <= 1 ? 1 : await this.acks.gather({ counter: name }, needed, options?.timeoutMs ?? MAP_DEFAULTS.timeoutMs);
    await durable;
    if (acks < needed) throw new WriteTimeoutError(acks, needed, version, '');
    return { version, token: '', acks };
  }

  /** Applies a key's delta here: events, digest, tombstones, store and spreading. Whether anything changed. */
  applyKey(slot: MapSlot, key: string, delta: KeyState<JsonValue>, origin: ChangeOrigin): boolean {
    const change = slot.apply(key, delta, origin);
    if (change === undefined) return false;
    this.#digestCache = undefined;
    this.#collector.changed(slot.name, key, change.before, change.after);
    if (!this.restoring) {
      this.#persist?.noteKey(slot.name, key, change.after);
      // What a joining replica catches up on is old news to the others: passed on only once it is ready.
      if (origin !== 'sync' || this.#ready) this.spread.enqueueKey(slot.name, key, origin === 'local');
    }
    this.waits.changed();
    return true;
  }

  /** Applies a counter delta here. Whether anything changed. */
  applyCounter(name: string, delta: CounterState): boolean {
    const slot = this.#counterSlot(name);
    const before = slot.state;
    const after = mergeCounter(before, delta);
    if (after === before) return false;
    slot.state = after;
    this.#digestCache = undefined;
    if (!this.restoring) {
      this.#persist?.noteCounter(name, after);
      this.spread.enqueueCounter(name);
    }
    const was = counterValue(before);
    const now = counterValue(after);
    if (was !== now) {
      for (const listener of slot.listeners) {
        try {
          listener(now, was);
        } catch (e) {
          safeLog(this.host.log, 'error', 'a counter listener threw; replication goes on', { counter: name, error: e });
        }
      }
    }
    return true;
  }

  // ---- lifecycle ---------------------------------------------------------------

  async #open(): Promise<void> {
    const option = this.options.store;
    if (option === undefined) return;
    this.#persist = await openReplicaStore(this, typeof option === 'function' ? await option() : option);
  }

  /** Every key and counter, as store records (compaction). */
  *records(): Iterable<StoredRecord> {
    for (const slot of this.#maps.values()) for (const [key, s] of slot.state.entries()) yield { type: 'key', map: slot.name, key, state: encodeKeyState(s) };
    for (const [name, c] of this.counters) yield { type: 'counter', name, state: encodeCounter(c.state) };
  }

  started(): void {
    this.#started = true;
    this.host.spawn('state sync', async () => {
      try {
        await this.ensureOpen();
      } catch (e) {
        safeLog(this.host.log, 'error', 'state store could not be opened; the state stays unready', { error: e });
        return;
      }
      await this.joiner.run();
      this.#setReady();
    });
    this.#tick();
  }

  #setReady(): void {
    if (this.#ready || this.#stopped) return;
    this.#ready = true;
    safeLog(this.host.log, 'info', 'state ready', { outcome: this.joiner.stats.outcome, tookMs: this.joiner.stats.tookMs });
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  #tick(): void {
    this.host.after(TICK_MS, 'state tick', async () => {
      if (!this.running()) return;
      this.#collector.tick(this.hooks.lastEqual);
      await this.#persist?.maybeCompact();
      this.#tick();
    });
  }

  memberChanged(before: MemberEntry | undefined, after: MemberEntry | undefined): void {
    if (after === undefined && before !== undefined) {
      this.#collector.forget(before.baseUrl);
      this.hooks.forget(before.baseUrl);
    }
  }

  async stopping(): Promise<void> {
    this.#stopped = true;
    this.waits.stopAll(new NotStartedError('the replicated state has stopped', 'STOPPED'));
    const persist = this.#persist;
    this.#persist = undefined; // what arrives from now on is not written
    await persist?.close().catch((e: unknown) => safeLog(this.host.log, 'error', 'state store close failed', { error: e }));
  }

  // ---- the extension's wire hooks (wire-hooks.ts) ----------------------------------

  request(kind: ExchangeKind): unknown {
    return this.hooks.request(kind);
  }

  onRequest(section: unknown, from: string | undefined, _kind?: ExchangeKind): unknown {
    return this.hooks.onRequest(section, from);
  }

  onReply(section: unknown, peer: string, kind: ExchangeKind): void {
    this.hooks.onReply(section, peer, kind);
  }
}
