/**
 * One small application per framework (node:http, Express, Fastify, Nest),
 * each with the clustershazbot routes and read-your-writes sessions in
 * front of the same three routes of its own:
 *
 * - `PUT /items/:key` with `{"value": …}`: `cluster.state.map('items').set`;
 * - `GET /items/:key`: `{"value": …}` (null when absent);
 * - `POST /hits`: increments the counter `hits` (no per-key token).
 *
 * Every server counts the requests that reach it (`arrived`, before any
 * middleware) and those its own routes handled (`handled`), and its outbound
 * gossip goes through a {@link Partition} a test can cut and heal.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, HttpCode, Inject, Module, Param, Post, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import express from 'express';
import Fastify from 'fastify';
import { readJsonBodyAndText } from '../../src/adapters/body.js';
import { clustershazbotRouter, stateSessions as expressSessions } from '../../src/adapters/express.js';
import { clustershazbotPlugin, stateSessions as fastifySessions } from '../../src/adapters/fastify.js';
import { CLUSTERSHAZBOT_CLUSTER, ClustershazbotModule, type ClustershazbotService } from '../../src/adapters/nest.js';
import { createRequestHandler, withStateSession } from '../../src/adapters/node.js';
import { createHttpTransport } from '../../src/core/http-transport.js';
import { TransportError, type Transport } from '../../src/core/transport.js';
import { createCluster, type Cluster, type ClusterDeps } from '../../src/engine/cluster.js';
import type { JsonValue } from '../../src/state/types.js';
import type { InstanceOptions } from './adapter-suite.js';
import { closeServer } from './express-cluster.js';
import { freePort } from './processes.js';

export type Framework = 'node' | 'express' | 'fastify' | 'nest';
export const FRAMEWORKS: readonly Framework[] = ['node', 'express', 'fastify', 'nest'];

/** Cuts between servers: a cut pair's gossip fails both ways, as if the network between them were down. */
export class Partition {
  readonly #cuts = new Set<string>();

  cut(a: string, b: string): void {
    this.#cuts.add(`${a}\n${b}`).add(`${b}\n${a}`);
  }

  heal(): void {
    this.#cuts.clear();
  }

  /** The outbound transport of the server at `self`. */
  transport(self: string): Transport {
    const real = createHttpTransport();
    return {
      request: (req) => {
        for (const cut of this.#cuts) {
          const [from, to] = cut.split('\n') as [string, string];
          if (from === self && req.url.startsWith(to)) return Promise.reject(new TransportError('network', 'partitioned by the test'));
        }
        return real.request(req);
      },
    };
  }
}

/** One running application. */
export interface SessionApp {
  readonly framework: Framework;
  readonly baseUrl: string;
  readonly cluster: Cluster;
  /** Requests that reached the server, before any middleware. */
  readonly arrived: { count: number };
  /** Requests the app's own routes handled. */
  readonly handled: { count: number };
  close(): Promise<void>;
}

/** The app's routes, whatever the framework: each returns status and JSON body. */
interface Routes {
  put(cluster: Cluster, key: string, body: unknown): Promise<JsonValue>;
  get(cluster: Cluster, key: string): JsonValue;
  hit(cluster: Cluster): Promise<JsonValue>;
}

