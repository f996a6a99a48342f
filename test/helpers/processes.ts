/**
 * Helpers for tests that run servers as real child processes: free ports,
 * spawning with captured output, polling with a deadline, and making sure no
 * child outlives the test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built demo server (node:http + the default instance from SHAZBOT_*), which the multi-process tests run. */
export const DEMO_SERVER = join(REPO_ROOT, 'dist', 'esm', 'demo', 'demo-server.js');

/** How a child process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A spawned child process whose stdout and stderr are kept in memory. */
export interface ChildHandle {
  /** Short name used to prefix its output. */
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Whether the process is still running (it has not exited yet). */
  readonly running: boolean;
  /** Everything it has printed so far, each line prefixed with `[name] `. */
  output(): string;
}

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions {
  /** Working directory of the child. */
  readonly cwd: string;
  /** The child's complete environment (nothing of this process's is added). */
  readonly env: NodeJS.ProcessEnv;
  /** Output kept per child; older output is dropped first. @default 1 MiB */
  readonly maxOutputChars?: number;
}

/** Every child spawned here that has not exited yet. */
const live = new Set<ChildProcess>();

// Last resort against orphans: if the test process exits while children still
// run (a crash, an unhandled error before afterAll), kill them synchronously.
process.once('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});

/** Resolves to a TCP port that was free on `host` a moment ago (listen on 0, then close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

/** Resolves to `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

/** Runs `node <script> ...args` as a child process and captures what it prints. */
export function spawnNode(name: string, script: string, args: readonly string[], options: SpawnNodeOptions): ChildHandle {
  const maxOutputChars = options.maxOutputChars ?? 1024 * 1024;
  let output = '';
  let running = true;
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const keep = (text: string): void => {
    output = (output + text).slice(-maxOutputChars);
  };
  // Prefix whole lines only: a chunk may end mid-line, so each stream keeps
  // its unfinished last line until the rest arrives (or the stream ends).
  const capture = (stream: NodeJS.ReadableStream | null): void => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      if (lines.length > 0) keep(lines.map((line) => `[${name}] ${line}\n`).join(''));
    });
    stream?.on('end', () => {
      if (pending !== '') keep(`[${name}] ${pending}\n`);
      pending = '';
    });
  };
  capture(child.stdout);
  capture(child.stderr);
  const exited = new Promise<ExitStatus>((resolve) => {
    const finish = (status: ExitStatus): void => {
      if (!running) return;
      running = false;
      live.delete(child);
      resolve(status);
    };
    // 'close' fires after the exit and after stdout/stderr have been drained.
    child.once('close', (code, signal) => {
      keep(`[${name}] exited with code ${code} signal ${signal}\n`);
      finish({ code, signal });
    });
    child.once('error', (error) => {
      keep(`[${name}] process error: ${error.message}\n`);
      // A child that never started emits no 'close' to wait for.
      if (child.pid === undefined) finish({ code: null, signal: null });
    });
  });
  return {
    name,
    process: child,
    exited,
    get running() {
      return running;
    },
    output: () => output,
  };
}

/** Resolves with the exit status, or rejects if the child is still running after `timeoutMs`. */
export async function waitForExit(handle: ChildHandle, timeoutMs: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${handle.name} did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([handle.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every handle still running and waits for each to be gone. */
export async function killAll(handles: Iterable<ChildHandle>): Promise<void> {
  const waits: Promise<ExitStatus>[] = [];
  for (const handle of handles) {
    if (handle.running) {
      handle.process.kill('SIGKILL');
      waits.push(handle.exited);
    }
  }
  await Promise.all(waits);
}

/** The captured output of every handle, one block after another. */
export function dumpOutput(handles: Iterable<ChildHandle>): string {
  return [...handles].map((h) => `----- output of ${h.name} -----\n${h.output()}`).join('');
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** Give up after this many ms. */
  readonly timeoutMs: number;
  /** Pause between attempts. @default 150 */
  readonly intervalMs?: number;
  /** What is awaited, for the error message. */
  readonly description: string;
}

/**
 * Calls `attempt` until it returns something other than `undefined` and
 * resolves with that. An attempt that throws counts as "not yet" (a server
 * still starting refuses connections). Past the deadline it rejects with an
 * error naming `description` and the last thing an attempt threw or reported
 * through `report`.
 */
export async function pollUntil<T>(
  attempt: (report: (state: unknown) => void) => Promise<T | undefined> | T | undefined,
  options: PollOptions,
): Promise<T> {
  const intervalMs = options.intervalMs ?? 150;
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown = 'no attempt finished';
  const report = (state: unknown): void => {
    last = state;
  };
  for (;;) {
    try {
      const result = await attempt(report);
      if (result !== undefined) return result;
    } catch (error) {
      last = error instanceof Error ? `${error.name}: ${error.message}` : error;
    }
    if (Date.now() >= deadline) {
      const detail = typeof last === 'string' ? last : JSON.stringify(last, null, 1);
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.description}; last state: ${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A status and a parsed JSON body (undefined if the body was not JSON). */
export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

/** One HTTP request with a JSON body (if any) and a timeout; resolves to the status and parsed body. */
export async function requestJson(
  url: string,
  init: { method?: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 3000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}
