/**
 * `clustershazbot/express` on real Express 5 servers: the shared adapter
 * suite with the router before `express.json()`, again after it and under a
 * base path, and what the router must leave to the app.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { clustershazbotRouter } from '../src/adapters/express.js';
import type { AdapterOptions } from '../src/adapters/routes.js';
import type { Cluster } from '../src/engine/cluster.js';
import { adapterSuite, call, closeServer, startInstance, type Harness, type ServeSetup } from './helpers/adapter-suite.js';

/** Where the router goes: before the app's JSON parser at the root, or after it under `/api`. */
type Mount = 'before-json' | 'after-json-under-api';

/** An app with the router, the app's own JSON parser, and an app route answering 418 with what it parsed. */
function app(options: AdapterOptions, mount: Mount): Express {
  const a = express();
  if (mount === 'before-json') {
    a.use(clustershazbotRouter(options));
    a.use(express.json());
  } else {
    a.use(express.json());
    a.use('/api', clustershazbotRouter(options));
  }
  a.all('/{*rest}', (req, res) => {
    res.status(418).json({ app: true, body: req.body ?? null });
  });
  return a;
}

async function listen(a: Express): Promise<{ server: Server; url: string }> {
  const server = a.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function harness(mount: Mount): Harness {
  const path = mount === 'before-json' ? '' : 'api/';
  return {
    name: `express (${mount})`,
    // After express.json(), malformed JSON is that parser's to answer.
    frameworkParsesJson: mount !== 'before-json',
    async serve(setup: ServeSetup) {
      let cluster: Cluster | undefined;
      const { server, url } = await listen(app({ cluster: () => cluster, dashboard: setup.dashboard, maxBodyBytes: setup.maxBodyBytes }, mount));
      return startInstance(`${url}${path}`, setup, (c) => (cluster = c), () => closeServer(server));
    },
    async serveIdle() {
      const { server, url } = await listen(app({ cluster: () => undefined }, mount));
      return { baseUrl: `${url}${path}`, close: () => closeServer(server) };
    },
  };
}

adapterSuite(harness('before-json'));
adapterSuite(harness('after-json-under-api'));

describe('express router', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  async function serve(mount: Mount, options: AdapterOptions = { cluster: () => undefined }): Promise<string> {
    const { server, url } = await listen(app(options, mount));
    servers.push(server);
    return url;
  }

  it('passes other paths on to the app, whose own parser still works', async () => {
    const url = await serve('before-json');
    const res = await fetch(`${url}orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    expect([res.status, await res.json()]).toEqual([418, { app: true, body: { n: 1 } }]);
    expect((await fetch(`${url}clustershazbotx/health`)).status).toBe(418);
  });

  it('reads bodies past express.json()\'s 100 kb limit itself when mounted first', async () => {
    const url = await serve('before-json');
    const body = { message: 'control', online: true, padding: 'x'.repeat(200 * 1024) };
    const answer = await call(url, 'POST', 'control', { body });
    // Read and handed on (503: no instance yet), not refused by express.json().
    expect([answer.status, answer.json]).toEqual([503, { error: 'clustershazbot is not started', code: 'NOT_STARTED' }]);
  });

  it('applies its own limit to a body express.json() already parsed', async () => {
    const url = await serve('after-json-under-api', { cluster: () => undefined, maxBodyBytes: 100 });
    const answer = await call(`${url}api/`, 'POST', 'control', { body: { message: 'control', online: true, padding: 'x'.repeat(200) } });
    expect([answer.status, answer.json]).toEqual([413, { error: 'body exceeds 100 bytes', code: 'TOO_LARGE' }]);
  });

  it('answers with no path segment after clustershazbot with 404, not the app', async () => {
    const url = await serve('before-json');
    const answer = await call(url, 'GET', '');
    expect([answer.status, answer.json]).toEqual([404, { error: 'not found', code: 'NOT_FOUND' }]);
  });
});
