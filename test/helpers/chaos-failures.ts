/**
 * Chaos group "failure detection": one fleet of real processes on loopback
 * sharing a real master-list store, first a process paused (SIGSTOP) for
 * less than the suspicion timeout, then a share of the processes crashed
 * (SIGKILL) and restarted.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULTS } from '../../src/config.js';
import { suspicionBoundsMs } from '../../src/swim/suspicion.js';
import {
  CONVERGE_MS, eventsOf, listsOffline, listsOnline, loopbackPlace, names, observe, startConvergedFleet, startServer, untilViews,
  type ChaosServer, type Observation, type View,
} from './chaos-fleet.js';
import { noteIn, type RecordRow, type ScenarioGroup, type Scope } from './chaos-report.js';
import { freePorts, waitForExit } from './processes.js';

/** Suspicion timing of every chaos server: the defaults (no SHAZBOT_PROBE_INTERVAL is set). */
const SUSPICION = {
  probeIntervalMs: DEFAULTS.probeIntervalMs,
  suspicionMult: DEFAULTS.suspicionMult,
  suspicionMaxMult: DEFAULTS.suspicionMaxMult,
  expectedConfirmations: DEFAULTS.expectedConfirmations,
};

/**
 * The detection bound of BENCHMARKS.md for one failure among `n` members:
 * three probe periods plus the minimum suspicion timeout, in ms.
 *
 * When `crashed` members fail together, that bound does not hold: a victim's
 * prober for a period is itself dead with probability about crashed / n, and
 * dead probers send no confirmations, so the suspicion timeout stays near its
 * maximum. The bound used then is three probe periods plus the maximum
 * suspicion timeout plus the last check (one indirect-probe timeout).
 */
export function detectionBoundMs(n: number, crashed = 1): number {
  const { minMs, maxMs } = suspicionBoundsMs(n, SUSPICION);
  if (crashed <= 1) return 3 * SUSPICION.probeIntervalMs + minMs;
  return 3 * SUSPICION.probeIntervalMs + maxMs + DEFAULTS.indirectProbeTimeoutMs;
}

/** How {@link detectionBoundMs} is made up, for the outcome table. */
function boundText(n: number, crashed: number): string {
  const { minMs, maxMs } = suspicionBoundsMs(n, SUSPICION);
  return crashed <= 1
    ? `3 × ${SUSPICION.probeIntervalMs} ms probe periods + ${minMs} ms minimum suspicion`
    : `3 × ${SUSPICION.probeIntervalMs} ms probe periods + ${maxMs} ms maximum suspicion + ${DEFAULTS.indirectProbeTimeoutMs} ms last check, for ${crashed} simultaneous failures`;
}

/** The restarted must have rejoined within this, ms. */
const REJOIN_MS = 30_000;
/** The pause lasts this share of the minimum suspicion timeout. */
const PAUSE_SHARE = 0.8;
/** Observation goes on this long after the CONT. */
const AFTER_CONT_MS = 10_000;
/** A live observer must answer at least this often, or an offline flicker could hide in the holes. */
const MAX_GAP_MS = 2_000;

/** Shape of the group. */
export interface FailureGroupOptions {
  /** Processes in the fleet. */
  readonly size: number;
  /** How many of them are crashed (the last ones). */
  readonly crash: number;
  /**
   * Whether detection above the bound fails the row. Without it, the
   * survivors must agree within three bounds and the time is only reported.
   * The bound is not a worst case: a crashed member is not probed in a period
   * whose prober is itself crashed or is skipping periods (Lifeguard
   * awareness stretches the probe interval of a prober whose helpers did not
   * answer), so its first suspicion can come periods late; a subset sharing
   * two cores with the rest of `npm test` must not depend on it.
   */
  readonly strictBound: boolean;
}

