/**
 * `npm run demo`: a local cluster of five servers as child processes on
 * loopback, with the embedded master-list store and no external service.
 * Says how to open the dashboard and run `status` on it, shows a live
 * membership table, takes one server offline through the control endpoint,
 * kills another with SIGKILL, and shows the others notice. Then the
 * replicated-state scene (state-scene.ts): a value written on one server
 * reaches every live one, and a restarted server catches up before it reports
 * ready. Ctrl-C stops every server (a second Ctrl-C force-kills the rest);
 * `--once` exits after the scenario.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { startMasterListStore, type MasterListStore } from '../master-list/store.js';
import { startDemoProcess, stopDemoProcesses, type DemoProcess, type Stopping } from './demo-processes.js';
import { createDisplay } from './display.js';
import type { TerminalStream } from './live-region.js';
import { pollViews, renderTable, type Views } from './membership-table.js';
import { chooseSessionSecret, operatorInstructions } from './session.js';
import { stateScene } from './state-scene.js';

const SIZE = 5;
/** How long a server gets to leave gracefully before it is force-killed. */
const GRACE_MS = 8_000;
/**
 * Signals this close to the one that started the shutdown are the same
 * Ctrl-C: under `npm run demo`, the terminal sends SIGINT to npm and to the
 * demo, and npm forwards its copy to its child a few milliseconds later.
 * That child is the demo itself where the script shell execs the command
 * (bash does; dash stays in between and receives the copy).
 */
const SAME_CTRL_C_MS = 500;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Exit once the scripted scenario is over instead of waiting for Ctrl-C. */
  once: boolean;
  /** Gossip interval of the demo servers, in seconds. @default 1 */
  gossipIntervalS?: number;
  /** Write output here; on a terminal the table is redrawn in place. @default process.stdout */
  out?: TerminalStream;
}

/** Runs the demo; resolves with the process exit code (0 also after Ctrl-C). Never rejects on a signal. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const display = createDisplay(out);
  const say = display.say;
  const secret = chooseSessionSecret(process.env);
  const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
  const dir = await mkdtemp(join(tmpdir(), 'clustershazbot-demo-'));
  const store: MasterListStore = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: storeAuth });
  const servers: DemoProcess[] = [];
  // The environment each server was started with (same index): a restart reuses it, state dir included.
  const envs: Array<Record<string, string>> = [];
  const onLine = (name: string, line: string): void => say(`  [${name}] ${line}`);
  // Aborted when the demo starts stopping: ends the scenario's waits and requests.
  const stop = new AbortController();
  let closing: Promise<number> | undefined;
  let stopping: Stopping | undefined;
  let signalledAt = -Infinity;

  const shutdown = (code: number, why: string): Promise<number> => {
    closing ??= (async () => {
      stop.abort();
      display.freeze();
      say(`\nStopping${why}: SIGINT to every server (graceful departure; SIGKILL after ${GRACE_MS / 1000} s)...`);
      stopping = stopDemoProcesses(servers, say, GRACE_MS);
      await stopping.done;
      try {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      } catch (e) {
        say(`(cleaning up the master-list store failed: ${e instanceof Error ? e.message : String(e)})`);
      }
      say(servers.length === 0 ? 'No server was started. Bye.' : `All servers stopped. All ${servers.length} have exited. Bye.`);
      return code;
    })();
    return closing;
  };
  // Ctrl-C (SIGINT) or SIGTERM: stop every server. Another one while stopping: SIGKILL the rest.
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (closing === undefined) {
      signalledAt = now;
      void shutdown(0, signal === 'SIGINT' ? ' (Ctrl-C)' : ` (${signal})`);
    } else if (now - signalledAt >= SAME_CTRL_C_MS && stopping !== undefined) {
      signalledAt = now;
      const killed = stopping.forceKill(signal === 'SIGINT' ? 'second Ctrl-C' : signal);
      if (killed.length > 0) say(`\n${signal === 'SIGINT' ? 'Second Ctrl-C' : signal}: force-killing ${killed.join(', ')} with SIGKILL`);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Output piped into a reader that went away (`npm run demo | head`): stop quietly.
  const onOutputError = (): void => void shutdown(0, '');
  out.on('error', onOutputError);

  try {
    say(`Master-list store (embedded): ${store.url}`);
    const gossipSecret = randomBytes(32).toString('base64url');
    for (let i = 1; i <= SIZE; i++) {
      const port = await freePort();
      stop.signal.throwIfAborted();
      const base = `http://127.0.0.1:${port}/`;
      const env = {
        PORT: String(port),
        SHAZBOT_SECRET: gossipSecret,
        SHAZBOT_CONTROL_SECRET: secret.value,
        SHAZBOT_BASE_URL: base,
        SHAZBOT_MASTER_LIST: store.url,
        SHAZBOT_MASTER_LIST_UPDATE: store.url,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
        SHAZBOT_GOSSIP_INTERVAL: String(opts.gossipIntervalS ?? 1),
        SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '5',
        SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '5',
        SHAZBOT_MONITOR: i === 1 ? 'true' : 'false',
        SHAZBOT_LOG_LEVEL: 'error',
        // Its own directory: a restarted server keeps its replicated state.
        SHAZBOT_STATE_DIR: join(dir, `state-s${i}`),
      };
      envs.push(env);
      servers.push(startDemoProcess(`s${i}`, base, env, onLine));
      say(`started s${i} at ${base}${i === 1 ? ' (monitor)' : ''}`);
    }
    say('');
    for (const line of operatorInstructions({ secret, base: servers[0]!.base })) say(line);

    const t0 = performance.now();
    const show = async (): Promise<Views> => {
      const views = await pollViews(servers, secret.value, stop.signal);
      stop.signal.throwIfAborted();
      display.table((performance.now() - t0) / 1000, renderTable(servers, views));
      return views;
    };
    // Started again in its place: a shutdown from now on stops the new process.
    const restart = (s: DemoProcess): DemoProcess => {
      const i = servers.indexOf(s);
      servers[i] = startDemoProcess(s.name, s.base, envs[i]!, onLine);
      return servers[i];
    };
    await scenario(servers, secret.value, show, say, stop.signal, restart);
    if (opts.once) return await shutdown(0, '');
    say('The table keeps updating; the dashboard and the status command above work until you stop the demo.');
    say('Press Ctrl-C to stop the cluster.');
    for (;;) {
      await show();
      await delay(1_000, undefined, { signal: stop.signal });
    }
  } catch (e) {
    // Stopping aborted whatever the scenario was waiting for.
    if (closing !== undefined) return await closing;
    say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return await shutdown(1, '');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    out.off('error', onOutputError);
  }
}

/**
 * The scripted part: convergence, control offline, SIGKILL detection, back
 * online, then the replicated-state scene. `show` polls the servers and
 * shows the table; `restart` starts a server again in its place. Rejects
 * once `signal` aborts (the demo is stopping).
 */
