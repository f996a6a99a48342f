/**
 * Key rotation through a running multi-process cluster (issue 5): five built
 * demo servers (dist/esm/demo/demo-server.js) on loopback with an embedded
 * master-list store roll a new gossip key and a new control key in three
 * rolling restarts, one process at a time (SIGTERM, restart on the same port
 * with the new SHAZBOT_SECRET / SHAZBOT_CONTROL_SECRET, wait until it is
 * healthy and everyone lists everyone online):
 *
 * 1. add the new key (`old,new`), 2. make it the signer (`new,old`),
 * 3. remove the old one (`new`).
 *
 * Not one legitimate message may be rejected: the `signatureRejections`
 * counter of every incarnation (read before its SIGTERM and while it shuts
 * down, and by a background watch) sums to 0; the watch's control requests,
 * each with a key every possible answerer accepts, never get 401; nobody is
 * ever listed or logged offline as `failed`. Negative control: after step 3
 * the old control key gets 401 and counts once per request, and a server
 * restarted with only the old keys has its gossip rejected and counted.
 *
 * Phases share the cluster and run in order; once one fails, later ones
 * fail at once. A failure prints every child's output (MULTIPROCESS_VERBOSE=1:
 * always). Requires `npm run build` first (the suite's `npm test` does it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { byName, listEntries, runningOf, StepSequence } from './helpers/fleet.js';
import { dumpOutput, freePorts, killAll, pollUntil, waitForExit, type ChildHandle, DEMO_SERVER, REPO_ROOT } from './helpers/processes.js';
import {
  bearer, CounterTally, getRoute, readCounters, startIncarnation, watchFleet,
  type Keys, type RotatingServer, type WatchReport,
} from './helpers/rotation-fleet.js';

const root = REPO_ROOT;
const demoServer = DEMO_SERVER;

const SIZE = 5;
/** Deadlines. Generous: five Node processes share two cores with the rest of the suite. */
const CONVERGE_MS = 20_000;
const HEALTHY_MS = 10_000;
const EXIT_MS = 10_000;

const key = (): string => randomBytes(32).toString('base64url');
const gossipOld = key();
const gossipNew = key();
const controlOld = key();
const controlNew = key();
const storeAuth = `Bearer ${key()}`;
/** How keys are named in the output: never the key itself. */
const LABELS = new Map([[gossipOld, 'gossip-old'], [gossipNew, 'gossip-new'], [controlOld, 'control-old'], [controlNew, 'control-new']]);
const label = (k: string): string => LABELS.get(k) ?? 'unknown key';
const labels = (keys: Keys): string => `gossip ${keys.gossip.map(label).join(',')} / control ${keys.control.map(label).join(',')}`;

const INITIAL: Keys = { gossip: [gossipOld], control: [controlOld] };
const STEPS: readonly { readonly name: string; readonly keys: Keys }[] = [
  { name: 'add the new keys', keys: { gossip: [gossipOld, gossipNew], control: [controlOld, controlNew] } },
  { name: 'make the new keys the signers', keys: { gossip: [gossipNew, gossipOld], control: [controlNew, controlOld] } },
  { name: 'remove the old keys', keys: { gossip: [gossipNew], control: [controlNew] } },
];

/** The five servers, once beforeAll has given each a free port. */
let servers: RotatingServer[] = [];
/** Every incarnation ever spawned, for cleanup and the output dump. */
const handles: ChildHandle[] = [];
const tally = new CounterTally();
/** Control keys every incarnation that may answer right now accepts: those of the step under way, before and after. */
let validKeys: readonly string[] = INITIAL.control;
let watch: { stop(): Promise<WatchReport> } | undefined;
let store: MasterListStore | undefined;
let storeDir: string | undefined;
/** Set by the first failing phase: later phases fail at once. */
const phases = new StepSequence();
const phase = phases.step.bind(phases);

function envOf(s: RotatingServer, port: number): NodeJS.ProcessEnv {
  if (store === undefined) throw new Error('the master-list store did not start');
  return {
    PATH: process.env.PATH,
    PORT: String(port),
    SHAZBOT_BASE_URL: s.baseUrl,
    SHAZBOT_MASTER_LIST: store.url,
    SHAZBOT_MASTER_LIST_UPDATE: store.url,
    SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
    SHAZBOT_GOSSIP_INTERVAL: '1',
    SHAZBOT_PROBE_INTERVAL: '1',
    SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '2',
    SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '2',
    SHAZBOT_MONITOR: s.name === 's1' ? 'true' : 'false',
    // Info level logs every offline verdict, which the checks read.
    SHAZBOT_LOG_LEVEL: 'info',
  };
}

