/**
 * Chaos group "master-list store": real processes on loopback whose master
 * list is reached through a fault-injecting proxy (chaos-store.ts). One row
 * per fault: while it lasts, servers start (three at the outset with the
 * store down, one new server for each later fault) and the running ones
 * keep announcing; once it is over, everyone must join and the store must
 * list everyone, and no PUT may ever have lost a server.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULTS } from '../../src/config.js';
import {
  defineServer, isHealthy, listsOnline, loopbackPlace, manage, newSecrets, startServer, untilViews, type ChaosServer,
} from './chaos-fleet.js';
import { noteIn, type RecordRow, type RowSpec, type ScenarioGroup, type Scope } from './chaos-report.js';
import { onlineInStore, startFaultyStore, startStore, type FaultyStore, type StoreFault } from './chaos-store.js';
import { freePorts, pollUntil } from './processes.js';
import type { MasterListStore } from '../../src/master-list/store.js';

/** Faults of the group, in the order they run; `down` can only come first (the store is down at start). */
type Fault = Exclude<StoreFault, 'ok'>;

/** Servers started with the store down. */
const INITIAL = 3;
/** Node needs this long to load before it can start the cluster, ms. */
const PROCESS_START_MS = 2_000;
/** Each server must answer health 200 within this from its spawn: a start waits for at most one master-list read and one exchange. */
const START_BOUND_MS = DEFAULTS.masterListTimeoutMs + DEFAULTS.exchangeTimeoutMs + PROCESS_START_MS;
/** After the store recovers, everyone must be joined and listed within this. */
const JOIN_MS = 30_000;
/** How long each fault lasts, ms (at least two announces of each running server, 2–4 s apart). */
const FAULT_MS: Record<Fault, number> = { down: 0, error500: 8_000, corrupt: 8_000, slow: 12_000 };

const SPECS: Record<Fault, RowSpec> = {
  down: {
    scenario: 'master-list store down at start',
    happened: `store port closed while ${INITIAL} servers start; opened once they run`,
    mustHold: `each answers health 200 within ${START_BOUND_MS / 1000} s; once the store is up, all join and the store lists all; no PUT loses a server`,
  },
  error500: {
    scenario: 'master-list store answers 500',
    happened: `every request answered 500 for ${FAULT_MS.error500 / 1000} s while a new server starts and the others announce`,
    mustHold: `the new one answers health 200 within ${START_BOUND_MS / 1000} s; after recovery all join and the store lists all; no PUT loses a server`,
  },
  corrupt: {
    scenario: 'master-list store serves corrupt JSON',
    happened: `GET answers the first half of the list for ${FAULT_MS.corrupt / 1000} s while a new server starts and the others announce`,
    mustHold: 'as above, and no PUT is based on a corrupt list (none replaces the stored list)',
  },
  slow: {
    scenario: 'master-list store 10 s slow',
    happened: `every answer delayed 10 s for ${FAULT_MS.slow / 1000} s while a new server starts and the others announce`,
    mustHold: `the new one answers health 200 within ${START_BOUND_MS / 1000} s (its read times out after ${DEFAULTS.masterListTimeoutMs / 1000} s); after recovery all join; no PUT loses a server`,
  },
};

/** Options of {@link storeGroup}. */
export interface StoreGroupOptions {
  /** The faults, in order; with `down`, it must be first. */
  readonly faults: readonly Fault[];
}

