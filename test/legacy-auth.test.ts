/**
 * A rolling upgrade from 1.x: a mixed cluster of three 2.x processes with
 * SHAZBOT_LEGACY_AUTH=true (dist/esm/demo/demo-server.js) and one process
 * that speaks only the 1.x format (test/fixtures/v1-server/server.mjs: raw
 * secret in Authorization, unsigned seed-format bodies and replies). They
 * must converge: every server lists all four online.
 * Requires `npm run build` first (the suite's `npm test` does it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { listEntries } from './helpers/fleet.js';
import { dumpOutput, freePorts, killAll, pollUntil, requestJson, spawnNode, type ChildHandle, DEMO_SERVER, REPO_ROOT } from './helpers/processes.js';

const root = REPO_ROOT;
const demoServer = DEMO_SERVER;
const v1Server = join(root, 'test', 'fixtures', 'v1-server', 'server.mjs');

const secret = randomBytes(32).toString('base64url');
const controlSecret = randomBytes(24).toString('base64url');
const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;

let store: MasterListStore | undefined;
let storeDir: string | undefined;
const handles: ChildHandle[] = [];
let urls: string[] = [];
let failed = false;

/** The base URLs a server lists online, with the control secret as 1.x sends it (raw) or as 2.x does (Bearer). */
async function onlineOf(url: string, authorization: string): Promise<string[]> {
  const res = await requestJson(`${url}clustershazbot/list`, { headers: { authorization } });
  if (res.status !== 200) throw new Error(`${url}: list answered ${res.status}`);
  return (listEntries(res.body, 'online') ?? []).map((e) => String(e.baseUrl)).sort();
}

describe('1.x compatibility mode: a mixed cluster with a 1.x-only server', () => {
  beforeAll(async () => {
    if (!existsSync(demoServer)) throw new Error(`${demoServer} is missing: run \`npm run build\` first`);
    storeDir = await mkdtemp(join(tmpdir(), 'clustershazbot-legacy-'));
    store = await startMasterListStore({ file: join(storeDir, 'master-list.json'), auth: storeAuth });
    const ports = await freePorts(4);
    urls = ports.map((p) => `http://127.0.0.1:${p}/`);
    const env = (i: number) => ({
      PATH: process.env.PATH,
      PORT: String(ports[i]),
      SHAZBOT_SECRET: secret,
      SHAZBOT_CONTROL_SECRET: controlSecret,
      SHAZBOT_BASE_URL: urls[i],
      SHAZBOT_MASTER_LIST: store!.url,
      SHAZBOT_MASTER_LIST_UPDATE: store!.url,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
      SHAZBOT_GOSSIP_INTERVAL: '1',
      SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '2',
      SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '2',
      SHAZBOT_LEGACY_AUTH: 'true',
      SHAZBOT_LOG_LEVEL: 'warn',
    });
    // The 1.x server starts first and announces itself in the master list.
    handles.push(spawnNode('v1', v1Server, [], { cwd: root, env: env(0) }));
    for (let i = 1; i < 4; i++) handles.push(spawnNode(`v2-${i}`, demoServer, [], { cwd: root, env: env(i) }));
  }, 30_000);

  afterAll(async () => {
    await killAll(handles);
    if (failed || process.env.MULTIPROCESS_VERBOSE === '1') console.log(dumpOutput(handles));
    await store?.close();
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
  }, 30_000);

  it('converges: every server, the 1.x one included, lists all four online', async () => {
    try {
      const all = [...urls].sort();
      const t0 = Date.now();
      await pollUntil(async (report) => {
        const views = await Promise.all([
          onlineOf(urls[0]!, controlSecret), // 1.x: the raw control secret
          ...urls.slice(1).map((u) => onlineOf(u, `Bearer ${controlSecret}`)),
        ]);
        report(views);
        return views.every((v) => JSON.stringify(v) === JSON.stringify(all)) ? true : undefined;
      }, { timeoutMs: 30_000, description: 'all four servers to list all four online' });
      console.log(`[legacy-auth] 1 x 1.x + 3 x 2.x (SHAZBOT_LEGACY_AUTH=true) converged in ${Date.now() - t0} ms`);
      // 2.x servers in legacy mode take the raw control secret as 1.x tools send it.
      const res = await requestJson(`${urls[1]}clustershazbot/list`, { headers: { authorization: controlSecret } });
      expect(res.status).toBe(200);
      expect(listEntries(res.body, 'offline')).toEqual([]);
      // And they said, at start, that the mode is on.
      for (const h of handles.slice(1)) expect(h.output()).toContain('SHAZBOT_LEGACY_AUTH is on');
      // The gossip secret never appears in any output.
      for (const h of handles) expect(h.output()).not.toContain(secret);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 45_000);
});
