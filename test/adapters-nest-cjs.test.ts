/**
 * `clustershazbot/nest` in a Nest 11 app compiled to CommonJS
 * (test/fixtures/nest11-module-cjs, which imports the module from
 * 'clustershazbot/nest', i.e. the root's dist/cjs), run as a child process
 * beside an in-process instance, with a real master-list store: health,
 * convergence through signed gossip, info behind the control secret, and a
 * graceful departure on SIGTERM. Every wait polls with a deadline.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestHandler } from '../src/adapters/node.js';
import { createCluster, type Cluster } from '../src/engine/cluster.js';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { call, closeServer, CONTROL, SECRET } from './helpers/adapter-suite.js';
import { dumpOutput, freePort, killAll, pollUntil, spawnNode, waitForExit, type ChildHandle } from './helpers/processes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = 'nest11-module-cjs';
const fixtureDir = join(root, 'test', 'fixtures', FIXTURE);
const STORE_AUTH = 'Bearer nest-cjs-store-token-0123456789';
/** Generous: a Nest process and this one share two cores with the rest of the suite. */
const DEADLINE_MS = 20_000;

let store: MasterListStore | undefined;
let dir: string | undefined;
let peerServer: Server | undefined;
let peer: Cluster | undefined;
let child: ChildHandle | undefined;
let nestUrl = '';
let failed = false;

/** The base URLs `cluster` lists online and offline (with the reason). */
function view(cluster: Cluster): { online: string[]; offline: Record<string, string | undefined> } {
  return {
    online: cluster.online().map((e) => e.baseUrl),
    offline: Object.fromEntries(cluster.offline().map((e) => [e.baseUrl, e.reason])),
  };
}

/** Runs a step; a failure prints the child's output in afterAll. */
async function step(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    failed = true;
    throw error;
  }
}

