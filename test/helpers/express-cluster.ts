/**
 * Helpers for running several cluster instances in one process, each behind
 * its own Express 5 app on a 127.0.0.1 ephemeral port, wired exactly like the
 * seed README's Express example, with a real master-list store.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { LogFields, Logger } from '../../src/core/logger.js';
import { createHttpTransport } from '../../src/core/http-transport.js';
import { TransportError, type Transport } from '../../src/core/transport.js';
import type { ClusterOptions } from '../../src/config.js';
import { createCluster, type Cluster } from '../../src/engine/cluster.js';
import { startMasterListStore, type MasterListStore } from '../../src/master-list/store.js';

/** Gossip secret shared by every node. */
export const SECRET = 'inprocess-gossip-secret-0123456789';
/** Control secret shared by every node. */
export const CONTROL = 'inprocess-control-secret-0123456789';
/** Authorization header the store requires for PUT. */
export const STORE_AUTH = 'Bearer inprocess-store-token-0123456789';

/** The short timings of the brief: rounds every 200 ms, announces every 1–1.5 s. */
export const FAST: Partial<ClusterOptions> = {
  gossipIntervalMs: 200,
  exchangeTimeoutMs: 1_000,
  masterAnnounceMinimumMs: 1_000,
  masterAnnounceIntervalMs: 500,
};

/** One instance: its Express server, its cluster, and what its routes saw. */
export interface Node {
  readonly baseUrl: string;
  readonly server: Server;
  readonly cluster: Cluster;
  /** Every error the gossip route caught, in order (the seed answers all of them with 401). */
  readonly gossipErrors: unknown[];
  /** Warnings and errors the cluster logged, for failure messages. */
  readonly log: string[];
  /**
   * Simulates a process that died: the HTTP server drops every connection
   * and stops listening, and every outbound request fails. (Merely closing
   * the server is not enough in one process: the cluster's timers still
   * fire, it keeps gossiping out and would refute being marked offline.)
   */
  kill(): Promise<void>;
}

/** Sends outbound requests through the real transport until killed. */
/** A real HTTP transport that fails every request once `kill()` ran: the outbound side of a crashed process. */
export function killableTransport(): { transport: Transport; kill: () => void } {
  const real = createHttpTransport();
  let dead = false;
  return {
    transport: {
      request: (req) => (dead ? Promise.reject(new TransportError('network', 'this node was killed')) : real.request(req)),
    },
    kill: () => {
      dead = true;
    },
  };
}

