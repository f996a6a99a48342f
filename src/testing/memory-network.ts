import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { TransportError, type Transport, type TransportRequest, type TransportResponse } from '../core/transport.js';
import { isShazbotError } from '../errors.js';
import type { Cluster } from '../engine/cluster.js';

/**
 * What a gossip request was, from its optional fields: anti-entropy (`digest`),
 * an indirect probe request (`probe`), a probe or push (`ping`), or a
 * seed-format exchange (none of them). Other requests are `other`.
 */
export type MessageKind = 'anti-entropy' | 'indirect' | 'ping' | 'seed' | 'other';

function kindOf(req: TransportRequest): MessageKind {
  if (req.method !== 'POST' || !req.url.endsWith('clustershazbot/gossip')) return 'other';
  try {
    const body = JSON.parse(req.body ?? 'null') as Record<string, unknown>;
    if (body['probe'] !== undefined) return 'indirect';
    if (body['digest'] !== undefined) return 'anti-entropy';
    if (body['ping'] === true) return 'ping';
    return 'seed';
  } catch {
    return 'other';
  }
}

/** How a server that cannot be reached fails: refused at once, or silent until the caller's timeout. */
export type Outage = 'refuse' | 'hang';

/** A master-list store living in the memory network. */
export interface MemoryMasterList {
  /** Whether GET answers carry an ETag (a store that cannot do conditional writes when false). @default true */
  etags: boolean;
  /** The list's URL; GET and PUT both go here. */
  readonly url: string;
  /** The current body, or undefined before the first PUT. */
  body: string | undefined;
  /** When set, GETs and PUTs fail this way (or answer this HTTP status). */
  outage: Outage | number | undefined;
  /** Every request the store received, in order. */
  readonly log: Array<{ method: string; at: number; headers: Readonly<Record<string, string>> }>;
}

/**
 * An in-memory network for tests: requests to a registered server's
 * `clustershazbot/gossip`, `list` and `control` paths call its handlers
 * directly, after `latencyMs` of clock time each way. No sockets, so many
 * instances and virtual time fit in one test.
 */
