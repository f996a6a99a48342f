import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { TransportError, type Transport, type TransportRequest, type TransportResponse } from '../core/transport.js';
import { requestBytes, responseBytes } from './http-bytes.js';
import { Host, SimProcess, type HostState } from './sim-host.js';
import { clusterHandler, errorResponse, type SimHandler } from './sim-http.js';

export { SimProcess, type HostState } from './sim-host.js';
export type { SimHandler } from './sim-http.js';

/** URL of the simulated master-list store (GET and PUT). */
export const SIM_MASTER_LIST_URL = 'http://master-list.sim/';

/** Tunables of a {@link SimNetwork}; all may be changed between runs through the network's fields. */
export interface SimNetworkOptions {
  /** Mean one-way latency of a message, in ms. @default 5 */
  latencyMs?: number;
  /** Each message's latency is uniform in [latencyMs − jitterMs, latencyMs + jitterMs] (floored at 0). @default 2 */
  jitterMs?: number;
  /** Probability that a message (a request or a reply, drawn separately) is lost. @default 0 */
  loss?: number;
}

/** One message as {@link SimNetwork.onMessage} reports it, when it is counted. */
export interface SimMessage {
  /** Base URL of the sender. */
  readonly from: string;
  /** Base URL of the receiver (of a request: the host it is routed to; undefined if none). */
  readonly to: string | undefined;
  readonly kind: 'request' | 'reply';
  /** Its size as HTTP/1.1 text, as counted in {@link SimNetwork.bytesSent}. */
  readonly bytes: number;
  /** Its body as sent (JSON text for gossip), or undefined. */
  readonly body: string | undefined;
  /** Of a reply: the body of the request it answers. */
  readonly requestBody?: string | undefined;
}

const NEVER: Promise<never> = new Promise<never>(() => undefined);

/**
 * A simulated network on a virtual clock. Requests are routed by base URL
 * to registered handlers, which get the parsed JSON body a real server
 * would; replies travel back as JSON text. Every message (request and reply
 * separately) draws its own latency and its own loss. A lost message is
 * silent: the caller's promise never settles, and the engine's own timeout
 * decides. Partitions (one-way or both ways), crashes and pauses act per
 * message in O(1).
 *
 * Every message sent is counted in {@link messagesSent} and
 * {@link bytesSent} (as HTTP/1.1 text, see http-bytes.ts), even if it is
 * then lost or blocked. Connection refusals (a TCP reset) are not messages.
 * Requests carry no transport-level timeout: the engine wraps every request
 * in its own.
 */
export class SimNetwork {
  /** Mean one-way latency, ms. */
  latencyMs: number;
  /** Half-width of the uniform latency spread, ms. */
  jitterMs: number;
  /** Per-message loss probability. */
  loss: number;
  /** HTTP messages sent (requests and replies). */
  messagesSent = 0;
  /** HTTP bytes sent (requests and replies). */
  bytesSent = 0;
  /**
   * Called with every message as it is counted (lost and blocked ones
   * included), to break the bytes down by kind of message; changes nothing
   * the network does. @default none
   */
  onMessage: ((m: SimMessage) => void) | undefined;