/** The group: row 0 is the pause, row 1 the crash and restart. */
export function failureGroup({ size, crash, strictBound }: FailureGroupOptions): ScenarioGroup {
  const minSuspicionMs = suspicionBoundsMs(size, SUSPICION).minMs;
  const pauseMs = Math.round(PAUSE_SHARE * minSuspicionMs);
  return {
    name: `failures-${size}`,
    deadlineMs: CONVERGE_MS + pauseMs + AFTER_CONT_MS + 3 * detectionBoundMs(size, crash) + 2 * REJOIN_MS + 30_000,
    rows: [
      {
        scenario: `pause one of ${size} (kill -STOP)`,
        happened: `SIGSTOP for ${pauseMs} ms (< ${minSuspicionMs} ms minimum suspicion timeout), then SIGCONT`,
        mustHold: 'nobody marks it offline (views every 100 ms, every server:down event); healthy everywhere afterwards',
      },
      {
        scenario: `crash ${crash} of ${size} (kill -9), restart them`,
        happened: `SIGKILL ${crash} process${crash === 1 ? '' : 'es'} at once; restart them on the same URLs once the survivors agree`,
        mustHold: `every survivor lists every crashed one offline within ${strictBound ? 'the detection bound' : 'three detection bounds (the bound is enforced by npm run chaos)'}, ` +
          `no survivor offline; the restarted rejoin within ${REJOIN_MS / 1000} s`,
      },
    ],
    async run(scope: Scope, record: RecordRow) {
      const servers = await startConvergedFleet(scope, (await freePorts(size)).map(loopbackPlace));
      await pauseOne(servers, servers[2] as ChaosServer, pauseMs, minSuspicionMs, record);
      await crashAndRestart(servers, crash, strictBound, record);
    },
  };
}

/** Pauses `paused`, watches everyone continuously, and records row 0. */
async function pauseOne(servers: readonly ChaosServer[], paused: ChaosServer, pauseMs: number, minSuspicionMs: number, record: RecordRow): Promise<void> {
  const url = paused.baseUrl;
  const problems: string[] = [];
  const stoppedAt = Date.now();
  let end = Number.POSITIVE_INFINITY;
  let contAt = 0;
  let watching: Promise<Observation[]> | undefined;
  try {
    paused.handle?.process.kill('SIGSTOP');
    watching = observe(servers, () => end);
    await delay(pauseMs); // the pause is the scenario
  } finally {
    paused.handle?.process.kill('SIGCONT');
    contAt = Date.now();
    end = contAt + AFTER_CONT_MS;
  }
  const observations = await watching;
  const answered = observations.filter((o): o is Observation & { view: View } => typeof o.view !== 'string');
  const listedOffline = answered.filter((o) => o.view.get(url) === 'offline');
  const downEvents = eventsOf(servers, 'server:down', stoppedAt, [url]);
  const suspectedBy = new Set([
    ...answered.filter((o) => o.view.get(url) === 'suspect').map((o) => o.observer),
    ...eventsOf(servers, 'server:suspect', stoppedAt, [url]).map((e) => e.by),
  ]);
  if (listedOffline.length > 0) problems.push(`listed offline by ${[...new Set(listedOffline.map((o) => o.observer))].join(', ')}`);
  if (downEvents.length > 0) problems.push(`server:down emitted by ${downEvents.map((e) => `${e.by} at +${e.at - stoppedAt} ms`).join(', ')}`);

  // Continuity of the watch, and when each server last saw the paused one unhealthy.
  let largestGap = 0;
  let healthyAfterMs = 0;
  for (const s of servers) {
    const own = observations.filter((o) => o.observer === s.name);
    if (s !== paused) {
      const times = [stoppedAt, ...own.filter((o) => typeof o.view !== 'string').map((o) => o.at), end];
      const gap = Math.max(...times.slice(1).map((t, i) => t - (times[i] as number)));
      largestGap = Math.max(largestGap, gap);
      if (gap > MAX_GAP_MS) problems.push(`${s.name} left a ${gap} ms hole in the watch`);
    }
    const lastBad = own.filter((o) => (typeof o.view === 'string' ? o.at >= contAt : o.view.get(url) !== 'online')).at(-1);
    const settled = own.find((o) => o.at > (lastBad?.at ?? contAt) && typeof o.view !== 'string');
    if (settled === undefined) problems.push(`${s.name} did not list ${paused.name} online by ${AFTER_CONT_MS} ms after SIGCONT`);
    else healthyAfterMs = Math.max(healthyAfterMs, settled.at - contAt);
  }
  if (paused.handle?.running !== true) problems.push(`${paused.name} is no longer running`);
  record(0, `paused ${contAt - stoppedAt} ms (min suspicion ${minSuspicionMs} ms); offline by nobody: ${listedOffline.length === 0 && downEvents.length === 0 ? 'yes' : 'NO'}; ` +
    `suspected by ${suspectedBy.size}/${servers.length - 1}; healthy everywhere ${healthyAfterMs} ms after CONT; ` +
    `${answered.length} views, largest gap ${largestGap} ms`, problems);
}

