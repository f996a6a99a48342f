/**
 * The engine's side of the extension interface (extension.ts): the
 * registered extensions, the hooks called at each point of the engine's
 * life and of each exchange, the `ext` field built for what this server
 * sends and read from what it receives, and the repairs a differing digest
 * starts. Every hook runs inside try/catch: what one throws is logged
 * (never a section's data) and costs that extension that message only.
 */
import { safeLog } from '../core/logger.js';
import { ConfigError } from '../errors.js';
import type { MemberEntry } from '../membership/entry.js';
import { normalizeBaseUrl } from '../membership/url.js';
import { DEFAULT_MAX_BODY_BYTES } from '../protocol/limits.js';
import type { EngineCore } from './core.js';
import { EXTENSION_NAME, type EngineExtension, type ExchangeKind, type ExtensionHost } from './extension.js';
import { isJsonWithin, MAX_DIGEST_LENGTH, MAX_EXTENSIONS, MAX_SECTION_DEPTH, own, parseEnvelope, type Envelope } from './extension-wire.js';
import type { GossipSender } from './gossip-sender.js';

/** One `host.exchange` in flight: the section it sends, and the peer's answer once the reply is in. */
export interface DirectExchange {
  readonly name: string;
  readonly section: unknown;
  /** Whether the reply carried a section for this extension, and which. */
  answered: boolean;
  reply: unknown;
}

/** The last repair of one peer by one extension. */
interface Repair {
  running: boolean;
  startedAt: number;
}

/** A registered extension and its repairs by peer. */
interface Registered {
  readonly ext: EngineExtension;
  readonly name: string;
  readonly repairs: Map<string, Repair>;
  /** Whether its `started` was called (once only, whichever of use() and the start comes last). */
  started: boolean;
}

/** setTimeout's limit. */
const MAX_DELAY_MS = 2_147_483_647;

/** The registered extensions of one engine. Created with the first one, so an engine without any pays nothing. */
export class ExtensionRuntime {
  readonly #list: Registered[] = [];
  readonly #names: string[] = [];

  constructor(
    private readonly core: EngineCore,
    private readonly sender: GossipSender,
  ) {}

  /** Number of registered extensions. */
  get size(): number {
    return this.#list.length;
  }