function collectingLogger(lines: string[]): Logger {
  const keep = (level: string) => (message: string, fields?: LogFields) => {
    if (lines.length < 200) lines.push(`${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  return { debug: () => undefined, info: () => undefined, warn: keep('warn'), error: keep('error') };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Closes a server and drops its keep-alive connections. Never rejects. */
/** Closes a server and every connection it holds; a no-op if it is not listening. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/**
 * A master-list store plus the nodes started against it. `close()` shuts
 * every cluster down and closes every server and the store, whatever failed.
 */
export class ExpressCluster {
  readonly nodes: Node[] = [];
  #store: MasterListStore | undefined;
  #dir: string | undefined;
  #file: string | undefined;
  readonly #kills = new Map<Node, () => void>();

  /** Starts the store; call once before adding nodes. */
  async open(): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), 'shazbot-inprocess-'));
    this.#file = join(this.#dir, 'master-list.json');
    this.#store = await startMasterListStore({ file: this.#file, auth: STORE_AUTH });
  }

  /** The store's list file as parsed JSON, or undefined before the first write. */
  async storedList(): Promise<{ online: Array<{ baseUrl: string }>; offline?: Array<{ baseUrl: string; reason?: string }> } | undefined> {
    try {
      return JSON.parse(await readFile(this.#file!, 'utf8')) as never;
    } catch {
      return undefined;
    }
  }

  /**
   * Listens on an ephemeral port first (the base URL must be known before the
   * cluster exists), then creates the cluster, routes to it and starts it.
   */
  async add(overrides: Partial<ClusterOptions> = {}): Promise<Node> {
    const store = this.#store;
    if (store === undefined) throw new Error('open() the ExpressCluster first');
    let cluster: Cluster | undefined;
    const gossipErrors: unknown[] = [];
    const app = express();
    app.use(express.json());
    // Routes as in the seed README, calling the instance's methods.
    app.post('/clustershazbot/gossip', async (req, res) => {
      try {
        if (cluster === undefined) throw new Error('not created yet');
        const auth = req.headers.authorization || '';
        const result = await cluster.handleGossip(auth, req.body);
        res.json(result);
      } catch (error) {
        gossipErrors.push(error);
        res.status(401).json({ error: messageOf(error) });
      }
    });
    app.get('/clustershazbot/list', async (req, res) => {
      try {
        if (cluster === undefined) throw new Error('not created yet');
        const auth = req.headers.authorization || '';
        const result = await cluster.handleList(auth);
        res.json(result);
      } catch (error) {
        res.status(500).json({ error: messageOf(error) });
      }
    });
    app.post('/clustershazbot/control', async (req, res) => {
      try {
        if (cluster === undefined) throw new Error('not created yet');
        const auth = req.headers.authorization || '';
        await cluster.handleControl(auth, req.body);
        res.json({ success: true });
      } catch (error) {
        res.status(401).json({ error: messageOf(error) });
      }
    });

    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}/`;
    const log: string[] = [];
    const { transport, kill } = killableTransport();
    try {
      cluster = createCluster(
        {
          baseUrl,
          secret: SECRET,
          controlSecret: CONTROL,
          masterListUrl: store.url,
          masterListUpdateUrl: store.url,
          masterListUpdateAuth: STORE_AUTH,
          ...FAST,
          ...overrides,
        },
        { logger: collectingLogger(log), transport },
      );
    } catch (e) {
      await closeServer(server);
      throw e;
    }
    const node: Node = {
      baseUrl,
      server,
      cluster,
      gossipErrors,
      log,
      kill: async () => {
        kill();
        await closeServer(server);
      },
    };
    this.nodes.push(node);
    this.#kills.set(node, kill);
    await cluster.start();
    return node;
  }

  /** Starts `count` nodes at once. */
  async addMany(count: number, overrides: Partial<ClusterOptions> = {}): Promise<Node[]> {
    return Promise.all(Array.from({ length: count }, () => this.add(overrides)));
  }

  /** Shuts every cluster down, then closes every server, the store and the temp folder. Never rejects. */
  async close(): Promise<void> {
    // Shutdowns are bounded (shutdownTimeoutMs); they run while every server still answers.
    await Promise.allSettled(this.nodes.map((n) => n.cluster.shutdown()));
    for (const kill of this.#kills.values()) kill();
    await Promise.allSettled(this.nodes.map((n) => closeServer(n.server)));
    await this.#store?.close().catch(() => undefined);
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true }).catch(() => undefined);
    this.nodes.length = 0;
  }
}

/** What one node's list endpoint says, reduced to base URLs and offline reasons. */
export interface ListView {
  readonly online: string[];
  readonly offline: string[];
  readonly reasons: Record<string, string | undefined>;
}

/** GETs `<node>clustershazbot/list` with the control secret and reduces the answer. */
export async function listOf(node: Node): Promise<ListView> {
  const res = await fetch(`${node.baseUrl}clustershazbot/list`, { headers: { authorization: `Bearer ${CONTROL}` } });
  if (res.status !== 200) throw new Error(`list of ${node.baseUrl} answered ${res.status}`);
  const body = (await res.json()) as { online: Array<{ baseUrl: string }>; offline?: Array<{ baseUrl: string; reason?: string }> };
  const offline = body.offline ?? [];
  return {
    online: body.online.map((s) => s.baseUrl).sort(),
    offline: offline.map((s) => s.baseUrl).sort(),
    reasons: Object.fromEntries(offline.map((s) => [s.baseUrl, s.reason])),
  };
}

/** POSTs a JSON value (or a raw string body) to one of a node's endpoints. */
export async function post(
  node: Node,
  endpoint: 'gossip' | 'control',
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${node.baseUrl}clustershazbot/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Keep the text: Express's own error pages are not JSON.
  }
  return { status: res.status, body: parsed };
}

/**
 * Checks `check` repeatedly for `durationMs`, failing at the first violation.
 * This is an observation window (the property must hold throughout), not a sleep.
 */
export async function holdsFor(durationMs: number, check: () => Promise<void>, pauseMs = 50): Promise<number> {
  const end = Date.now() + durationMs;
  let checks = 0;
  while (Date.now() < end) {
    await check();
    checks++;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return checks;
}