function start(s: RotatingServer, keys: Keys): void {
  handles.push(startIncarnation(s, keys, demoServer, root, envOf(s, Number(new URL(s.baseUrl).port))));
}

/** Listed online, neither suspect nor offline. */
function healthyIn(body: unknown, url: string): boolean {
  const online = listEntries(body, 'online') ?? [];
  const offline = listEntries(body, 'offline') ?? [];
  return online.some((e) => e.baseUrl === url && e.suspect !== true) && !offline.some((e) => e.baseUrl === url);
}

/** Polls until every running server lists all five healthy (asking each with its own control key). */
async function untilConverged(description: string): Promise<void> {
  await pollUntil(async (report) => {
    const views = await Promise.all(runningOf(servers).map(async (s) => {
      const r = await getRoute(s, 'list', bearer(s.keys.control[0] as string));
      return { name: s.name, status: r.status, missing: servers.filter((x) => !healthyIn(r.body, x.baseUrl)).map((x) => x.name) };
    }));
    report(views);
    return views.every((v) => v.status === 200 && v.missing.length === 0) ? true : undefined;
  }, { timeoutMs: CONVERGE_MS, description });
}

/** Polls `GET health` of `s` until 200. */
async function untilHealthy(s: RotatingServer): Promise<void> {
  await pollUntil(async (report) => {
    const r = await getRoute(s, 'health');
    report(r);
    return r.status === 200 ? true : undefined;
  }, { timeoutMs: HEALTHY_MS, description: `${s.name}#${s.incarnation} to answer health 200` });
}

/**
 * Reads the counters of `s`, sends SIGTERM, keeps reading them while it
 * shuts down (until it stops answering), and waits for a clean exit.
 */
async function stopGracefully(s: RotatingServer): Promise<void> {
  const handle = s.handle;
  if (handle === undefined) throw new Error(`${s.name} was not started`);
  await readCounters(s, tally);
  handle.process.kill('SIGTERM');
  while (handle.running) {
    try {
      await readCounters(s, tally, 500);
    } catch {
      break;
    }
  }
  expect(await waitForExit(handle, EXIT_MS), `${handle.name} exits cleanly after SIGTERM`).toEqual({ code: 0, signal: null });
}

/** Restarts `s` with `keys`, waits until the cluster has it back, and logs the restart. */
async function rollOne(s: RotatingServer, keys: Keys, stepNo: number): Promise<void> {
  const stoppedIncarnation = `${s.name}#${s.incarnation}`;
  await stopGracefully(s);
  const at = Date.now();
  start(s, keys);
  await untilHealthy(s);
  await untilConverged(`everyone to list everyone online after restarting ${s.name}#${s.incarnation}`);
  const c = tally.get(stoppedIncarnation);
  console.log(`[key-rotation] step ${stepNo} ${s.name}: ${stoppedIncarnation} ended with ${c?.signatureRejections} rejections ` +
    `(${c?.exchanges} exchanges, ${c?.exchangeFailures} failed); back in ${Date.now() - at} ms; ` +
    `rejections so far ${tally.sum().signatureRejections}`);
}

/** Every offline verdict any incarnation logged. */
function loggedFailures(): string[] {
  return handles.flatMap((h) => h.output().split('\n').filter((l) => l.includes('suspicion timed out: marked offline')));
}