/** The group: one row per fault. */
export function storeGroup({ faults }: StoreGroupOptions): ScenarioGroup {
  if (faults.indexOf('down') > 0) throw new Error('the store can only be down at start');
  const perFault = (f: Fault): number => FAULT_MS[f] + START_BOUND_MS + JOIN_MS + 5_000;
  return {
    name: 'store',
    deadlineMs: 30_000 + faults.reduce((sum, f) => sum + perFault(f), 0),
    rows: faults.map((f) => SPECS[f]),
    async run(scope: Scope, record: RecordRow) {
      const secrets = newSecrets();
      const real = await startStore(scope, secrets.storeAuth);
      const proxy = await startFaultyStore(scope, real, faults[0] === 'down' ? 'down' : 'ok');
      const joiners = faults.filter((f) => f !== 'down').length;
      const ports = await freePorts(INITIAL + joiners);
      const servers = ports.map((port, i) => defineServer(`s${i + 1}`, loopbackPlace(port), secrets, proxy.url, i === 0));
      manage(scope, servers);
      const phase = { proxy, real, servers, started: 0 };

      if (faults[0] !== 'down') {
        const initial = servers.slice(0, INITIAL);
        initial.forEach(startServer);
        phase.started = INITIAL;
        await untilViews(initial, listsOnline(initial.map((s) => s.baseUrl)), 'the initial servers to join', JOIN_MS);
      }
      for (const [row, fault] of faults.entries()) {
        const { measured, problems } = await runFault(phase, fault);
        record(row, measured, problems);
      }
    },
  };
}

/** What the phases share. */
interface Phase {
  readonly proxy: FaultyStore;
  readonly real: MasterListStore;
  readonly servers: readonly ChaosServer[];
  /** How many of `servers` have been started. */
  started: number;
}

/** Runs one fault: start server(s) during it, end it, check the join and the store. */
async function runFault(phase: Phase, fault: Fault): Promise<{ measured: string; problems: string[] }> {
  const problems: string[] = [];
  const { proxy, real } = phase;
  const violationsBefore = proxy.violations.length;
  const faultedBefore = proxy.faulted[fault];
  const faultStart = Date.now();
  await proxy.setFault(fault);
  const newcomers = phase.servers.slice(phase.started, fault === 'down' ? INITIAL : phase.started + 1);
  phase.started += newcomers.length;
  const startMs = Math.max(...await Promise.all(newcomers.map((s) => timeToHealthy(s))));
  if (!(startMs <= START_BOUND_MS)) problems.push(`a server took ${startMs} ms to answer health 200 (bound ${START_BOUND_MS} ms)`);
  await delay(Math.max(0, faultStart + FAULT_MS[fault] - Date.now()));
  await proxy.setFault('ok');
  const recoveredAt = Date.now();

  const running = phase.servers.slice(0, phase.started);
  const urls = running.map((s) => s.baseUrl);
  const joinMs = await untilViews(running, listsOnline(urls), `all ${running.length} to list each other online`, JOIN_MS)
    .then(() => pollUntil(async () => {
      const listed = await onlineInStore(real);
      return urls.every((u) => listed.has(u)) ? Date.now() - recoveredAt : undefined;
    }, { timeoutMs: Math.max(1_000, recoveredAt + JOIN_MS - Date.now()), description: `the store to list all ${running.length} online` }))
    .catch(noteIn(problems));
  const faulted = fault === 'down' ? undefined : proxy.faulted[fault] - faultedBefore;
  if (faulted === 0) problems.push('no request met the fault: nothing was tested');
  const violations = proxy.violations.slice(violationsBefore);
  problems.push(...violations);
  return {
    measured: `start ${startMs} ms (bound ${START_BOUND_MS} ms)` +
      (faulted === undefined ? '' : `; ${faulted} requests met the fault`) +
      `; joined and all listed in the store ${joinMs ?? '?'} ms after recovery (limit ${JOIN_MS} ms); ` +
      `${violations.length} lossy PUTs of ${proxy.writes} writes so far`,
    problems,
  };
}

/** Spawns `server` and resolves with the ms until its health endpoint answers 200 (Infinity if never within the bound + 10 s). */
async function timeToHealthy(server: ChaosServer): Promise<number> {
  const spawnedAt = Date.now();
  startServer(server);
  return await pollUntil(async () => ((await isHealthy(server)) ? Date.now() - spawnedAt : undefined), {
    timeoutMs: START_BOUND_MS + 10_000, intervalMs: 50, description: `${server.name} to answer health 200`,
  }).catch(() => Number.POSITIVE_INFINITY);
}
