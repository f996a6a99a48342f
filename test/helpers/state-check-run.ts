/**
 * One run of `npm run check:state`: five instances of the state fixture in
 * network namespaces, the workload on all of them while the nemesis injects
 * faults, then the heal, the wait until every replica holds the same dump,
 * and the verdict. Always cleans up (processes, namespaces, temporary
 * files), also what a crashed run left behind (recognised by name).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULTS } from '../../src/config.js';
import { seededRandom } from '../../src/core/random.js';
import { startMasterListStore } from '../../src/master-list/store.js';
import { suspicionBoundsMs } from '../../src/swim/suspicion.js';
import { CONVERGE_MS, defineServer, listsOnline, manage, newSecrets, untilViews } from './chaos-fleet.js';
import type { Scope } from './chaos-report.js';
import { dumpOf, setSkew, signal, startStateServer, untilReady, type Notes, type StateServer } from './state-check-fleet.js';
import { checkPrerequisites, createStateNetwork, removeStaleNetworks } from './state-check-net.js';
import { FAULT_KINDS, runNemesis, type FaultKind, type NemesisEvent, type NemesisOptions } from './state-check-nemesis.js';
import { canonicalDump, judge, type Dump, type OpRecord, type Verdict } from './state-check-verdict.js';
import { startWorkload, withNotes, type WorkloadOptions } from './state-check-workload.js';

/** Instances in the cluster. */
const SIZE = 5;
/** Probe period of every instance, s (`SHAZBOT_PROBE_INTERVAL`): shorter than the default so a run fits more faults. */
const PROBE_INTERVAL_S = 1;
/** How long a pause lasts: three probe periods, the longest suspicion and the last check, so the paused instance is declared failed. */
const PAUSE_MS = (() => {
  const probeIntervalMs = PROBE_INTERVAL_S * 1000;
  const { maxMs } = suspicionBoundsMs(SIZE, { ...DEFAULTS, probeIntervalMs });
  return 3 * probeIntervalMs + maxMs + DEFAULTS.indirectProbeTimeoutMs;
})();
/**
 * Every instance must report ready within this, ms (at start, after a
 * restart, after the heal): past docs/state.md's 30-s fallback (ready
 * anyway when no peer answers the initial sync), so only a replica that
 * never becomes ready counts.
 */
const READY_MS = 40_000;
/** Prefix of the run's temporary directory, followed by the pid of the process that made it. */
const DIR_PREFIX = 'clustershazbot-state-check-';

/** What to run. */
export interface StateCheckOptions {
  readonly seed: number;
  /** Seconds of workload and faults. */
  readonly durationS: number;
  /** The test suite's size: fewer keys, shorter faults. */
  readonly short: boolean;
  /** Only these kinds of fault. @default all */
  readonly faults?: readonly FaultKind[];
}

/** The outcome: a Markdown report, one JSON object, and whether every count is 0. */
export interface StateCheckReport {
  readonly markdown: string;
  readonly json: Record<string, unknown>;
  readonly passed: boolean;
}

/** Deadline of the whole run beyond its workload, ms: start, last fault, heal and convergence. */
export function overheadMs(short: boolean): number {
  return (short ? 90 : 150) * 1000;
}