/** Crashes the last `count` servers, measures detection and rejoin, and records row 1. */
async function crashAndRestart(servers: readonly ChaosServer[], count: number, strictBound: boolean, record: RecordRow): Promise<void> {
  const problems: string[] = [];
  const all = servers.map((s) => s.baseUrl);
  const bound = detectionBoundMs(servers.length, count);
  const victims = servers.slice(-count);
  const survivors = servers.slice(0, -count);
  const victimUrls = victims.map((s) => s.baseUrl);
  await untilViews(servers, listsOnline(all), 'everyone healthy before the crash', CONVERGE_MS);

  const killedAt = Date.now();
  for (const v of victims) v.handle?.process.kill('SIGKILL');
  await Promise.all(victims.map((v) => (v.handle === undefined ? undefined : waitForExit(v.handle, 10_000))));
  const agreed = await untilViews(survivors, listsOffline(victimUrls), `survivors to list ${names(victims)} offline`, 3 * bound)
    .then(() => Date.now() - killedAt, noteIn(problems));
  // Sampling-free timing: when each survivor emitted server:down for each victim.
  let detectionMs = 0;
  for (const s of survivors) {
    for (const url of victimUrls) {
      const down = eventsOf([s], 'server:down', killedAt, [url])[0];
      if (down === undefined) problems.push(`${s.name} never emitted server:down for ${url}`);
      else detectionMs = Math.max(detectionMs, down.at - killedAt);
    }
  }
  if (strictBound && detectionMs > bound) problems.push(`detection took ${detectionMs} ms, above the ${bound} ms bound`);
  const falseDowns = eventsOf(survivors, 'server:down', killedAt, survivors.map((s) => s.baseUrl));
  if (falseDowns.length > 0) problems.push(`survivors declared down: ${falseDowns.map((e) => `${e.baseUrl} by ${e.by}`).join(', ')}`);

  const since = (e: { at: number } | undefined): string => (e === undefined ? '?' : `+${e.at - killedAt}`);
  const timeline = victims.map((v) => {
    const downs = eventsOf(survivors, 'server:down', killedAt, [v.baseUrl]);
    return `${v.name} suspect ${since(eventsOf(survivors, 'server:suspect', killedAt, [v.baseUrl])[0])}, down ${since(downs[0])}…${since(downs.at(-1))}`;
  });

  victims.forEach(startServer);
  const rejoinMs = await untilViews(servers, listsOnline(all), `all ${servers.length} to list all online after the restart`, REJOIN_MS)
    .catch(noteIn(problems));
  record(1, `detection ${detectionMs} ms (bound ${bound} ms = ${boundText(servers.length, count)}; all views agree after ${agreed ?? '?'} ms; ` +
    `ms after the kill: ${timeline.join('; ')}); rejoin ${rejoinMs ?? '?'} ms (limit ${REJOIN_MS} ms)`, problems);
}
