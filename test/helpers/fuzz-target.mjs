/**
 * The fuzz target: a real server in a child process (by default the shipped
 * demo server, dist/esm/demo/demo-server.js: node:http, the default instance
 * configured by SHAZBOT_* variables, dashboard on), alone in its cluster,
 * with a real master-list store in this process. The master list names two
 * servers that left (offline, never contacted), so the table has entries an
 * attacker would like to change, yet nothing in it changes by itself.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository root (this file is test/helpers/fuzz-target.mjs). */
export const ROOT = new URL('../../', import.meta.url);
/** The default child script. */
const DEMO_SERVER = new URL('dist/esm/demo/demo-server.js', ROOT);

const STARTUP_TIMEOUT_MS = 20_000;

/** A random printable secret of 43 base64url characters. */
function secret() {
  return randomBytes(32).toString('base64url');
}

async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `attempt` every 100 ms until it returns a value other than undefined; rejects past the deadline. */
export async function pollUntil(attempt, timeoutMs, description) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the store and the child and waits until the child's health is 200.
 * @param {{ script?: URL | string }} options `script`: the child to run (it
 *   must serve the routes under /clustershazbot/ on PORT, configured by the
 *   SHAZBOT_* variables); it also gets this process's FUZZ_* variables.
 */
export async function startTarget(options = {}) {
  const { startMasterListStore } = await import(new URL('dist/esm/master-list/store.js', ROOT).href);
  const secrets = { gossip: secret(), control: secret(), store: `Bearer ${secret()}` };
  const dir = await mkdtemp(join(tmpdir(), 'shazbot-fuzz-'));
  const file = join(dir, 'master-list.json');
  const now = Date.now();
  await writeFile(file, JSON.stringify({
    online: [],
    offline: [
      { baseUrl: 'http://127.0.0.1:1/', monitor: false, lastUpdate: now - 60_000, reason: 'left' },
      { baseUrl: 'http://192.0.2.1:8080/app/', monitor: true, lastUpdate: now - 120_000, reason: 'admin' },
    ],
  }));
  const store = await startMasterListStore({ file, auth: secrets.store });
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}/`;
  const child = spawn(process.execPath, ['--unhandled-rejections=strict', new URL(options.script ?? DEMO_SERVER).pathname], {
    cwd: new URL('.', ROOT).pathname,
    // stdin stays open: with DEMO_EXIT_WITH_PARENT the demo server leaves when
    // it closes, so it never outlives this process, even if this one is killed.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      DEMO_EXIT_WITH_PARENT: '1',
      PORT: String(port),
      SHAZBOT_SECRET: secrets.gossip,
      SHAZBOT_CONTROL_SECRET: secrets.control,
      SHAZBOT_BASE_URL: baseUrl,
      SHAZBOT_MASTER_LIST: store.url,
      SHAZBOT_MASTER_LIST_UPDATE: store.url,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: secrets.store,
      SHAZBOT_GOSSIP_INTERVAL: '1',
      SHAZBOT_PROBE_INTERVAL: '1',
      SHAZBOT_LOG_LEVEL: 'info',
      // FUZZ_* variables configure test targets (see fuzz-faulty-server.mjs).
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FUZZ_'))),
    },
  });
  const output = { stdout: [], stderr: [] };
  for (const name of ['stdout', 'stderr']) {
    let pending = '';
    child[name].setEncoding('utf8');
    child[name].on('data', (chunk) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      if (output[name].length < 1000) output[name].push(...lines);
    });
  }
  let exit;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    exit = { code, signal };
    resolve(exit);
  }));
  const target = {
    baseUrl,
    secrets,
    /** The gossip endpoint's full URL, which signatures bind. */
    gossipUrl: `${baseUrl}clustershazbot/gossip`,
    output,
    /** How the child ended, or undefined while it runs. */
    get exit() {
      return exit;
    },
    /** Lines the child wrote to stderr that mention an error or an unhandled rejection. */
    suspiciousLines: () => output.stderr.filter((l) => /unhandled|error/i.test(l)),
    /** GET health: its status. */
    health: async () => (await fetch(`${baseUrl}clustershazbot/health`, { signal: AbortSignal.timeout(5_000) })).status,
    /** GET info with the control secret. */
    info: async () => {
      const res = await fetch(`${baseUrl}clustershazbot/info`, {
        headers: { authorization: `Bearer ${secrets.control}` }, signal: AbortSignal.timeout(5_000),
      });
      if (res.status !== 200) throw new Error(`info answered ${res.status}`);
      return await res.json();
    },
    /** Stops the child (stdin closed, then SIGKILL if it lingers) and the store; removes the temp folder. */
    close: async () => {
      if (exit === undefined) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
        await exited;
        clearTimeout(timer);
      }
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    const outcome = await pollUntil(async () => {
      if (exit !== undefined) return 'exited';
      return (await target.health()) === 200 ? 'healthy' : undefined;
    }, STARTUP_TIMEOUT_MS, 'the target to be healthy');
    if (outcome === 'exited') throw new Error(`the target exited at start: ${JSON.stringify(exit)}`);
  } catch (e) {
    await target.close();
    throw new Error(`${e.message}\n${[...output.stdout, ...output.stderr].join('\n')}`);
  }
  return target;
}

/** The part of the membership table an attacker could change: every entry but `lastContactAt`. */
export function tableOf(info) {
  return info.servers.map(({ lastContactAt: _c, ...rest }) => rest);
}
