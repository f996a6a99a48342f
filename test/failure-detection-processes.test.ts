/**
 * SWIM failure detection between real processes: five built demo servers
 * (dist/esm/demo/demo-server.js, node:http + the seed API) on loopback with
 * an embedded master-list store.
 *
 * 1. they converge, nobody suspected;
 * 2. one process is frozen with SIGSTOP for 1.5 s (below the 2.5 s minimum
 *    suspicion timeout) and resumed with SIGCONT: over a continuous
 *    observation window from the STOP until 10 s after the CONT, no server
 *    ever lists it offline (it may be suspected), and it ends up online and
 *    unsuspected everywhere;
 * 3. another process is SIGKILLed: every survivor lists it offline with
 *    reason 'failed'.
 *
 * Steps share the cluster and run in order; once one fails, later ones fail
 * at once. Every wait polls with a deadline; the only deliberate wait is the
 * pause itself. A failure prints every child's output (MULTIPROCESS_VERBOSE=1: always).
 * Requires `npm run build` first (the suite's `npm test` does it).
 */
import { byName, handlesOf, listEntries, runningOf, StepSequence, type FleetMember } from './helpers/fleet.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import {
  dumpOutput,
  freePorts,
  killAll,
  pollUntil,
  requestJson,
  spawnNode,
  waitForExit,
  type ChildHandle,
  DEMO_SERVER,
  REPO_ROOT,
} from './helpers/processes.js';

const root = REPO_ROOT;
const demoServer = DEMO_SERVER;

const SIZE = 5;
/** SHAZBOT_GOSSIP_INTERVAL of every server, in seconds. */
const GOSSIP_INTERVAL_S = 1;
/** How long the paused process stays frozen: below the minimum suspicion timeout (2.5 s with 5 servers and the defaults). */
const PAUSE_MS = 2_200;
/** The observation window goes on this long after the CONT. */
const AFTER_CONT_MS = 10_000;
/** After the CONT, every server must list the paused one online and unsuspected within this. */
const RECOVER_MS = 8_000;
/** Pause between two list requests of one observer. */
const OBSERVE_EVERY_MS = 100;
/** A live observer must answer at least this often, or the window has holes an offline flicker could hide in. */
const MAX_OBSERVATION_GAP_MS = 2_000;
/** Deadlines. Generous: five Node processes share two cores with the rest of the suite. */
const CONVERGE_MS = 30_000;
const SPREAD_MS = 15_000;
const FAILURE_DETECTION_MS = 20_000;

/** One demo server process. */
interface Server extends FleetMember {
  readonly name: string;
  port: number;
  baseUrl: string;
  handle?: ChildHandle;
}

/** What `GET <base>clustershazbot/list` reported, reduced to base URLs. */
interface ListView {
  readonly online: string[];
  /** The subset of `online` carrying `suspect: true`. */
  readonly suspect: string[];
  readonly offline: string[];
  /** Each offline server's `reason`, when the entry has one. */
  readonly reasons: Record<string, unknown>;
}

/** One list request made during the observation window. */
interface Observation {
  readonly observer: string;
  /** Wall-clock time the request was sent. */
  readonly at: number;
  /** The list, or the error text if the observer did not answer. */
  readonly view: ListView | string;
}

const servers: Server[] = Array.from({ length: SIZE }, (_, i) => ({ name: `s${i + 1}`, port: 0, baseUrl: '' }));

const server = (name: string): Server => byName(servers, name);
const handles = (): ChildHandle[] => handlesOf(servers);
const running = (): Server[] => runningOf(servers);
const entries = listEntries;



const secret = randomBytes(32).toString('base64url');
const controlSecret = randomBytes(24).toString('base64url');
const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
const bearer = { authorization: `Bearer ${controlSecret}` };

let store: MasterListStore | undefined;
let storeDir: string | undefined;
/** Set by the first failing step: later steps fail at once. */
const steps = new StepSequence();
const step = steps.step.bind(steps);




