// Child processes of the peers benchmark: spawned in their own process
// groups, output kept (tail only) for error messages, CPU time read from
// /proc, and every one of them SIGKILLed when the harness exits, however it
// exits.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Characters of output kept per child. */
const TAIL_CHARS = 16_000;

/** Every child spawned here that has not exited yet. */
const live = new Set();

/** Sends `signal` to the process group of every live child (synchronously: usable in an 'exit' handler). */
export function killEverything(signal = 'SIGKILL') {
  for (const child of live) child.signalGroup(signal);
}
process.once('exit', () => killEverything('SIGKILL'));

/** A spawned process, leader of its own process group. */
export class Child {
  /** Short name for messages. */
  name;
  /** Process id (also the id of its process group). */
  pid;
  /** Resolves with `{ code, signal }` once the process has exited (never rejects). */
  exited;
  /** Whether it has not exited yet. */
  running = true;
  /** How it ended, once it has: `{ code, signal, at }` (at: {@link now}). */
  status;
  /** Signals this harness sent it, in order (its exit is expected after SIGKILL, SIGINT). */
  signals = [];
  #output = '';

  /**
   * Spawns `file args` with exactly `env` (nothing of the harness's is added).
   * @param {string} name
   * @param {string} file
   * @param {readonly string[]} args
   * @param {{ env: Record<string, string>, cwd?: string }} options
   */
  constructor(name, file, args, { env, cwd }) {
    this.name = name;
    const child = spawn(file, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.pid = child.pid;
    live.add(this);
    const keep = (chunk) => {
      this.#output = (this.#output + chunk).slice(-TAIL_CHARS);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      const finish = (status) => {
        if (!this.running) return;
        this.running = false;
        this.status = { ...status, at: now() };
        live.delete(this);
        resolve(status);
      };
      child.once('exit', (code, signal) => finish({ code, signal }));
      child.once('error', (error) => {
        keep(`\n[spawn error] ${error.message}\n`);
        finish({ code: null, signal: null, error: error.message });
      });
    });
  }

  /** What it printed last (stdout and stderr interleaved). */
  output() {
    return this.#output;
  }

  /** Sends `signal` to the process itself; recorded in {@link signals}. */
  signal(signal) {
    this.signals.push(signal);
    if (this.running) this.process.kill(signal);
  }

  /** Sends `signal` to its whole process group; never throws. */
  signalGroup(signal) {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  /** SIGKILLs the group (after SIGCONT, in case it is stopped) and waits until the process is gone. */
  async kill() {
    this.signalGroup('SIGKILL');
    this.signalGroup('SIGCONT');
    await this.exited;
  }
}

/** Milliseconds since an arbitrary origin, monotonic. */
export const now = () => performance.now();

/**
 * Resolves after `ms`, or at once when `signal` aborts. Only paces polling
 * loops; never used to wait for something to happen.
 */
export function pause(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves like `promise`, or with undefined if it has not settled after `ms`. */
export async function within(promise, ms) {
  const abort = new AbortController();
  try {
    return await Promise.race([promise, pause(ms, abort.signal).then(() => undefined)]);
  } finally {
    abort.abort();
  }
}

/**
 * Calls `attempt` every `intervalMs` until it returns something other than
 * undefined (an attempt that throws counts as "not yet"), and resolves with
 * it; resolves with undefined once `timeoutMs` has passed.
 * @template T
 * @param {() => Promise<T | undefined>} attempt
 * @param {{ timeoutMs: number, intervalMs: number }} options
 * @returns {Promise<T | undefined>}
 */
export async function pollUntil(attempt, { timeoutMs, intervalMs }) {
  const deadline = now() + timeoutMs;
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch {
      // Not yet.
    }
    if (now() >= deadline) return undefined;
    await pause(intervalMs);
  }
}

/** Clock ticks per second of /proc/<pid>/stat times. */
let clockTicks;

/** Seconds of CPU (user + system, all threads) that process `pid` has used so far. */
export async function cpuSeconds(pid) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 (state) on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** The machine's CPU time so far, from /proc/stat: `{ busy, total }` in clock ticks, all cores. */
export async function machineCpu() {
  const [, ...fields] = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0].trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th fields.
  return { busy: total - ticks[3] - ticks[4], total };
}

/** Path of the executable `name` on PATH or in the sbin folders, or undefined. */
export function findExecutable(name) {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const folder of folders.filter(Boolean)) {
    const file = join(folder, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** A short fingerprint of files' contents (which build of dist/ a run used). */
export function fingerprint(files) {
  const hash = createHash('sha256');
  for (const file of [...files].sort()) hash.update(file).update(readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}
