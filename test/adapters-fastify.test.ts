/**
 * `clustershazbot/fastify` on real Fastify 5 servers: the shared adapter
 * suite at the root and under a prefix, the mapping of Fastify's own body
 * errors, and an app whose own error handler and routes stay its own.
 */
import { request, type IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { clustershazbotPlugin } from '../src/adapters/fastify.js';
import type { AdapterOptions } from '../src/adapters/routes.js';
import type { Cluster } from '../src/engine/cluster.js';
import { adapterSuite, call, startInstance, type Harness, type ServeSetup } from './helpers/adapter-suite.js';

/** How the plugin is registered: at the root, with `prefix: '/api'`, or inside a plugin registered with that prefix. */
type Placement = 'root' | 'prefix' | 'prefixed-parent';

/** An app with the plugin, its own error handler, and a route that throws. */
async function listen(options: AdapterOptions, placement: Placement): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  app.setErrorHandler((_error, _request, reply) => reply.code(418).send({ app: 'error handler' }));
  app.post('/orders', async () => {
    throw new Error('the app\'s own failure');
  });
  if (placement === 'root') await app.register(clustershazbotPlugin, options);
  else if (placement === 'prefix') await app.register(clustershazbotPlugin, { ...options, prefix: '/api' });
  else await app.register(async (api) => api.register(clustershazbotPlugin, options), { prefix: '/api' });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `${url}/${placement === 'root' ? '' : 'api/'}` };
}

function harness(placement: Placement): Harness {
  return {
    name: `fastify (${placement})`,
    async serve(setup: ServeSetup) {
      let cluster: Cluster | undefined;
      const { app, url } = await listen({ cluster: () => cluster, dashboard: setup.dashboard, maxBodyBytes: setup.maxBodyBytes }, placement);
      return startInstance(url, setup, (c) => (cluster = c), () => app.close());
    },
    async serveIdle() {
      const { app, url } = await listen({ cluster: () => undefined }, placement);
      return { baseUrl: url, close: () => app.close() };
    },
  };
}

adapterSuite(harness('root'));
adapterSuite(harness('prefix'));

describe('fastify plugin', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function serve(options: AdapterOptions = { cluster: () => undefined }): Promise<string> {
    const { app, url } = await listen(options, 'root');
    apps.push(app);
    return url;
  }

  it('serves under the prefix of a plugin it is registered in', async () => {
    const { app, url } = await listen({ cluster: () => undefined }, 'prefixed-parent');
    apps.push(app);
    expect((await call(url, 'GET', 'health')).status).toBe(503);
    expect((await fetch(url.replace(/api\/$/, 'clustershazbot/health'))).status).toBe(404);
  });

  /** POSTs `body` to control with exactly the content-type given (none if undefined), as fetch cannot. */
  async function rawPost(url: string, type: string | undefined, body: string): Promise<{ status: number; body: unknown }> {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const headers = { 'content-length': String(Buffer.byteLength(body)), ...(type === undefined ? {} : { 'content-type': type }) };
      request(`${url}clustershazbot/control`, { method: 'POST', headers }, resolve).on('error', reject).end(body);
    });
    let text = '';
    for await (const chunk of res) text += String(chunk);
    return { status: res.statusCode ?? 0, body: JSON.parse(text) };
  }

  const MALFORMED = { error: expect.any(String), code: 'MALFORMED' };

  it('answers bodies that are not JSON with 400 MALFORMED: another or no content-type, empty JSON', async () => {
    const url = await serve();
    const control = '{"message":"control","online":true}';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const answer = await rawPost(url, type, control);
      expect(answer, `content-type ${type}`).toEqual({ status: 400, body: { error: 'content-type must be application/json', code: 'MALFORMED' } });
    }
    const emptyJson = await fetch(`${url}clustershazbot/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
    expect([emptyJson.status, await emptyJson.json()]).toEqual([400, MALFORMED]);
  });

  it('answers a body over the limit with 413 even when the content-length is not declared', async () => {
    const url = await serve({ cluster: () => undefined, maxBodyBytes: 1024 });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"padding":"${'x'.repeat(4096)}"}`));
        controller.close();
      },
    });
    const res = await fetch(`${url}clustershazbot/gossip`, {
      method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' },
    } as RequestInit);
    expect([res.status, await res.json()]).toEqual([413, { error: 'body exceeds 1024 bytes', code: 'TOO_LARGE' }]);
  });

  it('answers a wrong path or method as such whatever its body, and leaves the app\'s error handler to the app', async () => {
    const url = await serve();
    const wrongPath = await call(url, 'POST', 'nope', { body: '{not json' });
    expect(wrongPath.status).toBe(404);
    const wrongMethod = await call(url, 'POST', 'list', { body: '{not json' });
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'GET']);
    const own = await fetch(`${url}orders`, { method: 'POST' });
    expect([own.status, await own.json()]).toEqual([418, { app: 'error handler' }]);
    const ownBadJson = await fetch(`${url}orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect([ownBadJson.status, await ownBadJson.json()]).toEqual([418, { app: 'error handler' }]);
  });

  it('registers once per app under its fastify-plugin name', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(clustershazbotPlugin, { cluster: () => undefined });
    await app.ready();
    expect(app.hasPlugin('clustershazbot')).toBe(true);
  });
});