/** A server's list as its list endpoint shows it with the control bearer. */
async function listOf(s: Server, timeoutMs = 3_000): Promise<ListView> {
  const response = await requestJson(`${s.baseUrl}clustershazbot/list`, { headers: bearer, timeoutMs });
  if (response.status !== 200) throw new Error(`${s.name}: list answered ${response.status} ${JSON.stringify(response.body)}`);
  const online = entries(response.body, 'online');
  if (online === undefined) throw new Error(`${s.name}: list has no online array: ${JSON.stringify(response.body)}`);
  const offline = entries(response.body, 'offline') ?? [];
  return {
    online: online.map((e) => String(e.baseUrl)),
    suspect: online.filter((e) => e.suspect === true).map((e) => String(e.baseUrl)),
    offline: offline.map((e) => String(e.baseUrl)),
    reasons: Object.fromEntries(offline.map((e) => [String(e.baseUrl), e.reason])),
  };
}

/** Polls every server in `observers` until `holds` is true of each one's list; the timeout error carries each last view. */
async function untilEvery(
  observers: readonly Server[],
  holds: (view: ListView) => boolean,
  description: string,
  timeoutMs: number,
): Promise<void> {
  await pollUntil(
    async (report) => {
      const views = await Promise.all(
        observers.map(async (s) => [s.name, await listOf(s).catch((e: unknown) => String(e))] as const),
      );
      report(Object.fromEntries(views));
      return views.every(([, view]) => typeof view !== 'string' && holds(view)) ? true : undefined;
    },
    { timeoutMs, description },
  );
}

/** Listed online, not suspected, not offline. */
const isHealthy = (url: string) => (view: ListView): boolean =>
  view.online.includes(url) && !view.suspect.includes(url) && !view.offline.includes(url);
/** Listed offline (and not online) with `reason`. */
const isOffline = (url: string, reason: 'left' | 'admin' | 'failed') => (view: ListView): boolean =>
  view.offline.includes(url) && !view.online.includes(url) && view.reasons[url] === reason;

/**
 * Observes `observers` continuously: each one is asked for its list, then
 * again `OBSERVE_EVERY_MS` after the answer (or the timeout), independently
 * of the others, so a frozen observer does not slow the rest down. Runs
 * until `end()` (read before each request) is in the past.
 */
