/**
 * The instances of `npm run check:state`: test/fixtures/state-node/server.mjs
 * run inside their network namespaces (chaos-fleet.ts defines their
 * environment; this file starts them, since they run another script), and
 * the calls the checker makes to them over their management addresses.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChaosServer } from './chaos-fleet.js';
import { pollUntil, REPO_ROOT, requestJson, type ChildHandle, type ExitStatus } from './processes.js';
import type { Dump, Outcome, Version } from './state-check-verdict.js';

/**
 * The server each instance runs; STATE_CHECK_FIXTURE names another one with
 * the same routes (e.g. a deliberately broken one, to see the checker notice).
 */
const FIXTURE = process.env.STATE_CHECK_FIXTURE || fileURLToPath(new URL('../fixtures/state-node/server.mjs', import.meta.url));
/** Output kept per instance, in characters; older output is dropped first. */
const MAX_OUTPUT_CHARS = 512 * 1024;
const NOTE_PREFIX = 'state-op ';

/** One instance: a chaos server definition plus its state directory. */
export interface StateServer extends ChaosServer {
  readonly stateDir: string;
  /** Set while the nemesis kills it: that exit is not a crash. */
  killing?: boolean;
  /** Every exit nobody caused (neither the nemesis nor the cleanup), with its status. */
  readonly crashes: string[];
}

/** What the fixture printed that a write saw before it started, by operation id (see server.mjs). */
export type Notes = Map<string, { observed?: Version | null; based?: Version | null }>;

const live = new Set<ChildHandle>();
// Last resort against orphans (a crash before cleanup): kill synchronously on exit.
process.once('exit', () => {
  for (const handle of live) handle.process.kill('SIGKILL');
});

/**
 * Starts (or restarts) `server`'s process in its namespace (`ip netns exec`
 * execs node, so the pid is node's: signals reach it directly). Each output
 * line is kept, prefixed with the name; `state-op` lines go into `notes`.
 */
export function startStateServer(server: StateServer, notes: Notes): ChildHandle {
  if (server.retired === true) throw new Error(`${server.name}: the run has ended`);
  const argv = [...(server.netns === undefined ? [] : ['ip', 'netns', 'exec', server.netns]), process.execPath, FIXTURE];
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: REPO_ROOT, env: server.env, stdio: ['ignore', 'pipe', 'pipe'] });
  // One log per instance across its restarts: a new process continues the previous one's.
  let output = server.handle?.output() ?? '';
  let running = true;
  const keep = (line: string): void => {
    if (line.startsWith(NOTE_PREFIX)) {
      try {
        const { id, ...seen } = JSON.parse(line.slice(NOTE_PREFIX.length)) as { id: string; observed?: Version | null; based?: Version | null };
        notes.set(id, { ...notes.get(id), ...seen });
      } catch {
        // A torn line (the process was killed while printing): the write saw nothing known.
      }
      return;
    }
    output = (output + `[${server.name} ${new Date().toISOString().slice(11, 23)}] ${line}\n`).slice(-MAX_OUTPUT_CHARS);
  };
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(keep);
    });
    stream.on('end', () => pending !== '' && keep(pending));
  }
  const exited = new Promise<ExitStatus>((resolveExit) => {
    const finish = (status: ExitStatus): void => {
      if (!running) return;
      running = false;
      live.delete(handle);
      resolveExit(status);
    };
    child.once('close', (code, signal) => {
      keep(`exited with code ${code} signal ${signal}`);
      if (server.killing !== true && server.retired !== true) server.crashes.push(`exited with code ${code} signal ${signal} at ${new Date().toISOString()}`);
      finish({ code, signal });
    });
    child.once('error', (e) => {
      keep(`process error: ${e.message}`);
      if (child.pid === undefined) finish({ code: null, signal: null });
    });
  });
  const handle: ChildHandle = {
    name: server.name,
    process: child,
    exited,
    get running() {
      return running;
    },
    output: () => output,
  };
  live.add(handle);
  server.handle = handle;
  return handle;
}

/** Sends `signal` to `server`'s running process; false if it is not running. */
export function signal(server: StateServer, sig: NodeJS.Signals): boolean {
  const handle = server.handle;
  if (handle === undefined || !handle.running) return false;
  return handle.process.kill(sig);
}

/** What one call to an instance came to. */
export interface CallResult {
  readonly outcome: Outcome;
  /** The answer's body, when there was an answer. */
  readonly body?: Record<string, unknown>;
  /** The error code (the answer's, or the transport error's). */
  readonly code?: string;
}

/**
 * POSTs `body` to `path` of `server` and classifies the outcome: a 2xx is
 * acked; a refused connection (nothing was sent) or a 4xx (rejected before
 * any effect) failed; anything else (WRITE_TIMEOUT, another 5xx, no answer
 * in `timeoutMs`, a connection reset) is indeterminate.
 */
export async function call(server: StateServer, path: string, body: unknown, timeoutMs: number): Promise<CallResult> {
  try {
    const response = await requestJson(`${server.adminUrl}${path}`, { method: 'POST', body, timeoutMs });
    const answer = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as Record<string, unknown>;
    if (response.status >= 200 && response.status < 300) return { outcome: 'acked', body: answer };
    const code = typeof answer.code === 'string' ? answer.code : `HTTP_${response.status}`;
    return { outcome: response.status < 500 ? 'failed' : 'indeterminate', body: answer, code };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') return { outcome: 'failed', code: cause };
    const name = (e as { name?: string }).name;
    return { outcome: 'indeterminate', code: cause ?? (name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : name ?? 'ERROR') };
  }
}

/** `server`'s dump; rejects if it does not answer 200 within `timeoutMs`. */
export async function dumpOf(server: StateServer, timeoutMs = 3_000): Promise<Dump & { ready: boolean }> {
  const response = await requestJson(`${server.adminUrl}test/dump`, { timeoutMs });
  if (response.status !== 200) throw new Error(`${server.name}: dump answered ${response.status}`);
  return response.body as Dump & { ready: boolean };
}

/** Whether `GET /clustershazbot/health/ready` answers 200 now. */
export async function isReady(server: StateServer): Promise<boolean> {
  const response = await requestJson(`${server.adminUrl}clustershazbot/health/ready`, { timeoutMs: 1_000 });
  return response.status === 200;
}

/** Polls until every one of `servers` reports ready; resolves with the ms it took. */
export async function untilReady(servers: readonly StateServer[], timeoutMs: number): Promise<number> {
  const start = Date.now();
  await pollUntil(async (report) => {
    const states = await Promise.all(servers.map(async (s) => [s.name, await isReady(s).catch((e: unknown) => String(e))] as const));
    report(Object.fromEntries(states));
    return states.every(([, ready]) => ready === true) ? true : undefined;
  }, { timeoutMs, intervalMs: 100, description: `${servers.map((s) => s.name).join(', ')} to report ready` });
  return Date.now() - start;
}

/** Shifts `server`'s clock by `ms` (0: back to the real time); rejects unless it answers 200. */
export async function setSkew(server: StateServer, ms: number): Promise<void> {
  const response = await requestJson(`${server.adminUrl}test/skew`, { method: 'POST', body: { ms }, timeoutMs: 3_000 });
  if (response.status !== 200) throw new Error(`${server.name}: skew answered ${response.status}`);
}