async function scenario(
  servers: readonly DemoProcess[],
  controlSecret: string,
  show: () => Promise<Views>,
  say: (line?: string) => void,
  signal: AbortSignal,
  restart: (server: DemoProcess) => DemoProcess,
): Promise<void> {
  const live = (): DemoProcess[] => servers.filter((s) => !s.exited);
  let expectedLive = SIZE;
  const until = async (what: string, ok: (v: Views) => boolean, deadlineMs = 60_000): Promise<void> => {
    const start = performance.now();
    for (;;) {
      if (ok(await show())) {
        say(`==> ${what} (${Math.round(performance.now() - start)} ms)`);
        return;
      }
      if (performance.now() - start > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
      if (live().length < expectedLive) throw new Error('a demo server exited unexpectedly (see its output above)');
      await delay(250, undefined, { signal });
    }
  };
  const everyLiveSees = (v: Views, target: string, state: 'online' | 'offline' | 'online-all'): boolean =>
    live().filter((s) => s.base !== target || state === 'online-all').every((s) => {
      const view = v.get(s.base);
      if (view === undefined) return false;
      return state === 'online-all' ? servers.every((x) => view.get(x.base) === 'online') : view.get(target) === state;
    });

  await until('all 5 servers see each other online', (v) => live().length === SIZE && everyLiveSees(v, '', 'online-all'));
  const s3 = servers[2]!;
  const s4 = servers[3]!;
  say(`\nTaking ${s3.name} offline through POST ${s3.base}clustershazbot/control ...`);
  await control(s3.base, controlSecret, false, signal);
  await until(`every other server sees ${s3.name} offline`, (v) => everyLiveSees(v, s3.base, 'offline'));
  say(`\nKilling ${s4.name} with SIGKILL (no goodbye) ...`);
  expectedLive--;
  s4.stoppedBy = 'killed with SIGKILL by the scenario';
  s4.child.kill('SIGKILL');
  await until(`every live server sees ${s4.name} offline`, (v) => everyLiveSees(v, s4.base, 'offline'));
  say(`\nBringing ${s3.name} back online ...`);
  await control(s3.base, controlSecret, true, signal);
  await until(`every live server sees ${s3.name} online again`, (v) => everyLiveSees(v, s3.base, 'online'));
  await stateScene({ servers, restart, say, show, signal });
  say('\nScenario complete.');
}

async function control(base: string, secret: string, online: boolean, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${base}clustershazbot/control`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'control', online }),
    signal: AbortSignal.any([AbortSignal.timeout(5_000), signal]),
  });
  if (!res.ok) throw new Error(`control answered HTTP ${res.status}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