async function observe(observers: readonly Server[], end: () => number): Promise<Observation[]> {
  const observations: Observation[] = [];
  await Promise.all(observers.map(async (s) => {
    while (Date.now() < end()) {
      const at = Date.now();
      const view = await listOf(s, 1_000).catch((e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
      observations.push({ observer: s.name, at, view });
      await delay(OBSERVE_EVERY_MS);
    }
  }));
  return observations.sort((a, b) => a.at - b.at);
}

/** The parsed fields of each `[clustershazbot] <level>: <message> {...}` line of `text` whose message is `message`. */
function logFields(text: string, message: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const at = line.indexOf(`: ${message} {`);
    if (!line.includes('[clustershazbot]') || at < 0) continue;
    try {
      found.push(JSON.parse(line.slice(at + message.length + 3)) as Record<string, unknown>);
    } catch {
      found.push({ unparsed: line });
    }
  }
  return found;
}


describe('SWIM failure detection between five real processes', () => {
  beforeAll(async () => {
    if (!existsSync(demoServer)) throw new Error(`${demoServer} is missing: run \`npm run build\` first`);
    storeDir = await mkdtemp(join(tmpdir(), 'clustershazbot-failure-detection-'));
    store = await startMasterListStore({ file: join(storeDir, 'master-list.json'), auth: storeAuth });
    const ports = await freePorts(SIZE);
    servers.forEach((s, i) => {
      s.port = ports[i] as number;
      s.baseUrl = `http://127.0.0.1:${s.port}/`;
    });
  }, 30_000);

  afterAll(async () => {
    // SIGKILL also ends a process left stopped by a failed pause step.
    await killAll(handles());
    if (steps.brokenBy !== undefined || process.env.MULTIPROCESS_VERBOSE === '1') console.log(dumpOutput(handles()));
    await store?.close();
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
  }, 30_000);

  step('starts five demo servers that converge, nobody suspected', CONVERGE_MS + 10_000, async () => {
    if (store === undefined) throw new Error('the master-list store did not start');
    for (const [i, s] of servers.entries()) {
      s.handle = spawnNode(s.name, demoServer, [], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          PORT: String(s.port),
          SHAZBOT_SECRET: secret,
          SHAZBOT_CONTROL_SECRET: controlSecret,
          SHAZBOT_BASE_URL: s.baseUrl,
          SHAZBOT_MASTER_LIST: store.url,
          SHAZBOT_MASTER_LIST_UPDATE: store.url,
          SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
          SHAZBOT_GOSSIP_INTERVAL: String(GOSSIP_INTERVAL_S),
          SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '2',
          SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '2',
          SHAZBOT_MONITOR: i === 0 ? 'true' : 'false',
          // Info level: suspicions and offline verdicts are logged, which the pause step reads.
          SHAZBOT_LOG_LEVEL: 'info',
        },
      });
    }
    const spawnedAt = Date.now();
    const all = servers.map((s) => s.baseUrl);
    await untilEvery(servers, (view) => all.every((url) => isHealthy(url)(view)), 'all five servers to list all five online, none suspect', CONVERGE_MS);
    console.log(`[failure-detection] ${SIZE} processes converged in ${Date.now() - spawnedAt} ms (gossip interval ${GOSSIP_INTERVAL_S} s)`);
    for (const s of servers) expect(s.handle?.running, `${s.name} is running`).toBe(true);
  });

  step(`does not declare a process failed while it is paused for ${PAUSE_MS} ms`, PAUSE_MS + AFTER_CONT_MS + 15_000, async () => {
    const paused = server('s3');
    const handle = paused.handle;
    if (handle === undefined) throw new Error(`${paused.name} was not started`);
    const url = paused.baseUrl;
    // Only what is logged from the STOP on counts.
    const logStart = new Map(servers.map((s) => [s.name, s.handle?.output().length ?? 0]));

    let windowEnd = Number.POSITIVE_INFINITY;
    let stoppedAt = 0;
    let contAt = 0;
    let watching: Promise<Observation[]> | undefined;
    try {
      stoppedAt = Date.now();
      expect(handle.process.kill('SIGSTOP'), 'SIGSTOP delivered').toBe(true);
      watching = observe(servers, () => windowEnd);
      // The one deliberate wait: the pause is the scenario.
      await delay(PAUSE_MS);
    } finally {
      // Resume even if something above threw, so the cluster is not left with a frozen member.
      handle.process.kill('SIGCONT');
      contAt = Date.now();
      windowEnd = contAt + AFTER_CONT_MS;
    }
    const observations = await watching;

    // Sampling-independent evidence: each verdict is logged by the server that reached it.
    const logsSinceStop = servers.map((s) => ({ name: s.name, text: s.handle?.output().slice(logStart.get(s.name) ?? 0) ?? '' }));
    const offlineVerdicts = logsSinceStop.flatMap(({ name, text }) =>
      logFields(text, 'suspicion timed out: marked offline').map((fields) => ({ by: name, ...fields })));
    const suspicionsRaised = logsSinceStop.flatMap(({ name, text }) =>
      logFields(text, 'probe and indirect probes failed: suspect').filter((f) => f.baseUrl === url).map(() => name));

    const answered = observations.filter((o): o is Observation & { view: ListView } => typeof o.view !== 'string');
    const listedOffline = answered.filter((o) => o.view.offline.includes(url));
    const anyOffline = answered.filter((o) => o.view.offline.length > 0);
    const suspectedBy = [...new Set(answered.filter((o) => o.view.suspect.includes(url)).map((o) => o.observer))];
    const suspected = suspectedBy.length > 0 || suspicionsRaised.length > 0;

    // The window really was continuous for every observer that was not frozen.
    const gaps = servers.filter((s) => s !== paused).map((s) => {
      const times = answered.filter((o) => o.observer === s.name).map((o) => o.at);
      const edges = [stoppedAt, ...times, windowEnd];
      return { name: s.name, answers: times.length, maxGapMs: Math.max(...edges.slice(1).map((t, i) => t - (edges[i] as number))) };
    });

    // When each observer last saw the paused one as anything but healthy (or failed to answer after the CONT).
    const settledAt = servers.map((s) => {
      const own = observations.filter((o) => o.observer === s.name);
      const bad = own.filter((o) => typeof o.view === 'string' ? o.at >= contAt : !isHealthy(url)(o.view));
      const lastBad = bad.at(-1);
      const firstGoodAfter = lastBad === undefined ? own.find((o) => o.at >= contAt) : own.find((o) => o.at > lastBad.at);
      return { name: s.name, lastBadAt: lastBad?.at, settledAt: firstGoodAfter?.at };
    });
    const recoveredMs = Math.max(...settledAt.map((s) => (s.settledAt ?? Number.POSITIVE_INFINITY) - contAt), 0);

    console.log(`[failure-detection] paused ${paused.name} ${PAUSE_MS} ms: marked offline by ${listedOffline.length === 0 && offlineVerdicts.length === 0 ? 'nobody' : [...new Set([...listedOffline.map((o) => o.observer), ...offlineVerdicts.map((v) => v.by)])].join(', ')}; suspected: ${suspected ? 'yes' : 'no'}`);
    console.log(`[failure-detection] pause details: actual pause ${contAt - stoppedAt} ms; ${observations.length} observations (${answered.length} answered) over ${windowEnd - stoppedAt} ms; ` +
      `suspect in the list of [${suspectedBy.join(', ')}]; suspicion raised by [${suspicionsRaised.join(', ')}]; ` +
      `healthy everywhere ${Math.round(recoveredMs)} ms after CONT; largest observation gap ${Math.max(...gaps.map((g) => g.maxGapMs))} ms`);

    expect(listedOffline, `observations listing ${paused.name} offline`).toEqual([]);
    expect(offlineVerdicts, 'offline verdicts logged since the STOP').toEqual([]);
    expect(anyOffline, 'observations listing any server offline').toEqual([]);
    for (const g of gaps) {
      expect(g.answers, `${g.name} answered during the window`).toBeGreaterThan(0);
      expect(g.maxGapMs, `${g.name}: largest gap between answers`).toBeLessThan(MAX_OBSERVATION_GAP_MS);
    }
    for (const s of settledAt) {
      expect(s.settledAt, `${s.name} lists ${paused.name} online and unsuspected by the end of the window (last otherwise at ${s.lastBadAt})`).toBeDefined();
      expect((s.settledAt ?? 0) - contAt, `${s.name}: ms after CONT until ${paused.name} was healthy for good`).toBeLessThanOrEqual(RECOVER_MS);
    }
    expect(handle.running, `${paused.name} still runs`).toBe(true);
  });

  step('detects a process killed with SIGKILL on every survivor', FAILURE_DETECTION_MS + SPREAD_MS + 15_000, async () => {
    const victim = server('s5');
    const handle = victim.handle;
    if (handle === undefined) throw new Error(`${victim.name} was not started`);
    // Measured from a cluster that agrees the victim is up.
    await untilEvery(running(), isHealthy(victim.baseUrl), `every server to list ${victim.name} online before the kill`, SPREAD_MS);
    const killedAt = Date.now();
    handle.process.kill('SIGKILL');
    expect(await waitForExit(handle, 10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const survivors = running();
    expect(survivors.map((s) => s.name)).toEqual(['s1', 's2', 's3', 's4']);
    await untilEvery(survivors, isOffline(victim.baseUrl, 'failed'), `every survivor to list ${victim.name} offline (failed)`, FAILURE_DETECTION_MS);
    console.log(`[failure-detection] SIGKILLed ${victim.name} detected by all ${survivors.length} survivors in ${Date.now() - killedAt} ms`);
    // Nobody else was taken down along the way.
    for (const s of survivors) {
      const view = await listOf(s);
      for (const other of survivors) expect(isHealthy(other.baseUrl)(view), `${s.name} lists ${other.name} healthy`).toBe(true);
    }
  });
});