  readonly #hosts = new Map<string, Host>();
  /** Request URL -> host, so routing costs one lookup per message; cleared when a handler is registered. */
  readonly #routes = new Map<string, Host | undefined>();
  #rules = 0;
  #storeBody: string | undefined;
  #storeVersion = 0;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    options: SimNetworkOptions = {},
  ) {
    this.latencyMs = options.latencyMs ?? 5;
    this.jitterMs = options.jitterMs ?? 2;
    this.loss = options.loss ?? 0;
    this.#host(SIM_MASTER_LIST_URL).handler = (req) => this.#store(req);
    this.#routes.clear();
  }

  // ---- processes -------------------------------------------------------------

  /**
   * Routes requests for `baseUrl` (a normalised base URL, ending in `/`) to
   * `handler` and marks the host up. Work of an incarnation that crashed
   * stays dropped; take {@link process} or {@link transport} after a crash.
   */
  register(baseUrl: string, handler: SimHandler): void {
    const h = this.#host(baseUrl);
    if (h.handler === undefined) this.#routes.clear();
    h.handler = clusterHandler(handler);
    h.state = 'up';
  }

  /** The current incarnation of the process at `url` (its host is created if unknown). */
  process(url: string): SimProcess {
    const h = this.#host(url);
    return new SimProcess(this, h, h.epoch);
  }

  /** A transport for the current incarnation of the process at `from`. */
  transport(from: string): Transport {
    return this.process(from).transport();
  }

  /** State of the host at `url`, or undefined if the network never heard of it. */
  state(url: string): HostState | undefined {
    return this.#hosts.get(url)?.state;
  }

  /**
   * Kills the process at `url`: work it queued is dropped, its in-flight
   * replies are lost, and requests to it are refused (a TCP reset travels
   * back) until a handler is registered again.
   */
  crash(url: string): void {
    const h = this.#host(url);
    h.state = 'crashed';
    h.epoch++;
    h.held = [];
  }

  /** Brings a crashed host that still has a handler (e.g. the master-list store) back up, as a new incarnation. */
  revive(url: string): void {
    const h = this.#hosts.get(url);
    if (h !== undefined && h.state === 'crashed' && h.handler !== undefined) h.state = 'up';
  }

  /** Freezes the process at `url` (SIGSTOP): requests, replies and its timers wait until {@link resume}. */
  pause(url: string): void {
    const h = this.#host(url);
    if (h.state === 'up') h.state = 'paused';
  }

  /** Thaws a paused process (SIGCONT): everything it missed runs now, in arrival order. */
  resume(url: string): void {
    const h = this.#hosts.get(url);
    if (h === undefined || h.state !== 'paused') return;
    h.state = 'up';
    const held = h.held;
    h.held = [];
    const proc = new SimProcess(this, h, h.epoch);
    // Through the clock, one by one, so each gets its own drain and a pause
    // or crash in between still applies to the rest.
    for (const fn of held) this.clock.setTimer(0, () => proc.run(fn));
  }

  // ---- partitions ------------------------------------------------------------

  /** Drops every message from any of `from` to any of `to` (one way), until {@link heal}. */
  block(from: Iterable<string>, to: Iterable<string>): void {
    const k = this.#rules++;
    const word = k >>> 5;
    const bit = 1 << (k & 31);
    for (const url of from) {
      const h = this.#host(url);
      h.fromBits = setBit(h.fromBits, word, bit);
    }
    for (const url of to) {
      const h = this.#host(url);
      h.toBits = setBit(h.toBits, word, bit);
    }
  }

  /** Drops every message between `a` and `b`, both ways. */
  partition(a: Iterable<string>, b: Iterable<string>): void {
    const as = [...a];
    const bs = [...b];
    this.block(as, bs);
    this.block(bs, as);
  }

  /** Removes every block. */
  heal(): void {
    this.#rules = 0;
    for (const h of this.#hosts.values()) {
      h.fromBits = undefined;
      h.toBits = undefined;
    }
  }

  /** Whether a message from `from` to `to` would be dropped by a block. */
  isBlocked(from: string, to: string): boolean {
    const a = this.#hosts.get(from);
    const b = this.#hosts.get(to);
    return a !== undefined && b !== undefined && this.#blocked(a, b);
  }

  // ---- master list -------------------------------------------------------------

  /** The master list's current body (undefined: the store answers 404). */
  get masterList(): string | undefined {
    return this.#storeBody;
  }

  /** Replaces the master list's body, as an operator would (changes its ETag). */
  set masterList(body: string | undefined) {
    this.#storeBody = body;
    this.#storeVersion++;
  }

  // ---- accounting --------------------------------------------------------------

  /** HTTP bytes sent by the host at `url` (its requests and its replies). */
  bytesSentBy(url: string): number {
    return this.#hosts.get(url)?.bytesSent ?? 0;
  }

  // ---- delivery ----------------------------------------------------------------

  /** @internal Sends `req` from `proc`; used by {@link SimProcess.transport}. */
  send(proc: SimProcess, req: TransportRequest): Promise<TransportResponse> {
    // A dead process sends nothing (a continuation of it may still be running).
    if (!proc.alive) return NEVER;
    const from = this.#hosts.get(proc.url)!;
    return new Promise<TransportResponse>((resolve, reject) => {
      const target = this.#route(req.url);
      const size = requestBytes(req.method, req.url, req.headers, req.body);
      this.#count(from, size);
      this.onMessage?.({ from: from.url, to: target?.url, kind: 'request', bytes: size, body: req.body });
      if (this.#dropped(from, target)) return;
      this.clock.setTimer(this.#latency(), () => {
        if (target === undefined || target.state === 'crashed' || target.handler === undefined) {
          this.#refuse(proc, from, target, req.url, reject);
          return;
        }
        new SimProcess(this, target, target.epoch).run(() => this.#handle(target, proc, from, req, resolve, reject));
      });
    });
  }

  #handle(
    target: Host,
    caller: SimProcess,
    from: Host,
    req: TransportRequest,
    resolve: (r: TransportResponse) => void,
    reject: (e: unknown) => void,
  ): void {
    const epoch = target.epoch;
    const handler = target.handler!;
    const reply = (res: TransportResponse): void => {
      // A process that died while handling sends nothing.
      if (target.epoch !== epoch || target.state === 'crashed') return;
      const size = responseBytes(res.status, res.headers, res.body);
      this.#count(target, size);
      this.onMessage?.({ from: target.url, to: from.url, kind: 'reply', bytes: size, body: res.body, requestBody: req.body });
      if (this.#dropped(target, from)) return;
      this.clock.setTimer(this.#latency(), () =>
        caller.run(() => {
          if (Buffer.byteLength(res.body) > req.maxResponseBytes) {
            reject(new TransportError('too-large', `response exceeds ${req.maxResponseBytes} bytes`));
          } else {
            resolve(res);
          }
        }),
      );
    };
    let out: TransportResponse | Promise<TransportResponse>;
    try {
      out = handler(req, req.url.slice(target.url.length));
    } catch (e) {
      out = errorResponse(e);
    }
    if (out instanceof Promise) out.then(reply, (e: unknown) => reply(errorResponse(e)));
    else reply(out);
  }

  /** A reset travelling back from a host with no process listening (or no host at all). */
  #refuse(caller: SimProcess, from: Host, target: Host | undefined, url: string, reject: (e: unknown) => void): void {
    if (target !== undefined && this.#dropped(target, from)) return;
    this.clock.setTimer(this.#latency(), () =>
      caller.run(() => reject(new TransportError('network', `connection refused: ${url}`))),
    );
  }

  /** The host whose base URL is the longest prefix of `url` ending in `/`, in O(number of path segments). */
  #route(url: string): Host | undefined {
    let h = this.#routes.get(url);
    if (h === undefined && !this.#routes.has(url)) {
      h = this.#findRoute(url);
      this.#routes.set(url, h);
    }
    return h;
  }

  #findRoute(url: string): Host | undefined {
    const scheme = url.indexOf('://');
    const authority = scheme < 0 ? 0 : scheme + 3;
    for (let i = url.lastIndexOf('/'); i >= authority; i = url.lastIndexOf('/', i - 1)) {
      const h = this.#hosts.get(url.slice(0, i + 1));
      if (h !== undefined && h.handler !== undefined) return h;
      if (i === 0) break;
    }
    return undefined;
  }

  #dropped(from: Host, to: Host | undefined): boolean {
    if (to !== undefined && this.#rules > 0 && this.#blocked(from, to)) return true;
    return this.loss > 0 && this.random.float() < this.loss;
  }

  #blocked(from: Host, to: Host): boolean {
    const f = from.fromBits;
    const t = to.toBits;
    if (f === undefined || t === undefined) return false;
    const n = Math.min(f.length, t.length);
    for (let i = 0; i < n; i++) if ((f[i]! & t[i]!) !== 0) return true;
    return false;
  }

  /**
   * One message's latency: uniform in [latencyMs − jitterMs, latencyMs +
   * jitterMs], floored at 0 and rounded to the nearest whole ms (which keeps
   * the mean at `latencyMs`; the clock counts whole ms). A 0 ms message is
   * still delivered through the timer queue, after what is already due.
   */
  #latency(): number {
    const d = this.jitterMs > 0 ? this.latencyMs + (2 * this.random.float() - 1) * this.jitterMs : this.latencyMs;
    return d > 0 ? Math.round(d) : 0;
  }

  #count(h: Host, bytes: number): void {
    this.messagesSent++;
    this.bytesSent += bytes;
    h.bytesSent += bytes;
  }

  #host(url: string): Host {
    let h = this.#hosts.get(url);
    if (h === undefined) {
      h = new Host(url);
      this.#hosts.set(url, h);
    }
    return h;
  }

  /** The master-list store: GET (404 when empty), PUT with If-Match / If-None-Match: *. */
  #store(req: TransportRequest): TransportResponse {
    const etag = this.#storeBody === undefined ? undefined : `"v${this.#storeVersion}"`;
    if (req.method === 'GET') {
      if (this.#storeBody === undefined) return { status: 404, headers: {}, body: '' };
      return { status: 200, headers: { 'content-type': 'application/json', etag: etag! }, body: this.#storeBody };
    }
    if (req.method !== 'PUT') return { status: 405, headers: {}, body: '' };
    const ifMatch = req.headers?.['if-match'];
    if (ifMatch !== undefined && ifMatch !== etag) return { status: 412, headers: {}, body: '' };
    if (req.headers?.['if-none-match'] === '*' && this.#storeBody !== undefined) return { status: 412, headers: {}, body: '' };
    this.masterList = req.body ?? '';
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  }
}

function setBit(bits: number[] | undefined, word: number, bit: number): number[] {
  const out = bits ?? [];
  while (out.length <= word) out.push(0);
  out[word] = out[word]! | bit;
  return out;
}