function settings(short: boolean): { workload: WorkloadOptions; nemesis: Omit<NemesisOptions, 'until'>; convergeMs: number } {
  return {
    workload: { keys: short ? 100 : 200, kvWriters: 2, counterWriters: 1, writeTimeoutMs: 2_000, thinkMs: 5 },
    nemesis: {
      maxEvents: 100,
      gapMs: short ? [500, 1_200] : [1_500, 3_000],
      holdMs: short ? [2_000, 3_500] : [3_000, 6_000],
      downMs: short ? [300, 1_000] : [1_000, 3_000],
      pauseMs: PAUSE_MS,
      skewMs: [2_000, 5_000],
      readyMs: READY_MS,
    },
    convergeMs: short ? 30_000 : 60_000,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temporary directories of runs whose process is gone. */
async function removeStaleDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const pid = Number(new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** Runs `body` with a scope whose cleanups run at the end, however it ends; rejects at `deadlineMs`. */
async function withScope<T>(deadlineMs: number, body: (scope: Scope, aborted: () => boolean) => Promise<T>): Promise<T> {
  const cleanups: (() => unknown)[] = [];
  const scope: Scope = { defer: (c) => cleanups.push(c), diagnostics: () => undefined };
  let aborted = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run's deadline of ${Math.round(deadlineMs / 1000)} s passed`)), deadlineMs);
  });
  const running = body(scope, () => aborted);
  try {
    return await Promise.race([running, deadline]);
  } finally {
    aborted = true;
    clearTimeout(timer);
    running.catch(() => undefined); // abandoned at the deadline: its later errors are expected
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        console.error(`[check:state] cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

/** Asks every server for its dump at once. */
async function dumpAll(servers: readonly StateServer[]): Promise<Map<string, Dump | string>> {
  const dumps = await Promise.all(servers.map(async (s) => [s.name, await dumpOf(s).catch((e: unknown) => (e instanceof Error ? e.message : String(e)))] as const));
  return new Map(dumps);
}

/** Runs the check; resolves with its report (rejects only if the run itself could not happen). */
export async function runStateCheck(options: StateCheckOptions): Promise<StateCheckReport> {
  const { workload: workloadOptions, nemesis: nemesisOptions, convergeMs } = settings(options.short);
  const durationMs = options.durationS * 1000;
  await checkPrerequisites();
  await removeStaleNetworks();
  await removeStaleDirs();

  return await withScope(durationMs + overheadMs(options.short), async (scope, aborted) => {
    const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    scope.defer(() => rm(dir, { recursive: true, force: true }));
    const network = await createStateNetwork(SIZE);
    scope.defer(() => network.destroy());
    const secrets = newSecrets();
    const store = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: secrets.storeAuth, host: network.storeHost });
    scope.defer(() => store.close());

    const servers: StateServer[] = await Promise.all(network.places.map(async (place, i) => {
      const base = defineServer(`s${i + 1}`, place, secrets, store.url);
      const stateDir = join(dir, base.name);
      await mkdir(stateDir, { recursive: true });
      return { ...base, stateDir, crashes: [], env: { ...base.env, STATE_DIR: stateDir, SHAZBOT_PROBE_INTERVAL: String(PROBE_INTERVAL_S) } };
    }));
    manage(scope, servers);
    const notes: Notes = new Map();
    const log = (line: string): void => console.error(`[check:state] ${line}`);
    const problems: string[] = [];
    const outputs = (): string => servers.map((s) => `----- output of ${s.name} -----\n${s.handle?.output() ?? ''}`).join('');

    servers.forEach((s) => startStateServer(s, notes));
    try {
      await untilReady(servers, READY_MS);
      await untilViews(servers, listsOnline(servers.map((s) => s.baseUrl)), `all ${SIZE} to list all online`, CONVERGE_MS);
    } catch (e) {
      throw new Error(`the cluster did not start: ${e instanceof Error ? e.message : String(e)}\n${outputs()}`);
    }
    log(`${SIZE} instances ready; seed ${options.seed}; writes and faults for ${options.durationS} s`);

    const startedAt = Date.now();
    const workload = startWorkload(servers, options.seed, workloadOptions);
    const events = await runNemesis({ servers, network, notes, aborted }, seededRandom(options.seed), {
      ...nemesisOptions, until: startedAt + durationMs, ...(options.faults === undefined ? {} : { kinds: options.faults }),
    });
    while (Date.now() < startedAt + durationMs && !aborted()) await delay(100);
    await workload.stop();
    const writesMs = Date.now() - startedAt;

    // Whatever the last fault left (nothing, normally): heal it all.
    await network.heal();
    for (const s of servers) {
      signal(s, 'SIGCONT');
      if (s.handle?.running !== true) startStateServer(s, notes);
      else await setSkew(s, 0).catch((e: unknown) => problems.push(`resetting the clock of ${s.name}: ${String(e)}`));
    }
    const healedAt = Date.now();
    log(`writes stopped after ${writesMs} ms, ${events.length} faults; healed, waiting for identical dumps`);

    await untilReady(servers, READY_MS).catch((e: unknown) => problems.push(`not all ready after the heal: ${e instanceof Error ? e.message : String(e)}`));
    let dumps = await dumpAll(servers);
    let convergedMs: number | undefined;
    const deadline = healedAt + convergeMs;
    for (;;) {
      const forms = new Set([...dumps.values()].map((d) => (typeof d === 'string' ? `error: ${d}` : canonicalDump(d))));
      if (forms.size === 1 && typeof [...dumps.values()][0] !== 'string') {
        convergedMs = Date.now() - healedAt;
        break;
      }
      if (Date.now() >= deadline || aborted()) break;
      await delay(100);
      dumps = await dumpAll(servers);
    }

    const history = withNotes(workload.history, notes);
    const verdict = judge(history, dumps);
    const crashes = servers.flatMap((s) => s.crashes.map((c) => `${s.name} ${c}`));
    const report = buildReport(options, { history, events, verdict, writesMs, convergedMs, problems, crashes, startedAt, keys: workloadOptions.keys });
    // STATE_CHECK_KEEP=1 keeps the history and the servers' output of a passing run too.
    if (!report.passed || process.env['STATE_CHECK_KEEP'] === '1') {
      const file = join(tmpdir(), `clustershazbot-state-history-${options.seed}-${process.pid}.json`);
      await writeFile(file, JSON.stringify({ options, events, dumps: Object.fromEntries(dumps), history }, null, 1));
      await writeFile(`${file.slice(0, -'.json'.length)}.log`, outputs());
      return withFiles(report, file);
    }
    return report;
  });
}

/** Adds where the history and the servers' output were saved. */
function withFiles(report: StateCheckReport, file: string): StateCheckReport {
  const log = `${file.slice(0, -'.json'.length)}.log`;
  return {
    ...report,
    markdown: `${report.markdown}\n\nHistory, faults and final dumps: ${file}\nServers' output: ${log}`,
    json: { ...report.json, history_file: file, output_file: log },
  };
}

interface RunFacts {
  readonly history: readonly OpRecord[];
  readonly events: readonly NemesisEvent[];
  readonly verdict: Verdict;
  readonly writesMs: number;
  readonly convergedMs: number | undefined;
  readonly problems: readonly string[];
  /** Exits of instances that nobody caused. */
  readonly crashes: readonly string[];
  readonly startedAt: number;
  readonly keys: number;
}

function buildReport(options: StateCheckOptions, f: RunFacts): StateCheckReport {
  const { verdict: v } = f;
  const ops: Record<string, Record<string, number>> = {};
  for (const op of f.history) {
    const row = (ops[op.op] ??= { acked: 0, failed: 0, indeterminate: 0 });
    row[op.outcome] = (row[op.outcome] ?? 0) + 1;
  }
  const perKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, f.events.filter((e) => e.kind === k).length]));
  // Latency of acknowledged majority writes (map and counter), ms: all of
  // them, and those that overlapped no fault (nor the 2 s after its heal).
  const calm = (op: OpRecord): boolean => f.events.every((e) => op.end < e.at || op.start > (e.healedAt ?? Infinity) + 2_000);
  const latencyOf = (ops: readonly OpRecord[]): { p50: number | null; p99: number | null; max: number | null } => {
    const ms = ops.filter((op) => op.outcome === 'acked').map((op) => op.end - op.start).sort((a, b) => a - b);
    const at = (p: number): number | null => (ms.length === 0 ? null : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? null);
    return { p50: at(0.5), p99: at(0.99), max: ms.at(-1) ?? null };
  };
  const latency = latencyOf(f.history);
  const calmLatency = latencyOf(f.history.filter(calm));
  const notReady = f.events.filter((e) => e.problem?.startsWith('not ready') === true).length + f.problems.filter((p) => p.startsWith('not all ready')).length;
  const nemesisProblems = f.events.filter((e) => e.problem !== undefined && !e.problem.startsWith('not ready')).length +
    f.problems.filter((p) => !p.startsWith('not all ready')).length;
  const counts = {
    lost_acked_writes: v.lostAckedWrites,
    resurrections: v.resurrections,
    value_mismatches: v.valueMismatches,
    blind_deletes: v.blindDeletes,
    counter_violations: v.counterViolations,
    diverged_replicas: v.divergedReplicas,
    crashes: f.crashes.length,
    not_ready_after_restart: notReady,
    nemesis_problems: nemesisProblems,
  };
  const passed = Object.values(counts).every((n) => n === 0) && f.convergedMs !== undefined;
  const json = {
    check: 'state',
    seed: options.seed,
    short: options.short,
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    duration_s: Math.round(f.writesMs / 100) / 10,
    instances: SIZE,
    keys: f.keys,
    ops,
    acked_latency_ms: latency,
    acked_latency_between_faults_ms: calmLatency,
    acked_writes: v.ackedWrites,
    acked_deletes: v.ackedDeletes,
    acked_counter_ops: v.ackedCounterOps,
    nemesis_events: f.events.length,
    nemesis: perKind,
    ...counts,
    counter: v.counter,
    converge_after_heal_ms: f.convergedMs ?? null,
    passed,
  };
  const opText = Object.entries(ops).map(([op, r]) => `${op} ${r.acked}/${r.failed}/${r.indeterminate}`).join(', ');
  const rows: [string, string | number][] = [
    ['seed', options.seed],
    ['duration', `${json.duration_s} s of writes and faults (${options.short ? 'short' : 'full'} run${options.faults === undefined ? '' : `, faults: ${options.faults.join(', ')}`}), ${SIZE} instances, ${f.keys} keys, majority writes`],
    ['operations (acked/failed/indeterminate)', opText],
    ['acked operation latency', `p50 ${latency.p50 ?? '?'} ms, p99 ${latency.p99 ?? '?'} ms, max ${latency.max ?? '?'} ms ` +
      `(between faults: p50 ${calmLatency.p50 ?? '?'} ms, p99 ${calmLatency.p99 ?? '?'} ms)`],
    ['acked_writes (set, create, update)', v.ackedWrites],
    ['acked_deletes', v.ackedDeletes],
    ['acked_counter_ops', v.ackedCounterOps],
    ['nemesis_events', `${f.events.length}: ${Object.entries(perKind).map(([k, n]) => `${k} ${n}`).join(', ')}`],
    ['lost_acked_writes', v.lostAckedWrites],
    ['resurrections', v.resurrections],
    ['value_mismatches', v.valueMismatches],
    ['blind_deletes (removed a key absent when called)', v.blindDeletes],
    ['counter_violations', `${v.counterViolations} (final ${v.counter.final ?? '?'}, bounds [${v.counter.lower}, ${v.counter.upper}])`],
    ['diverged_replicas', `${v.divergedReplicas}${v.divergedReplicas > 0 ? ` (agreeing: ${v.agreeing.join(', ') || 'none'})` : ''}`],
    ['crashes (exits nobody caused)', f.crashes.length],
    ['not_ready_after_restart', notReady],
    ['nemesis_problems', nemesisProblems],
    ['converge_after_heal_ms', f.convergedMs ?? `not converged within the deadline`],
    ['result', passed ? 'PASS' : 'FAIL'],
  ];
  const at = (ms: number | undefined): string => (ms === undefined ? '?' : `${((ms - f.startedAt) / 1000).toFixed(1)} s`);
  const timeline = f.events.map((e) => `- ${at(e.at)}–${at(e.healedAt)}: ${e.kind} ${e.detail}${e.problem === undefined ? '' : ` — PROBLEM: ${e.problem}`}`);
  const markdown = [
    '| figure | value |',
    '|---|---|',
    ...rows.map(([k, val]) => `| ${k} | ${String(val).replace(/\|/g, '\\|')} |`),
    '',
    'Faults (times from the start of the writes):',
    ...timeline,
    ...(f.problems.length + f.crashes.length > 0 ? ['', 'Problems:', ...f.crashes.map((c) => `- crash: ${c}`), ...f.problems.map((p) => `- ${p}`)] : []),
    ...(v.details.length > 0 ? ['', 'Violations (times from the first operation):', ...v.details.map((d) => `- ${d}`)] : []),
  ].join('\n');
  return { markdown, json, passed };
}

/** A fresh random seed. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32BE() % 1_000_000;
}