function routes(handled: { count: number }): Routes {
  return {
    async put(cluster, key, body) {
      handled.count++;
      await cluster.state.map('items').set(key, (body as { value: JsonValue }).value);
      return { ok: true };
    },
    get(cluster, key) {
      handled.count++;
      return { value: cluster.state.map('items').get(key) ?? null };
    },
    async hit(cluster) {
      handled.count++;
      await cluster.state.counter('hits').increment();
      return { hits: cluster.state.counter('hits').value() };
    },
  };
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/**
 * Starts `framework`'s app and its instance (`options` plus its base URL,
 * outbound gossip through `partition`); `sessionTimeoutMs` is the session
 * middleware's wait (its default when undefined).
 */
export async function serveApp(
  framework: Framework,
  options: InstanceOptions,
  deps: ClusterDeps,
  partition: Partition,
  sessionTimeoutMs?: number,
): Promise<SessionApp> {
  const arrived = { count: 0 };
  const handled = { count: 0 };
  const r = routes(handled);
  const sessions = sessionTimeoutMs === undefined ? {} : { timeoutMs: sessionTimeoutMs };
  const ref: { cluster?: Cluster } = {};
  const current = (): Cluster => ref.cluster!;
  const countArrivals = (server: Server): void => {
    server.prependListener('request', () => arrived.count++);
  };
  const start = async (baseUrl: string, closeTransport: () => Promise<void>): Promise<SessionApp> => {
    const cluster = createCluster({ ...options, baseUrl }, { ...deps, transport: partition.transport(baseUrl) });
    ref.cluster = cluster;
    await cluster.start();
    return {
      framework, baseUrl, cluster, arrived, handled,
      close: async () => {
        await cluster.shutdown().catch(() => undefined);
        await closeTransport().catch(() => undefined);
      },
    };
  };

  switch (framework) {
    case 'node': {
      const clustershazbot = createRequestHandler({ cluster: current });
      const server = createServer((req, res) => {
        void (async () => {
          if (await clustershazbot(req, res)) return;
          await withStateSession(req, res, async () => {
            const [, resource, key] = (req.url ?? '').split('?')[0]!.split('/');
            const reply = (body: JsonValue): void => {
              res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
            };
            if (req.method === 'PUT' && resource === 'items') reply(await r.put(current(), key!, (await readJsonBodyAndText(req, 65_536)).value));
            else if (req.method === 'GET' && resource === 'items') reply(r.get(current(), key!));
            else if (req.method === 'POST' && resource === 'hits') reply(await r.hit(current()));
            else res.writeHead(404).end();
          }, { cluster: current, ...sessions });
        })();
      });
      countArrivals(server);
      return start(await listen(server), () => closeServer(server));
    }
    case 'express': {
      const app = express();
      app.use(clustershazbotRouter({ cluster: current }));
      app.use(expressSessions({ cluster: current, ...sessions }));
      app.use(express.json()); // after the sessions: its body reading must keep the request's context
      app.put('/items/:key', async (req, res) => {
        res.json(await r.put(current(), req.params.key, req.body));
      });
      app.get('/items/:key', (req, res) => {
        res.json(r.get(current(), req.params.key));
      });
      app.post('/hits', async (_req, res) => {
        res.json(await r.hit(current()));
      });
      const server = createServer(app);
      countArrivals(server);
      return start(await listen(server), () => closeServer(server));
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(clustershazbotPlugin, { cluster: current });
      await app.register(fastifySessions, { cluster: current, ...sessions });
      app.put<{ Params: { key: string } }>('/items/:key', async (req) => r.put(current(), req.params.key, req.body));
      app.get<{ Params: { key: string } }>('/items/:key', async (req) => r.get(current(), req.params.key));
      app.post('/hits', async () => r.hit(current()));
      await app.listen({ port: 0, host: '127.0.0.1' });
      countArrivals(app.server);
      const { port } = app.server.address() as AddressInfo;
      return start(`http://127.0.0.1:${port}/`, () => app.close());
    }
    case 'nest':
      return serveNest(options, deps, partition, arrived, handled, r, sessionTimeoutMs);
  }
}

/** The Nest app: the module creates and starts the instance itself, so the port is chosen first. */
async function serveNest(
  options: InstanceOptions,
  deps: ClusterDeps,
  partition: Partition,
  arrived: { count: number },
  handled: { count: number },
  r: Routes,
  sessionTimeoutMs: number | undefined,
): Promise<SessionApp> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}/`;

  @Controller()
  class ItemsController {
    constructor(@Inject(CLUSTERSHAZBOT_CLUSTER) private readonly service: ClustershazbotService) {}

    @Put('items/:key')
    put(@Param('key') key: string, @Body() body: unknown): Promise<JsonValue> {
      return r.put(this.service.cluster!, key, body);
    }

    @Get('items/:key')
    get(@Param('key') key: string): JsonValue {
      return r.get(this.service.cluster!, key);
    }

    @Post('hits')
    @HttpCode(200)
    hit(): Promise<JsonValue> {
      return r.hit(this.service.cluster!);
    }
  }

  @Module({
    imports: [ClustershazbotModule.forRoot({
      cluster: { ...options, baseUrl },
      clusterDeps: { ...deps, transport: partition.transport(baseUrl) },
      sessions: sessionTimeoutMs === undefined ? true : { timeoutMs: sessionTimeoutMs },
    })],
    controllers: [ItemsController],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  (app.getHttpServer() as Server).prependListener('request', () => arrived.count++);
  await app.listen(port, '127.0.0.1');
  const cluster = app.get<ClustershazbotService>(CLUSTERSHAZBOT_CLUSTER).cluster!;
  return {
    framework: 'nest', baseUrl, cluster, arrived, handled,
    close: () => app.close().catch(() => undefined),
  };
}