export class MemoryNetwork {
  readonly #servers = new Map<string, Cluster>();
  readonly #raw = new Map<string, (req: TransportRequest) => TransportResponse>();
  readonly #down = new Map<string, Outage>();
  readonly #lists = new Map<string, MemoryMasterList>();
  /** Every request sent through the network, in order. */
  readonly requests: Array<{ from: string; method: string; url: string; at: number; kind: MessageKind }> = [];
  readonly #blocked = new Set<string>();
  /** `from>to` → how many more requests on that path are lost. */
  readonly #drops = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly latencyMs = 1,
  ) {}

  /** Routes requests for `cluster.baseUrl` to `cluster`. */
  /** Answers requests under `baseUrl` with `handler` (a stand-in for a server that is not a Cluster, e.g. a 1.x one). */
  route(baseUrl: string, handler: (req: TransportRequest) => TransportResponse): void {
    this.#raw.set(baseUrl, handler);
  }

  register(cluster: Cluster): void {
    this.#servers.set(cluster.baseUrl, cluster);
    this.#down.delete(cluster.baseUrl);
  }

  /**
   * Makes a server unreachable (`outage`) or reachable again (`undefined`).
   * While down, its own requests are dropped too, as for a crashed process.
   */
  setDown(baseUrl: string, outage: Outage | undefined): void {
    if (outage === undefined) this.#down.delete(baseUrl);
    else this.#down.set(baseUrl, outage);
  }

  /** Drops every request from `from` to `to` (one way; the caller times out). */
  block(from: string, to: string): void {
    this.#blocked.add(`${from}>${to}`);
  }

  /** Loses the next `count` requests from `from` to `to` (the caller times out); later ones get through. */
  drop(from: string, to: string, count: number): void {
    this.#drops.set(`${from}>${to}`, count);
  }

  /** Removes every block. */
  unblockAll(): void {
    this.#blocked.clear();
  }

  /** Creates a master-list store at `url`. */
  masterList(url = 'http://master-list.test/list'): MemoryMasterList {
    const store: MemoryMasterList = { url, body: undefined, outage: undefined, log: [], etags: true };
    this.#lists.set(url, store);
    return store;
  }

  /** A transport whose requests come from the server at `from` (used to record who sent what). */
  transport(from: string): Transport {
    return { request: (req) => this.#deliver(from, req) };
  }

  async #deliver(from: string, req: TransportRequest): Promise<TransportResponse> {
    this.requests.push({ from, method: req.method, url: req.url, at: this.clock.now(), kind: kindOf(req) });
    // A server that is down sends nothing either: its requests go nowhere.
    if (this.#down.has(from)) return new Promise<never>(() => undefined);
    const list = this.#lists.get(req.url);
    if (list !== undefined) return this.#delay(() => this.#masterList(list, req));
    const raw = [...this.#raw.keys()].find((base) => req.url.startsWith(base));
    if (raw !== undefined) return this.#delay(() => this.#raw.get(raw)!(req));
    const target = [...this.#servers.keys()].find((base) => req.url.startsWith(base));
    if (target === undefined) return this.#fail('refuse', req);
    const outage = this.#down.get(target);
    if (outage !== undefined) return this.#fail(outage, req);
    const path = `${from}>${target}`;
    if (this.#blocked.has(path)) return this.#fail('hang', req);
    const drops = this.#drops.get(path) ?? 0;
    if (drops > 0) {
      this.#drops.set(path, drops - 1);
      return this.#fail('hang', req);
    }
    const cluster = this.#servers.get(target)!;
    const endpoint = req.url.slice(target.length);
    const auth = req.headers?.['authorization'] ?? '';
    return this.#delay(async () => {
      try {
        if (endpoint === 'clustershazbot/gossip' && req.method === 'POST') {
          return json(200, await cluster.handleGossip(auth, JSON.parse(req.body ?? 'null')));
        }
        if (endpoint === 'clustershazbot/list' && req.method === 'GET') return json(200, await cluster.handleList(auth));
        if (endpoint === 'clustershazbot/control' && req.method === 'POST') {
          await cluster.handleControl(auth, JSON.parse(req.body ?? 'null'));
          return json(200, { success: true });
        }
        return json(404, { error: 'not found' });
      } catch (e) {
        return json(isShazbotError(e) ? e.status : 500, { error: e instanceof Error ? e.message : String(e) });
      }
    });
  }

  #masterList(list: MemoryMasterList, req: TransportRequest): TransportResponse {
    list.log.push({ method: req.method, at: this.clock.now(), headers: req.headers ?? {} });
    if (typeof list.outage === 'number') return { status: list.outage, headers: {}, body: '' };
    const etag = list.body === undefined ? undefined : `"${createHash('sha256').update(list.body).digest('hex').slice(0, 16)}"`;
    if (req.method === 'GET') {
      if (list.body === undefined) return { status: 404, headers: {}, body: '' };
      return { status: 200, headers: list.etags ? { etag: etag! } : {}, body: list.body };
    }
    const ifMatch = req.headers?.['if-match'];
    if (ifMatch !== undefined && ifMatch !== etag) return { status: 412, headers: {}, body: '' };
    if (req.headers?.['if-none-match'] === '*' && list.body !== undefined) return { status: 412, headers: {}, body: '' };
    list.body = req.body ?? '';
    return { status: 200, headers: {}, body: '{"ok":true}' };
  }

  async #delay(answer: () => TransportResponse | Promise<TransportResponse>): Promise<TransportResponse> {
    await this.#wait(this.latencyMs);
    const res = await answer();
    await this.#wait(this.latencyMs);
    return res;
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimer(ms, resolve));
  }

  async #fail(outage: Outage, req: TransportRequest): Promise<never> {
    if (outage === 'hang') await new Promise(() => undefined);
    await this.#wait(this.latencyMs);
    throw new TransportError('network', `connection refused: ${req.url}`);
  }
}

function json(status: number, body: unknown): TransportResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
