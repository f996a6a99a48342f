/**
 * Master-list stores for the chaos scenarios: the real store
 * (startMasterListStore) in a temporary directory, and a programmable proxy
 * in front of it that injects store faults and audits every PUT that
 * passes through.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startMasterListStore, type MasterListStore } from '../../src/master-list/store.js';
import type { Scope } from './chaos-report.js';
import { freePort } from './processes.js';

/** Starts a real store on `host` (ephemeral port) whose PUTs need `auth`; `scope` closes it and removes its file. */
export async function startStore(scope: Scope, auth: string, host = '127.0.0.1'): Promise<MasterListStore> {
  const dir = await mkdtemp(join(tmpdir(), 'clustershazbot-chaos-'));
  scope.defer(() => rm(dir, { recursive: true, force: true }));
  const store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth, host });
  scope.defer(() => store.close());
  return store;
}

/** The base URLs a master-list body names (online and offline), or undefined if it is not a list. */
export function listedUrls(body: string): Set<string> | undefined {
  try {
    const list = JSON.parse(body) as { online?: { baseUrl: string }[]; offline?: { baseUrl: string }[] };
    return new Set([...(list.online ?? []), ...(list.offline ?? [])].map((s) => s.baseUrl));
  } catch {
    return undefined;
  }
}

/** The base URLs the real store lists online right now. */
export async function onlineInStore(store: MasterListStore): Promise<Set<string>> {
  const response = await fetch(store.url, { signal: AbortSignal.timeout(2_000) });
  const list = (await response.json()) as { online?: { baseUrl: string }[] };
  return new Set((list.online ?? []).map((s) => s.baseUrl));
}

/**
 * What the proxy does with each request:
 * - `down`: not listening (connections refused);
 * - `ok`: forwards to the real store;
 * - `error500`: answers every request 500;
 * - `corrupt`: answers GET with the first half of the real list (invalid JSON), forwards PUT;
 * - `slow`: waits {@link FaultyStore.slowMs} before forwarding.
 */
export type StoreFault = 'down' | 'ok' | 'error500' | 'corrupt' | 'slow';

/** The ETag a corrupt answer carries, so a PUT based on it can be recognised. */
const CORRUPT_ETAG = '"chaos-corrupt"';

/** A fault-injecting proxy in front of a real store. */
export interface FaultyStore {
  /** Its URL, for `SHAZBOT_MASTER_LIST` and `SHAZBOT_MASTER_LIST_UPDATE`; the port stays the same while down. */
  readonly url: string;
  /** Delay of the `slow` fault, ms. */
  readonly slowMs: number;
  setFault(fault: StoreFault): Promise<void>;
  /** Requests answered with each fault (a `down` proxy sees none). */
  readonly faulted: Readonly<Record<StoreFault, number>>;
  /** Successful PUTs forwarded so far. */
  readonly writes: number;
  /**
   * Every PUT that could lose data: based on a corrupt or never-served list,
   * unconditional, or replacing a list with one that lacks a server the
   * replaced one named.
   */
  readonly violations: readonly string[];
}

/** Starts a proxy to `real` with `initial` as its fault; `scope` closes it. */
export async function startFaultyStore(scope: Scope, real: MasterListStore, initial: StoreFault, slowMs = 10_000): Promise<FaultyStore> {
  const port = await freePort();
  let fault: StoreFault = initial;
  let writes = 0;
  const faulted: Record<StoreFault, number> = { down: 0, ok: 0, error500: 0, corrupt: 0, slow: 0 };
  const violations: string[] = [];
  /** Servers named by each list version this proxy has seen, by ETag. */
  const listsByEtag = new Map<string, Set<string>>();

  const forward = async (req: IncomingMessage, body: Buffer): Promise<{ status: number; etag: string | null; text: string }> => {
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'if-match', 'if-none-match', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const response = await fetch(real.url, {
      method: req.method, headers, body: req.method === 'PUT' ? new Uint8Array(body) : undefined, signal: AbortSignal.timeout(5_000),
    });
    return { status: response.status, etag: response.headers.get('etag'), text: await response.text() };
  };

  /** Checks a PUT before and after it is forwarded; returns the forwarded answer. */
  const auditedPut = async (req: IncomingMessage, body: Buffer): Promise<{ status: number; etag: string | null; text: string }> => {
    const ifMatch = req.headers['if-match'];
    const base = ifMatch === undefined ? (req.headers['if-none-match'] === '*' ? new Set<string>() : undefined) : listsByEtag.get(ifMatch);
    if (ifMatch === CORRUPT_ETAG) violations.push('a PUT was based on a corrupt list');
    else if (base === undefined) violations.push(`a PUT was based on a list never served intact (If-Match ${ifMatch ?? 'absent'})`);
    const answer = await forward(req, body);
    const next = listedUrls(body.toString('utf8'));
    if (answer.status >= 200 && answer.status < 300 && next !== undefined) {
      writes++;
      const lost = [...(base ?? [])].filter((url) => !next.has(url));
      if (lost.length > 0) violations.push(`a PUT replaced a list and dropped ${lost.join(', ')}`);
      if (answer.etag !== null) listsByEtag.set(answer.etag, next);
    }
    return answer;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const now = fault;
    if (now !== 'ok') faulted[now]++;
    if (now === 'error500') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"chaos: injected failure","code":"INTERNAL"}');
      return;
    }
    if (now === 'slow') await delay(slowMs);
    if (now === 'corrupt' && req.method === 'GET') {
      const { text } = await forward(req, body);
      res.writeHead(200, { 'content-type': 'application/json', etag: CORRUPT_ETAG }).end(text.slice(0, Math.floor(text.length / 2)));
      return;
    }
    const answer = req.method === 'PUT' ? await auditedPut(req, body) : await forward(req, body);
    if (req.method === 'GET' && answer.status === 200 && answer.etag !== null) {
      listsByEtag.set(answer.etag, listedUrls(answer.text) ?? new Set());
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.etag === null ? {} : { etag: answer.etag }) }).end(answer.text);
  };

  const server = createServer((req, res) => {
    res.on('error', () => undefined); // answering a client that already left
    handle(req, res).catch(() => {
      // The client went away (e.g. it timed out on a slow answer) or the real store did.
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  const listen = async (): Promise<void> => {
    if (server.listening) return;
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  };
  const stop = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  };
  if (initial !== 'down') await listen();
  scope.defer(stop);
  return {
    url: `http://127.0.0.1:${port}/`,
    slowMs,
    async setFault(next) {
      fault = next;
      await (next === 'down' ? stop() : listen());
    },
    faulted,
    get writes() {
      return writes;
    },
    violations,
  };
}