  /** Registers `ext` and attaches it (see `Cluster.use`); starts it at once if the engine runs. */
  use(ext: EngineExtension): void {
    if (typeof ext !== 'object' || ext === null || typeof ext.attach !== 'function') {
      throw new TypeError('an extension is an object with a name and an attach(host) method');
    }
    const name: unknown = ext.name;
    if (typeof name !== 'string' || !EXTENSION_NAME.test(name)) {
      throw new ConfigError([`extension name ${JSON.stringify(String(name).slice(0, 40))}: must be 1 to 32 characters, a lower-case letter then letters, digits or '-'`]);
    }
    if (this.#names.includes(name)) throw new ConfigError([`extension name "${name}": already registered`]);
    if (this.#list.length >= MAX_EXTENSIONS) throw new ConfigError([`extension name "${name}": at most ${MAX_EXTENSIONS} extensions`]);
    const reg: Registered = { ext, name, repairs: new Map(), started: false };
    ext.attach(this.#host(reg)); // a throw here reaches the caller of use(), and nothing is registered
    this.#list.push(reg);
    this.#names.push(name);
    if (this.core.status === 'running') this.#start(reg);
  }

  // ---- lifecycle -------------------------------------------------------------

  /** The engine runs: every extension's `started`. */
  started(): void {
    for (const reg of this.#list) this.#start(reg);
  }

  #start(reg: Registered): void {
    if (reg.started) return;
    reg.started = true;
    if (reg.ext.started !== undefined) this.#call(reg, 'started', () => reg.ext.started!());
  }

  /** Shutdown begins: every extension's `stopping`, together; never rejects. */
  stopping(): Promise<void> {
    return Promise.all(this.#list.map(async (reg) => {
      try {
        await reg.ext.stopping?.();
      } catch (e) {
        this.#threw(reg, 'stopping', e);
      }
    })).then(() => undefined);
  }

  /** One change of the membership table (see MembershipTable.onEntryChange). */
  memberChanged(before: MemberEntry | undefined, after: MemberEntry | undefined): void {
    const url = (after ?? before)!.baseUrl;
    for (const reg of this.#list) {
      if (after === undefined || after.state === 'offline') forgetRepairs(reg, url);
      if (reg.ext.memberChanged !== undefined) this.#call(reg, 'memberChanged', () => reg.ext.memberChanged!(before, after));
    }
  }

  /** Whether every extension is ready (a throwing `ready` counts as not ready). */
  ready(): boolean {
    for (const reg of this.#list) {
      if (reg.ext.ready === undefined) continue;
      if (this.#call(reg, 'ready', () => reg.ext.ready!()) !== true) return false;
    }
    return true;
  }

  /** What each extension shows in the info view (its `info` hook), by name. */
  info(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const reg of this.#list) {
      if (reg.ext.info === undefined) continue;
      const value = this.#call(reg, 'info', () => reg.ext.info!());
      if (value !== undefined && this.#sendable(reg, 'info', value)) out[reg.name] = value;
    }
    return out;
  }

  // ---- the wire ----------------------------------------------------------------

  /**
   * The `ext` field of a request of `kind` to `peer`: each extension's
   * `request` section (or, for a `host.exchange`, only that extension's),
   * and every digest.
   */
  requestField(kind: ExchangeKind, peer: string, direct: DirectExchange | undefined): Record<string, unknown> | undefined {
    const s: Record<string, unknown> = {};
    if (direct !== undefined) {
      if (direct.section !== undefined) s[direct.name] = direct.section; // checked by exchange()
    } else {
      for (const reg of this.#list) {
        if (reg.ext.request === undefined) continue;
        const section = this.#call(reg, 'request', () => reg.ext.request!(kind, peer));
        if (section !== undefined && this.#sendable(reg, 'request', section)) s[reg.name] = section;
      }
    }
    // Nothing to say: no field at all, so that a probe at rest costs what it did (a host.exchange always says it).
    return envelope(this.#digests(), s, direct === undefined ? undefined : { from: this.core.baseUrl, k: kind }, { from: this.core.baseUrl, k: kind });
  }

  /**
   * A signed request arrived (and its entries are merged): if it carries an
   * `ext` field, hands each extension its section and returns the reply's
   * `ext` field; repairs any extension whose digest differs from the
   * sender's. Undefined when the request had no (usable) `ext` field.
   */
  onRequest(body: Record<string, unknown>): Record<string, unknown> | undefined {
    if (!Object.hasOwn(body, 'ext')) return undefined;
    const env = this.#parse(body['ext']);
    if (env === undefined) return undefined;
    const s: Record<string, unknown> = {};
    for (const reg of this.#list) {
      if (reg.ext.onRequest === undefined) continue;
      const section = own(env.s, reg.name);
      const answer = this.#call(reg, 'onRequest', () => reg.ext.onRequest!(section, env.from, env.k));
      if (answer !== undefined && this.#sendable(reg, 'onRequest', answer)) s[reg.name] = answer;
    }
    const d = this.#digests();
    if (env.from !== undefined) this.#compare(env, d, env.from);
    // The requester knows who answers and why: a reply carries only sections and digests, if any.
    return envelope(d, s, undefined, undefined);
  }

  /**
   * A valid signed reply to a request of `kind` to `peer` arrived (and its
   * entries are merged): hands each extension that got a section its
   * section (for a `host.exchange`, that extension's goes to `direct`
   * instead), and repairs any extension whose digest differs from the peer's.
   */
  onReply(reply: Record<string, unknown>, peer: string, kind: ExchangeKind, direct: DirectExchange | undefined): void {
    if (!Object.hasOwn(reply, 'ext')) return;
    const env = this.#parse(reply['ext']);
    if (env === undefined) return;
    for (const reg of this.#list) {
      if (!Object.hasOwn(env.s, reg.name)) continue;
      const section = env.s[reg.name];
      if (direct !== undefined && direct.name === reg.name) {
        direct.answered = true;
        direct.reply = section;
      } else if (reg.ext.onReply !== undefined) {
        this.#call(reg, 'onReply', () => reg.ext.onReply!(section, peer, kind));
      }
    }
    this.#compare(env, this.#digests(), peer);
  }

  #parse(raw: unknown): Envelope | undefined {
    const env = parseEnvelope(raw, this.#names, this.core.config.maxUrlLength);
    if (env === undefined) {
      this.core.stats.extensionRejections++;
      safeLog(this.core.log, 'debug', 'ignored a malformed ext field');
    }
    return env;
  }

  /** This server's digest of every extension that has one. */
  #digests(): Record<string, string> {
    const d: Record<string, string> = {};
    for (const reg of this.#list) {
      if (reg.ext.digest === undefined) continue;
      const digest = this.#call(reg, 'digest', () => reg.ext.digest!());
      if (typeof digest === 'string' && digest.length <= MAX_DIGEST_LENGTH) d[reg.name] = digest;
      else if (digest !== undefined) safeLog(this.core.log, 'error', `extension ${reg.name}: digest() must return a string of at most ${MAX_DIGEST_LENGTH} characters`);
    }
    return d;
  }

  /** Repairs each extension whose digest `env` gives and differs from ours (`mine`), with `peer`. */
  #compare(env: Envelope, mine: Readonly<Record<string, string>>, peer: string): void {
    for (const reg of this.#list) {
      const theirs = own(env.d, reg.name);
      const ours = own(mine, reg.name);
      if (typeof theirs === 'string' && ours !== undefined && theirs !== ours) this.#repair(reg, peer, theirs);
    }
  }

  /**
   * Starts `repair(peer, theirs)` unless one is running for this extension
   * and peer, or one started less than a probe period ago; only while the
   * engine runs, and only with a member the table lists up.
   */
  #repair(reg: Registered, peer: string, theirs: string): void {
    const core = this.core;
    const repair = reg.ext.repair;
    if (repair === undefined || core.status !== 'running' || peer === core.baseUrl) return;
    const member = core.table.get(peer);
    if (member === undefined || member.state === 'offline') return;
    const now = core.clock.now();
    const last = reg.repairs.get(peer);
    if (last !== undefined && (last.running || now - last.startedAt < core.hot.probeIntervalMs)) return;
    const state: Repair = { running: true, startedAt: now };
    reg.repairs.set(peer, state);
    core.spawn(`extension ${reg.name}: repair`, async () => {
      try {
        await repair.call(reg.ext, peer, theirs);
      } finally {
        state.running = false;
      }
    });
  }

  // ---- the host ----------------------------------------------------------------

  #host(reg: Registered): ExtensionHost {
    const core = this.core;
    return {
      selfUrl: core.baseUrl,
      config: core.config,
      clock: core.clock,
      random: core.random,
      log: core.log,
      // What a peer accepts of one body: the adapters' limit, or less if this server reads less.
      maxBodyBytes: Math.min(DEFAULT_MAX_BODY_BYTES, core.config.maxResponseBytes),
      status: () => core.status,
      members: () => core.table.entries(),
      upPeers: () => core.table.upPeerUrls(),
      upPeerCount: () => core.table.upPeerCount(),
      exchange: (peer, section, timeoutMs) => this.#exchange(reg, peer, section, timeoutMs),
      after: (delayMs, what, task) => {
        if (core.status === 'stopped') return;
        const ms = Number.isFinite(delayMs) ? Math.min(Math.max(0, Math.round(delayMs)), MAX_DELAY_MS) : 0;
        core.after(ms, `extension ${reg.name}: ${what}`, task);
      },
      spawn: (what, task) => core.spawn(`extension ${reg.name}: ${what}`, task),
    };
  }

  /** `host.exchange` for `reg` (see ExtensionHost.exchange). Never rejects. */
  async #exchange(reg: Registered, peer: string, section: unknown, timeoutMs: number): Promise<unknown> {
    const core = this.core;
    try {
      let url: string;
      try {
        url = normalizeBaseUrl(peer, core.config.maxUrlLength);
      } catch {
        return undefined;
      }
      if (url === core.baseUrl || core.table.get(url) === undefined) return undefined;
      if (core.status === 'idle' || core.status === 'stopped') return undefined;
      if (section !== undefined && !this.#sendable(reg, 'exchange', section)) return undefined;
      const ms = Number.isFinite(timeoutMs) && timeoutMs > 0 ? Math.min(timeoutMs, MAX_DELAY_MS) : core.config.exchangeTimeoutMs;
      const direct: DirectExchange = { name: reg.name, section, answered: false, reply: undefined };
      const extras = await this.sender.sendDirect(url, { entries: core.dissemination.take(), ping: true, kind: 'direct' }, ms, direct);
      if (extras === undefined) return undefined;
      return direct.answered ? direct.reply : null;
    } catch (e) {
      safeLog(core.log, 'error', `extension ${reg.name}: exchange failed unexpectedly`, { error: e });
      return undefined;
    }
  }

  // ---- calling hooks -------------------------------------------------------------

  /** Calls one hook; what it throws is logged and reads as undefined. */
  #call<T>(reg: Registered, hook: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.#threw(reg, hook, e);
      return undefined;
    }
  }

  #threw(reg: Registered, hook: string, e: unknown): void {
    safeLog(this.core.log, 'error', `extension ${reg.name}: ${hook} threw; the engine carries on`, { error: e });
  }

  /** Whether a section (or info) can travel as JSON; logs (without its data) when it cannot. */
  #sendable(reg: Registered, hook: string, value: unknown): boolean {
    if (isJsonWithin(value, MAX_SECTION_DEPTH)) return true;
    safeLog(this.core.log, 'error', `extension ${reg.name}: what ${hook} gave is not JSON within ${MAX_SECTION_DEPTH} levels; dropped`);
    return false;
  }
}

/** Forgets the finished repairs of `url` (a member gone or offline); a running one keeps its place until it ends. */
function forgetRepairs(reg: Registered, url: string): void {
  const r = reg.repairs.get(url);
  if (r !== undefined && !r.running) reg.repairs.delete(url);
}

/**
 * An `ext` field: `head` (sender and kind) and only the non-empty parts,
 * keys in canonical (sorted) order, which lets canonicalJson take its fast
 * path. Undefined when there is nothing to send and no `always` head.
 */
function envelope(
  d: Record<string, string>,
  s: Record<string, unknown>,
  always: { from: string; k: ExchangeKind } | undefined,
  head: { from: string; k: ExchangeKind } | undefined,
): Record<string, unknown> | undefined {
  const hasD = Object.keys(d).length > 0;
  const hasS = Object.keys(s).length > 0;
  if (!hasD && !hasS && always === undefined) return undefined;
  const h = always ?? head;
  return {
    ...(hasD ? { d } : {}),
    ...(h === undefined ? {} : { from: h.from, k: h.k }),
    ...(hasS ? { s } : {}),
  };
}
