/**
 * The demo's server processes: starting one (demo-server.js as a child
 * process) and stopping them all, saying what happened to each.
 *
 * Children run in their own process group (`detached`), so a terminal's
 * Ctrl-C reaches only the demo, which then stops them itself, one report line
 * each. Each child holds a pipe to the demo on its stdin and leaves when it
 * closes: a demo that dies without stopping them (SIGKILL) leaves nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sanitizeText } from '../cli/sanitize.js';

/** One server of the demo cluster. */
export interface DemoProcess {
  readonly name: string;
  readonly base: string;
  readonly child: ChildProcess;
  /** Set once the process has exited (or could not start). */
  exited: boolean;
  /** How it exited: a code, a signal, or a reason it never ran. */
  exit?: string;
  /** Why it was stopped on purpose before the demo's shutdown (said when the shutdown finds it gone). */
  stoppedBy?: string;
  /** Resolves once the process has exited. */
  readonly gone: Promise<void>;
}

/** Starts `node demo-server.js` with `env` added to this process's environment; `onLine` gets each line it writes to stderr. */
export function startDemoProcess(name: string, base: string, env: Record<string, string>, onLine: (name: string, line: string) => void): DemoProcess {
  const entry = fileURLToPath(new URL('./demo-server.js', import.meta.url));
  const child = spawn(process.execPath, [entry], {
    // A stdin pipe: if this process dies without stopping its children, they see it close and leave.
    stdio: ['pipe', 'ignore', 'pipe'],
    // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) reaches the demo only.
    detached: true,
    env: { ...process.env, ...env, DEMO_EXIT_WITH_PARENT: '1' },
  });
  return watchProcess(name, base, child, onLine);
}

/** Follows a started child as a demo process: its exit, and its stderr line by line. */
export function watchProcess(name: string, base: string, child: ChildProcess, onLine: (name: string, line: string) => void): DemoProcess {
  let resolveGone!: () => void;
  const gone = new Promise<void>((resolve) => (resolveGone = resolve));
  const server: DemoProcess = { name, base, child, exited: false, gone };
  const finish = (how: string): void => {
    if (server.exited) return;
    server.exited = true;
    server.exit = how;
    resolveGone();
  };
  child.once('exit', (code, signal) => finish(signal !== null ? `signal ${signal}` : `code ${code}`));
  // No 'exit' follows a failure to start.
  child.once('error', (e) => {
    if (child.pid === undefined) finish(`could not start: ${e.message}`);
  });
  // Whole lines only (a chunk may end mid-line), stripped of terminal control characters.
  let pending = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(name, sanitizeText(line));
  });
  child.stderr?.on('end', () => {
    if (pending !== '') onLine(name, sanitizeText(pending));
    pending = '';
  });
  return server;
}

/** A shutdown of every demo process under way. */
export interface Stopping {
  /** Resolves once every process has exited. */
  readonly done: Promise<void>;
  /** SIGKILLs every process still running, each reported as force-killed for `reason`; returns their names. */
  forceKill(reason: string): string[];
}

/**
 * Stops every process: SIGINT to each one still running (a graceful
 * departure), SIGKILL to any still there after `graceMs`. Says one line per
 * server as it goes: stopped gracefully, already gone, or force-killed.
 */
export function stopDemoProcesses(servers: readonly DemoProcess[], say: (line: string) => void, graceMs: number): Stopping {
  const forced = new Map<DemoProcess, string>();
  const kill = (s: DemoProcess, reason: string): boolean => {
    if (s.exited || forced.has(s)) return false;
    forced.set(s, reason);
    s.child.kill('SIGKILL');
    return true;
  };
  const stops = servers.map(async (s) => {
    if (s.exited) {
      say(`  ${s.name} was already gone (${s.stoppedBy ?? `exited earlier, ${s.exit ?? 'unknown status'}`})`);
      return;
    }
    const start = performance.now();
    s.child.kill('SIGINT');
    const timer = setTimeout(() => kill(s, `still running after ${graceMs / 1000} s`), graceMs);
    await s.gone;
    clearTimeout(timer);
    const ms = Math.round(performance.now() - start);
    const reason = forced.get(s);
    if (reason !== undefined) say(`  ${s.name} force-killed with SIGKILL (${reason})`);
    else if (s.exit === 'code 0') say(`  ${s.name} stopped gracefully (${ms} ms)`);
    else say(`  ${s.name} stopped (${s.exit ?? 'unknown status'}, ${ms} ms)`);
  });
  return {
    done: Promise.all(stops).then(() => undefined),
    forceKill: (reason) => servers.filter((s) => kill(s, reason)).map((s) => s.name),
  };
}
