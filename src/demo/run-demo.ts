/**
 * `npm run demo`: a local cluster of five servers as child processes on
 * loopback, with the embedded master-list store and no external service.
 * Prints a live membership table, takes one server offline through the
 * control endpoint, kills another with SIGKILL, and shows the others notice.
 * Ctrl-C stops everything cleanly; `--once` exits after the scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMasterListStore, type MasterListStore } from '../master-list/store.js';

interface DemoServer {
  readonly name: string;
  readonly base: string;
  readonly child: ChildProcess;
  exited: boolean;
}

/** What each server reports seeing: base URL -> state, or undefined if it did not answer. */
type Views = Map<string, Map<string, 'online' | 'offline'> | undefined>;

const SIZE = 5;

export interface DemoOptions {
  /** Exit once the scripted scenario is over instead of waiting for Ctrl-C. */
  once: boolean;
  /** Gossip interval of the demo servers, in seconds. @default 1 */
  gossipIntervalS?: number;
  /** Write output here. @default process.stdout */
  out?: NodeJS.WritableStream;
}

/** Runs the demo; resolves with the process exit code. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const print = (line = ''): void => {
    out.write(line + '\n');
  };
  // An operator who wants to use the CLI or the dashboard on the demo sets
  // the control secret beforehand; otherwise it is random and never shown.
  const chosen = process.env['SHAZBOT_CONTROL_SECRET'];
  const controlSecret = chosen !== undefined && chosen !== '' ? chosen : randomBytes(24).toString('base64url');
  const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
  const dir = await mkdtemp(join(tmpdir(), 'clustershazbot-demo-'));
  const store: MasterListStore = await startMasterListStore({ file: join(dir, 'master-list.json'), auth: storeAuth });
  const servers: DemoServer[] = [];
  let closing: Promise<number> | undefined;

  const shutdown = (code: number): Promise<number> => {
    closing ??= (async () => {
      print('\nStopping: SIGINT to every server (graceful departure)...');
      await Promise.all(servers.map((s) => stopChild(s)));
      await store.close();
      await rm(dir, { recursive: true, force: true });
      print('All servers stopped. Bye.');
      return code;
    })();
    return closing;
  };
  const onSigint = (): void => {
    void shutdown(0).then((code) => process.exit(code));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  // Output piped into a reader that went away (`npm run demo | head`): stop quietly.
  const onOutputError = (): void => {
    void shutdown(0).then((code) => process.exit(code));
  };
  out.on('error', onOutputError);

  try {
    print(`Master-list store (embedded): ${store.url}`);
    const entry = join(fileURLToPath(new URL('.', import.meta.url)), 'demo-server.js');
    const secret = randomBytes(32).toString('base64url');
    for (let i = 1; i <= SIZE; i++) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}/`;
      const child = spawn(process.execPath, [entry], {
        // A stdin pipe: if this process dies without stopping its children, they see it close and leave.
        stdio: ['pipe', 'ignore', 'pipe'],
        env: {
          ...process.env,
          DEMO_EXIT_WITH_PARENT: '1',
          PORT: String(port),
          SHAZBOT_SECRET: secret,
          SHAZBOT_CONTROL_SECRET: controlSecret,
          SHAZBOT_BASE_URL: base,
          SHAZBOT_MASTER_LIST: store.url,
          SHAZBOT_MASTER_LIST_UPDATE: store.url,
          SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
          SHAZBOT_GOSSIP_INTERVAL: String(opts.gossipIntervalS ?? 1),
          SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '5',
          SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '5',
          SHAZBOT_MONITOR: i === 1 ? 'true' : 'false',
          SHAZBOT_LOG_LEVEL: 'error',
        },
      });
      const server: DemoServer = { name: `s${i}`, base, child, exited: false };
      child.on('exit', () => {
        server.exited = true;
      });
      child.stderr?.on('data', (d: Buffer) => out.write(`  [${server.name}] ${d.toString()}`));
      servers.push(server);
      print(`started ${server.name} at ${base}${i === 1 ? ' (monitor)' : ''}`);
    }
    const first = servers[0]!.base;
    if (chosen !== undefined && chosen !== '') {
      print(`Operator tools (control secret: your SHAZBOT_CONTROL_SECRET):`);
      print(`  npx clustershazbot status ${first}`);
      print(`  dashboard: ${first}clustershazbot/dashboard (any user name; the password is the control secret)`);
    } else {
      print(`Set SHAZBOT_CONTROL_SECRET before \`npm run demo\` to use \`npx clustershazbot status ${first}\` with offline servers and the dashboard.`);
    }

    const t0 = performance.now();
    let last = '';
    const show = async (): Promise<Views> => {
      const views = await poll(servers, controlSecret);
      const table = render(servers, views);
      if (table !== last) {
        print(`\n[t+${((performance.now() - t0) / 1000).toFixed(1)}s]`);
        print(table);
        last = table;
      }
      return views;
    };
    const until = async (what: string, ok: (v: Views) => boolean, deadlineMs = 60_000): Promise<void> => {
      const start = performance.now();
      for (;;) {
        if (ok(await show())) {
          print(`==> ${what} (${Math.round(performance.now() - start)} ms)`);
          return;
        }
        if (performance.now() - start > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
        if (live().length < expectedLive) throw new Error('a demo server exited unexpectedly (see its output above)');
        await delay(250);
      }
    };
    const live = (): DemoServer[] => servers.filter((s) => !s.exited);
    let expectedLive = SIZE;
    const everyLiveSees = (v: Views, target: string, state: 'online' | 'offline' | 'online-all'): boolean =>
      live().filter((s) => s.base !== target || state === 'online-all').every((s) => {
        const view = v.get(s.base);
        if (view === undefined) return false;
        return state === 'online-all' ? servers.every((x) => view.get(x.base) === 'online') : view.get(target) === state;
      });

    await until('all 5 servers see each other online', (v) => live().length === SIZE && everyLiveSees(v, '', 'online-all'));
    const s3 = servers[2]!;
    const s4 = servers[3]!;
    print(`\nTaking ${s3.name} offline through POST ${s3.base}clustershazbot/control ...`);
    await control(s3.base, controlSecret, false);
    await until(`every other server sees ${s3.name} offline`, (v) => everyLiveSees(v, s3.base, 'offline'));
    print(`\nKilling ${s4.name} with SIGKILL (no goodbye) ...`);
    expectedLive--;
    s4.child.kill('SIGKILL');
    await until(`every live server sees ${s4.name} offline`, (v) => everyLiveSees(v, s4.base, 'offline'));
    print(`\nBringing ${s3.name} back online ...`);
    await control(s3.base, controlSecret, true);
    await until(`every live server sees ${s3.name} online again`, (v) => everyLiveSees(v, s3.base, 'online'));
    print('\nScenario complete.');
    if (opts.once) return await shutdown(0);
    print('The table keeps updating. Press Ctrl-C to stop the cluster.');
    while (closing === undefined) {
      await show();
      await delay(1_000);
    }
    return await closing;
  } catch (e) {
    print(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return await shutdown(1);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    out.off('error', onOutputError);
  }
}

async function poll(servers: readonly DemoServer[], controlSecret: string): Promise<Views> {
  const views: Views = new Map();
  await Promise.all(servers.map(async (s) => {
    if (s.exited) {
      views.set(s.base, undefined);
      return;
    }
    try {
      const res = await fetch(`${s.base}clustershazbot/list`, {
        headers: { authorization: `Bearer ${controlSecret}` },
        signal: AbortSignal.timeout(1_000),
      });
      if (!res.ok) throw new Error(String(res.status));
      const list = (await res.json()) as { online: Array<{ baseUrl: string }>; offline?: Array<{ baseUrl: string }> };
      const view = new Map<string, 'online' | 'offline'>();
      for (const e of list.online) view.set(e.baseUrl, 'online');
      for (const e of list.offline ?? []) view.set(e.baseUrl, 'offline');
      views.set(s.base, view);
    } catch {
      views.set(s.base, undefined);
    }
  }));
  return views;
}

/** Rows: servers; columns: what each server sees. ● online, ○ offline, · unknown; a dead viewer's column is ×. */
function render(servers: readonly DemoServer[], views: Views): string {
  const header = ['server'.padEnd(26), ...servers.map((s) => `${s.name} sees`.padEnd(8))].join(' ');
  const rows = servers.map((row) => {
    const cells = servers.map((viewer) => {
      const v = views.get(viewer.base);
      const mark = v === undefined ? '×' : v.get(row.base) === 'online' ? '●' : v.get(row.base) === 'offline' ? '○' : '·';
      return mark.padEnd(8);
    });
    return [`${row.name} ${row.base}`.padEnd(26), ...cells].join(' ');
  });
  return [header, ...rows, '● online  ○ offline  · unknown  × not answering'].join('\n');
}

async function control(base: string, secret: string, online: boolean): Promise<void> {
  const res = await fetch(`${base}clustershazbot/control`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'control', online }),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`control answered HTTP ${res.status}`);
}

async function stopChild(s: DemoServer): Promise<void> {
  if (s.exited) return;
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  s.child.kill('SIGINT');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 8_000);
  await exited;
  clearTimeout(timer);
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