describe('rolling a new gossip and control key through five real processes', () => {
  beforeAll(async () => {
    if (!existsSync(demoServer)) throw new Error(`${demoServer} is missing: run \`npm run build\` first`);
    storeDir = await mkdtemp(join(tmpdir(), 'clustershazbot-key-rotation-'));
    store = await startMasterListStore({ file: join(storeDir, 'master-list.json'), auth: storeAuth });
    const ports = await freePorts(SIZE);
    servers = ports.map((port, i) => ({ name: `s${i + 1}`, baseUrl: `http://127.0.0.1:${port}/`, incarnation: 0, keys: INITIAL }));
  }, 30_000);

  afterAll(async () => {
    // Cleanup goes on whatever the watch saw.
    await watch?.stop().catch(() => undefined);
    await killAll(handles);
    if (phases.brokenBy !== undefined || process.env.MULTIPROCESS_VERBOSE === '1') console.log(dumpOutput(handles));
    await store?.close();
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
  }, 30_000);

  phase('five servers with the old keys converge', CONVERGE_MS + 10_000, async () => {
    const at = Date.now();
    for (const s of servers) start(s, INITIAL);
    await untilConverged('all five servers to list all five online');
    console.log(`[key-rotation] ${SIZE} processes converged in ${Date.now() - at} ms with ${labels(INITIAL)}`);
    watch = watchFleet(servers, () => validKeys, tally, label);
  });

  STEPS.forEach((step, i) => {
    phase(`step ${i + 1}: ${step.name} (${labels(step.keys)}), one process at a time`, 40_000, async () => {
      const before = servers[0]?.keys ?? INITIAL;
      validKeys = before.control.filter((k) => step.keys.control.includes(k));
      const at = Date.now();
      for (const s of servers) await rollOne(s, step.keys, i + 1);
      console.log(`[key-rotation] step ${i + 1} (${step.name}) done in ${Date.now() - at} ms; rejections so far ${tally.sum().signatureRejections}`);
    });
  });

  phase('not one legitimate message was rejected during the roll', 20_000, async () => {
    for (const s of servers) await readCounters(s, tally);
    const seen = await watch?.stop();
    watch = undefined;
    if (seen === undefined) throw new Error('the background watch never ran');
    const total = tally.sum();
    const perIncarnation = tally.entries().map(([name, c]) => `${name}=${c.signatureRejections}`).join(' ');
    console.log(`[key-rotation] summary: ${tally.entries().length} incarnations, ${total.exchanges} exchanges (${total.exchangeFailures} failed, ` +
      `as to a peer restarting), ${total.signatureRejections} signature rejections; control requests during the roll: ` +
      `${Object.values(seen.answered).reduce((a, b) => a + b, 0)} answered 200, ${seen.refused.length} refused 401, ` +
      `${seen.unanswered} unanswered (restarting); offline as failed: ${seen.failed.length + loggedFailures().length}`);
    console.log(`[key-rotation] rejections per incarnation: ${perIncarnation}`);

    // Every incarnation was read: five initial ones and five per step.
    expect(tally.entries().length).toBe(SIZE * (STEPS.length + 1));
    expect(total.signatureRejections, `signature rejections per incarnation: ${perIncarnation}`).toBe(0);
    expect(seen.refused, 'control requests refused with a key the target accepts').toEqual([]);
    expect(seen.failed, 'offline entries with reason failed seen during the roll').toEqual([]);
    expect(loggedFailures(), 'offline verdicts logged by any incarnation').toEqual([]);
    for (const s of servers) expect(seen.answered[s.name], `${s.name} answered the watch`).toBeGreaterThan(0);
  });

  phase('negative control: the removed keys are refused and counted', CONVERGE_MS + 20_000, async () => {
    // The old control key: one 401 per request, each counted once.
    for (const s of servers) {
      const r = await getRoute(s, 'list', bearer(controlOld));
      expect(r.status, `${s.name}: list with control-old`).toBe(401);
      expect((r.body as { code?: unknown }).code).toBe('UNAUTHORIZED');
      expect((await readCounters(s, tally)).signatureRejections, `${s.name} counted the control-old request`).toBe(1);
    }
    // A server restarted with only the old keys: its gossip is refused and counted by the others.
    const rogue = byName(servers, 's5');
    const others = servers.filter((s) => s !== rogue);
    await stopGracefully(rogue);
    start(rogue, INITIAL);
    await untilHealthy(rogue);
    const refused = await pollUntil(async (report) => {
      const counts = await Promise.all(others.map(async (s) => (await readCounters(s, tally)).signatureRejections - 1));
      report({ rejectionsSinceRogue: counts });
      const sum = counts.reduce((a, b) => a + b, 0);
      return sum > 0 ? sum : undefined;
    }, { timeoutMs: CONVERGE_MS, description: 'the others to count the old-key server\'s gossip as signature rejections' });
    const own = await readCounters(rogue, tally);
    console.log(`[key-rotation] negative control: ${rogue.name} with ${labels(INITIAL)} had ${refused} requests rejected by the others; ` +
      `its own exchanges ${own.exchanges}, failed ${own.exchangeFailures}`);
    expect(own.exchangeFailures, `${rogue.name}'s exchanges fail`).toBeGreaterThan(0);
    for (const s of others) {
      const r = await getRoute(s, 'list', bearer(controlNew));
      expect(r.status, `${s.name}: list with control-new`).toBe(200);
      expect(healthyIn(r.body, rogue.baseUrl), `${s.name} does not take the old-key server back`).toBe(false);
    }
    await stopGracefully(rogue);
  });
});