describe('the Nest module in a Nest 11 app compiled to CommonJS', () => {
  beforeAll(async () => {
    // npm ci (when needed) and tsc for this fixture; needs the root built (dist/cjs).
    console.log(execFileSync(process.execPath, [join(root, 'scripts', 'prepare-fixtures.mjs'), FIXTURE], {
      cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    }).trimEnd());

    dir = await mkdtemp(join(tmpdir(), 'shazbot-nest-cjs-'));
    store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: STORE_AUTH });
    const shared = {
      secret: SECRET,
      controlSecret: CONTROL,
      masterListUrl: store.url,
      masterListUpdateUrl: store.url,
      masterListUpdateAuth: STORE_AUTH,
    };

    // The in-process peer, behind the node:http adapter.
    const handle = createRequestHandler({ cluster: () => peer });
    peerServer = createServer((req, res) => {
      void handle(req, res).then((answered) => {
        if (!answered) res.writeHead(404).end();
      });
    });
    peerServer.listen(0, '127.0.0.1');
    await once(peerServer, 'listening');
    const peerUrl = `http://127.0.0.1:${(peerServer.address() as AddressInfo).port}/`;
    peer = createCluster({
      ...shared, baseUrl: peerUrl, gossipIntervalMs: 300, probeIntervalMs: 600, masterAnnounceMinimumMs: 300, masterAnnounceIntervalMs: 300,
    });
    await peer.start();

    const port = await freePort();
    nestUrl = `http://127.0.0.1:${port}/`;
    child = spawnNode('nest11-module-cjs', join(fixtureDir, 'dist', 'main.js'), [], {
      cwd: fixtureDir,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        NO_COLOR: '1',
        // What `npm start` does: the linked package's peers resolve from the app, as in a registry install.
        NODE_OPTIONS: `--import "${pathToFileURL(join(fixtureDir, 'link-peers.mjs')).href}"`,
        PORT: String(port),
        SHAZBOT_SECRET: SECRET,
        SHAZBOT_CONTROL_SECRET: CONTROL,
        SHAZBOT_BASE_URL: nestUrl,
        SHAZBOT_MASTER_LIST: store.url,
        SHAZBOT_MASTER_LIST_UPDATE: store.url,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: STORE_AUTH,
        SHAZBOT_GOSSIP_INTERVAL: '0.3',
        SHAZBOT_PROBE_INTERVAL: '1',
        SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '1',
        SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '0',
        SHAZBOT_LOG_LEVEL: 'warn',
      },
    });
  }, 300_000);

  afterAll(async () => {
    if (child !== undefined) {
      await killAll([child]);
      if (failed) console.log(dumpOutput([child]));
    }
    await peer?.shutdown();
    if (peerServer !== undefined) await closeServer(peerServer);
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('answers health 200 once running, sharing the app\'s own Nest 11', () => step(async () => {
    const health = await pollUntil(async () => {
      const answer = await call(nestUrl, 'GET', 'health');
      return answer.status === 200 ? answer : undefined;
    }, { timeoutMs: DEADLINE_MS, description: 'the Nest app to answer health 200' });
    expect(health.json).toEqual({ healthy: true, status: 'running' });
    const started = await pollUntil(() => /Nest app listening on \d+; @nestjs\/common loaded from (.*)$/m.exec(child?.output() ?? '') ?? undefined, {
      timeoutMs: DEADLINE_MS, description: 'the app to say it listens',
    });
    // The app's own Nest 11 (its package.json allows no other), loaded once: clustershazbot/nest shares it.
    expect(JSON.parse(started[1]!)).toEqual([join(fixtureDir, 'node_modules', '@nestjs', 'common', 'index.js')]);
  }), DEADLINE_MS + 5_000);

  it('exchanges signed gossip with the in-process instance until each lists the other', () => step(async () => {
    await pollUntil(async (report) => {
      const answer = await call(nestUrl, 'GET', 'list');
      const nestOnline = ((answer.json as { online?: Array<{ baseUrl: string }> }).online ?? []).map((e) => e.baseUrl);
      const peerView = view(peer!);
      report({ nest: nestOnline, peer: peerView });
      const both = [nestUrl, peer!.baseUrl];
      // online() lists suspects too: under load a probe can time out and the
      // peer hold the app suspect until it refutes; wait for the plain state.
      const plain = peer!.member(nestUrl)?.state === 'online';
      return plain && both.every((u) => nestOnline.includes(u) && peerView.online.includes(u)) ? true : undefined;
    }, { timeoutMs: DEADLINE_MS, description: 'the Nest app and the in-process instance to list each other online' });
    expect(peer!.member(nestUrl)?.state).toBe('online');
  }), DEADLINE_MS + 5_000);

  it('answers info only with the control secret', () => step(async () => {
    expect((await call(nestUrl, 'GET', 'info')).status).toBe(401);
    const info = await call(nestUrl, 'GET', 'info', { headers: { authorization: `Bearer ${CONTROL}` } });
    expect(info.status).toBe(200);
    expect((info.json as { baseUrl: string; status: string })).toMatchObject({ baseUrl: nestUrl, status: 'running' });
    expect(info.text).not.toContain(SECRET);
    expect((await call(nestUrl, 'GET', 'dashboard')).status).toBe(401);
  }), 10_000);

  it('leaves gracefully on SIGTERM: the peer lists it as left, and the process exits', () => step(async () => {
    const handle = child!;
    handle.process.kill('SIGTERM');
    await pollUntil(async (report) => {
      const seen = view(peer!);
      report(seen);
      return seen.offline[nestUrl] === 'left' ? true : undefined;
    }, { timeoutMs: DEADLINE_MS, description: 'the peer to list the Nest app offline (left)' });
    // Nest re-raises the signal once its shutdown hooks ran.
    const status = await waitForExit(handle, 15_000);
    expect(status.code === 0 || status.signal === 'SIGTERM', `exit ${JSON.stringify(status)}`).toBe(true);
  }), DEADLINE_MS + 20_000);
});
