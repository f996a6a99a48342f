/**
 * `clustershazbot/nest` in real Nest apps (the root's Nest, on the Express
 * platform): the shared adapter suite with Nest's JSON parser on and off,
 * then the module's lifecycle, forRootAsync, the default instance and the
 * injection token. The module starts its instance before the app listens,
 * so each app listens on a port found free just before (its base URL must be
 * known when the module is created).
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTERSHAZBOT_CLUSTER, ClustershazbotModule, type ClustershazbotService,
} from '../src/adapters/nest.js';
import type { ClusterOptions } from '../src/config.js';
import { getDefaultCluster, shazbotStatus } from '../src/default-instance.js';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { adapterSuite, call, CONTROL, SECRET, type Harness, type InstanceOptions, type ServeSetup } from './helpers/adapter-suite.js';
import { freePort } from './helpers/processes.js';

/**
 * Finds a free port, creates an app importing `importsFor(its base URL)` and
 * listens there; `bodyParser: false` leaves the raw stream to the controller.
 */
async function listen(
  importsFor: (baseUrl: string) => DynamicModule[],
  bodyParser = true,
  globalPrefix = '',
): Promise<{ app: INestApplication; baseUrl: string }> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}/${globalPrefix === '' ? '' : `${globalPrefix}/`}`;
  @Module({ imports: importsFor(baseUrl) })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, bodyParser, abortOnError: false });
  if (globalPrefix !== '') app.setGlobalPrefix(globalPrefix);
  app.enableShutdownHooks();
  try {
    await app.listen(port, '127.0.0.1');
  } catch (e) {
    await app.close();
    throw e;
  }
  return { app, baseUrl };
}

function serviceOf(app: INestApplication): ClustershazbotService {
  return app.get<ClustershazbotService>(CLUSTERSHAZBOT_CLUSTER);
}

function harness(bodyParser: boolean): Harness {
  return {
    name: bodyParser ? 'nest (its JSON parser on)' : 'nest (bodyParser: false)',
    frameworkParsesJson: bodyParser,
    async serve(setup: ServeSetup) {
      const { app, baseUrl } = await listen((url) => [
        ClustershazbotModule.forRoot({ cluster: { ...setup.cluster, baseUrl: url }, dashboard: setup.dashboard, maxBodyBytes: setup.maxBodyBytes }),
      ], bodyParser);
      const cluster = serviceOf(app).cluster;
      if (cluster === undefined) throw new Error('the module serves no instance');
      return { baseUrl, cluster, close: () => app.close().catch(() => undefined) };
    },
  };
}

adapterSuite(harness(true));
adapterSuite(harness(false));

describe('nest module', () => {
  let store: MasterListStore;
  let dir: string;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shazbot-nest-'));
    store = await startMasterListStore({ file: join(dir, 'master-list.json') });
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function instanceOptions(): InstanceOptions {
    return { secret: SECRET, controlSecret: CONTROL, masterListUrl: store.url, gossipIntervalMs: 200, probeIntervalMs: 200, probeTimeoutMs: 150, shutdownTimeoutMs: 1_000 };
  }

  it('starts its own instance at bootstrap and shuts it down on close, idempotently', async () => {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}/`;
    @Module({ imports: [ClustershazbotModule.forRoot({ cluster: { ...instanceOptions(), baseUrl } })] })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    const cluster = serviceOf(app).cluster;
    expect(cluster?.status).toBe('idle');
    await app.listen(port, '127.0.0.1');
    expect(cluster?.status).toBe('running');
    expect((await call(baseUrl, 'GET', 'health')).status).toBe(200);
    await app.close();
    expect(cluster?.status).toBe('stopped');
    await app.close();
    expect(cluster?.status).toBe('stopped');
  });

  it('takes its options from forRootAsync, and a global module lends the token to every module', async () => {
    const CONFIG = 'TEST_CLUSTER_CONFIG';
    @Injectable()
    class Peers {
      constructor(@Inject(CLUSTERSHAZBOT_CLUSTER) readonly shazbot: ClustershazbotService) {}
    }
    // Imports nothing of clustershazbot: the global module provides the token.
    @Module({ providers: [Peers], exports: [Peers] })
    class FeatureModule {}
    const { app, baseUrl } = await listen((url) => {
      @Module({ providers: [{ provide: CONFIG, useValue: { ...instanceOptions(), baseUrl: url } }], exports: [CONFIG] })
      class ConfigModule {}
      return [
        ClustershazbotModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: async (cluster: ClusterOptions) => ({ cluster, dashboard: true }),
          isGlobal: true,
        }),
        { module: FeatureModule },
      ];
    });
    apps.push(app);
    expect(app.get(Peers).shazbot.cluster?.baseUrl).toBe(baseUrl);
    expect(app.get(Peers).shazbot).toBe(serviceOf(app));
    const page = await call(baseUrl, 'GET', 'dashboard', { headers: { authorization: `Bearer ${CONTROL}` } });
    expect(page.status).toBe(200);
  });

  it('reads bodies past Nest\'s 100 kb parser limit itself when the app has bodyParser: false', async () => {
    const { app, baseUrl } = await listen((url) => [ClustershazbotModule.forRoot({ cluster: { ...instanceOptions(), baseUrl: url } })], false);
    apps.push(app);
    const big = { message: 'control', online: true, padding: 'x'.repeat(200 * 1024) };
    const answer = await call(baseUrl, 'POST', 'control', { headers: { authorization: `Bearer ${CONTROL}` }, body: big });
    expect([answer.status, answer.json]).toEqual([200, { success: true }]);
  });

  it('serves under the app\'s global prefix', async () => {
    const { app, baseUrl } = await listen((url) => [ClustershazbotModule.forRoot({ cluster: { ...instanceOptions(), baseUrl: url } })], true, 'api');
    apps.push(app);
    expect(baseUrl).toMatch(/\/api\/$/);
    expect((await call(baseUrl, 'GET', 'health')).json).toEqual({ healthy: true, status: 'running' });
    const unknown = await call(baseUrl, 'GET', 'nope');
    expect([unknown.status, unknown.json]).toEqual([404, { error: 'not found', code: 'NOT_FOUND' }]);
  });

  describe('without cluster options: the default instance from SHAZBOT_*', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const key of Object.keys(process.env)) if (key.startsWith('SHAZBOT_')) delete process.env[key];
      Object.assign(process.env, saved);
    });

    it('starts the default instance, serves it, and shuts it down on close', async () => {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}/`;
      Object.assign(process.env, {
        SHAZBOT_SECRET: SECRET,
        SHAZBOT_CONTROL_SECRET: CONTROL,
        SHAZBOT_BASE_URL: baseUrl,
        SHAZBOT_MASTER_LIST: store.url,
        SHAZBOT_MASTER_LIST_UPDATE: store.url,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: 'Bearer unused-store-token',
        SHAZBOT_LOG_LEVEL: 'silent',
      });
      @Module({ imports: [ClustershazbotModule.forRoot()] })
      class AppModule {}
      const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
      // Nothing to serve until the app bootstraps.
      expect(serviceOf(app).cluster).toBeUndefined();
      await app.listen(port, '127.0.0.1');
      expect(serviceOf(app).cluster).toBe(getDefaultCluster());
      const health = await call(baseUrl, 'GET', 'health');
      expect([health.status, health.json]).toEqual([200, { healthy: true, status: 'running' }]);
      const info = await call(baseUrl, 'GET', 'info', { headers: { authorization: `Bearer ${CONTROL}` } });
      expect((info.json as { baseUrl: string }).baseUrl).toBe(baseUrl);
      await app.close();
      expect(shazbotStatus()).toBe('stopped');
    });

    it('fails the bootstrap with one ConfigError naming every missing variable', async () => {
      for (const key of Object.keys(process.env)) if (key.startsWith('SHAZBOT_')) delete process.env[key];
      @Module({ imports: [ClustershazbotModule.forRoot()] })
      class AppModule {}
      const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
      apps.push(app);
      const failure = await app.init().then(() => undefined, (e: unknown) => e);
      expect(failure).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(String((failure as Error).message)).toContain('SHAZBOT_SECRET');
    });
  });
});
