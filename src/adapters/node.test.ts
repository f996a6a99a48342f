/**
 * `clustershazbot/node` on real node:http servers: the shared adapter suite,
 * then what only this adapter does (its prefix, passing other paths on,
 * streamed bodies, bodies an earlier parser already read).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { adapterSuite, call, closeServer, startInstance, type Harness, type ServeSetup } from '../../test/helpers/adapter-suite.js';
import { createCluster, type Cluster } from '../engine/cluster.js';
import { readJsonBodyAndText } from './body.js';

const readJsonBody = async (req: Parameters<typeof readJsonBodyAndText>[0], limit: number): Promise<unknown> => (await readJsonBodyAndText(req, limit)).value;
import { createRequestHandler, type NodeAdapterOptions } from './node.js';

/** Listens on 127.0.0.1:0 with the handler in front of an app that answers 418 `app`. */
async function listen(options: NodeAdapterOptions, before?: (req: IncomingMessage) => Promise<void>): Promise<{ server: Server; url: string }> {
  const handle = createRequestHandler(options);
  const server = createServer((req, res) => {
    void (async () => {
      await before?.(req);
      if (await handle(req, res)) return;
      res.writeHead(418, { 'content-type': 'text/plain' }).end('app');
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const harness: Harness = {
  name: 'node:http',
  async serve(setup: ServeSetup) {
    let cluster: Cluster | undefined;
    const { server, url } = await listen({ cluster: () => cluster, dashboard: setup.dashboard, maxBodyBytes: setup.maxBodyBytes });
    return startInstance(url, setup, (c) => (cluster = c), () => closeServer(server));
  },
  async serveIdle() {
    const { server, url } = await listen({ cluster: () => undefined });
    return { baseUrl: url, close: () => closeServer(server) };
  },
};

adapterSuite(harness);

describe('node:http adapter', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function serve(options: NodeAdapterOptions, before?: (req: IncomingMessage) => Promise<void>): Promise<string> {
    const { server, url } = await listen(options, before);
    servers.push(server);
    return url;
  }

  it('answers under its prefix and passes every other path on untouched', async () => {
    const url = await serve({ cluster: () => undefined, prefix: '/api/clustershazbot/' });
    expect((await call(`${url}api/`, 'GET', 'health')).status).toBe(503);
    const other = await fetch(`${url}clustershazbot/health`);
    expect([other.status, await other.text()]).toEqual([418, 'app']);
    const notOurs = await fetch(`${url}api/clustershazbotx/health`);
    expect(notOurs.status).toBe(418);
  });

  it('takes its default prefix from the base URL of the instance it serves', async () => {
    // An instance that is never started: its base URL is all the handler reads.
    const cluster = createCluster({
      baseUrl: 'http://127.0.0.1:1/base/path/',
      secret: 'node-adapter-gossip-secret-0123',
      controlSecret: 'node-adapter-control-secret-0123',
      masterListUrl: 'http://127.0.0.1:1/',
    });
    const url = await serve({ cluster });
    const health = await call(`${url}base/path/`, 'GET', 'health');
    expect([health.status, health.json]).toEqual([503, { healthy: false, status: 'idle' }]);
    expect((await fetch(`${url}clustershazbot/health`)).status).toBe(418);
  });

  it('refuses a streamed (chunked) body over the limit with 413 and stays usable', async () => {
    const url = await serve({ cluster: () => undefined, maxBodyBytes: 1024 });
    const chunk = new TextEncoder().encode(`"${'x'.repeat(4096)}"`);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${url}clustershazbot/gossip`, {
      method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' },
    } as RequestInit);
    expect(res.headers.get('content-length')).not.toBeNull();
    expect([res.status, await res.json()]).toEqual([413, { error: 'body exceeds 1024 bytes', code: 'TOO_LARGE' }]);
    expect((await call(url, 'GET', 'health')).status).toBe(503);
  });

  it('uses the body an earlier parser already read instead of waiting for it', async () => {
    const seen: unknown[] = [];
    // A connect-style parser in front: it consumes the stream and sets req.body.
    const url = await serve({ cluster: () => undefined }, async (req) => {
      if (req.method !== 'POST') return;
      const body = await readJsonBody(req, 1024);
      seen.push(body);
      Object.assign(req, { body });
    });
    const answer = await call(url, 'POST', 'control', { body: { message: 'control', online: false } });
    // Answered (503: no instance), not left hanging until the timeout.
    expect([answer.status, answer.json]).toEqual([503, { error: 'clustershazbot is not started', code: 'NOT_STARTED' }]);
    expect(seen).toEqual([{ message: 'control', online: false }]);
  });
});
