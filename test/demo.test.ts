/**
 * `npm run demo` end to end: scripts/demo.mjs as a real process (which
 * starts five demo servers), its output read as a reader would, and the
 * demo servers' /demo/kv routes. Needs `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, REPO_ROOT } from './helpers/processes.js';

const script = join(REPO_ROOT, 'scripts', 'demo.mjs');
const SCENARIO_MS = 120_000;
/** The state scene's keys: "greeting", then 200 written while s5 is down. */
const KEYS = 201;

/** A running demo and what it has printed so far (stdout and stderr). */
interface DemoRun {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the output once it contains `text`; rejects after `timeoutMs`. */
  waitFor(text: string, timeoutMs?: number): Promise<string>;
}

const runs: DemoRun[] = [];

/**
 * Starts `node scripts/demo.mjs ...args` from the repository root with this
 * process's environment minus SHAZBOT_CONTROL_SECRET, plus `env`. With
 * `detached`, it leads its own process group, as a shell's foreground job does.
 */
function startDemo(args: string[], options: { env?: Record<string, string>; detached?: boolean } = {}): DemoRun {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.['SHAZBOT_CONTROL_SECRET'] === undefined) delete env['SHAZBOT_CONTROL_SECRET'];
  const child = spawn(process.execPath, [script, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached === true });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })));
  const run: DemoRun = {
    child,
    exited,
    output: () => out,
    waitFor: (text, timeoutMs = SCENARIO_MS) =>
      pollUntil(() => {
        if (out.includes(text)) return out;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the demo exited before printing ${JSON.stringify(text)}:\n${out}`);
        return undefined;
      }, { timeoutMs, description: `the demo to print ${JSON.stringify(text)}` }).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- demo output ---\n${out}`);
      }),
  };
  runs.push(run);
  return run;
}

/** The servers' base URLs from the `started sN at <url>` lines, s1 first. */
function serverUrls(out: string): string[] {
  return [...out.matchAll(/started s\d at (http:\/\/\S+)/g)].map((m) => m[1]!);
}

/** Waits until none of `urls` accepts a request any more. */
async function expectNoServerAnswers(urls: readonly string[]): Promise<void> {
  expect(urls).toHaveLength(5);
  await pollUntil(async (report) => {
    const answering = await Promise.all(urls.map((u) => fetch(`${u}clustershazbot/health`, { signal: AbortSignal.timeout(1_000) }).then(() => true, () => false)));
    report(answering);
    return answering.every((a) => !a) ? true : undefined;
  }, { timeoutMs: 15_000, description: 'every demo server to stop answering' });
}

/** Pids of the processes in process group `pgid` (Linux: /proc/<pid>/stat), or undefined where there is no /proc. */
function processGroupMembers(pgid: number): number[] | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid pgrp ...: comm may contain spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) members.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return members;
}

/** `sh -c command` from the repository root, without SHAZBOT_CONTROL_SECRET in its environment. */
function shell(command: string): Promise<{ code: number | null; out: string }> {
  const env = { ...process.env };
  delete env['SHAZBOT_CONTROL_SECRET'];
  const child = spawn('sh', ['-c', command], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

beforeAll(() => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'esm', 'demo', 'run-demo.js'))) throw new Error('dist/ is missing: run `npm run build` first');
});

// A failed test may leave its demo running: SIGKILL it; its servers see their stdin close and leave.
afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }
});

describe('npm run demo', () => {
  it('runs the whole scenario with --once, and never prints a preset control secret', async () => {
    const preset = `preset-${randomBytes(18).toString('base64url')}`;
    const run = startDemo(['--once'], { env: { SHAZBOT_CONTROL_SECRET: preset } });
    const { code } = await run.exited;
    const out = run.output();
    expect(out, out).toContain('==> all 5 servers see each other online');
    expect(out).toContain('==> every other server sees s3 offline');
    expect(out).toContain('==> every live server sees s4 offline');
    expect(out).toContain('==> every live server sees s3 online again');
    // The state scene: a write on s1 reaches every live server; s5, restarted, is ready only once it holds every key.
    expect(out).toMatch(/^==> every live server holds "greeting" \(\d+ ms\)$/m);
    expect(out).toMatch(/^ {2}s5 exited \(code 0, \d+ ms\)$/m);
    expect(out).toMatch(new RegExp(`^==> every live server holds ${KEYS} keys \\(\\d+ ms\\)$`, 'm'));
    const ready = new RegExp(`^==> s5 was not ready for \\d+ ms \\((\\d+) probes answered 503(?:, (\\d+) found no server listening yet)?\\), then ready holding all ${KEYS} keys$`, 'm').exec(out);
    expect(ready, out).not.toBeNull();
    // It was spawned without being ready: at least one probe (10 ms apart) found it starting or not yet listening.
    expect(Number(ready![1]) + Number(ready![2] ?? 0)).toBeGreaterThan(0);
    expect(out.indexOf('==> every live server sees s3 online again')).toBeLessThan(out.indexOf('==> every live server holds "greeting"'));
    expect(out.indexOf(ready![0])).toBeLessThan(out.indexOf('Scenario complete.'));
    for (const name of ['s1', 's2', 's3', 's5']) expect(out).toMatch(new RegExp(`^  ${name} stopped gracefully`, 'm'));
    expect(out).toContain('All servers stopped. All 5 have exited. Bye.');
    expect(out).not.toMatch(/demo failed/);
    expect(code).toBe(0);
    // How to use the preset secret, without the secret.
    const s1 = serverUrls(out)[0]!;
    expect(out).toContain(`Dashboard: ${s1}clustershazbot/dashboard`);
    expect(out).toContain('the password is your SHAZBOT_CONTROL_SECRET');
    expect(out).toMatch(new RegExp(`^Status: +node dist/esm/cli/main\\.js status ${s1}$`, 'm'));
    expect(out).not.toContain('password:');
    expect(out).not.toContain(preset);
  }, SCENARIO_MS + 30_000);

  it('prints a session password and status command that work, and stops every server on Ctrl-C', async () => {
    const run = startDemo([], { detached: true });
    const out = await run.waitFor('Press Ctrl-C to stop the cluster.');
    const urls = serverUrls(out);
    const dashboard = /Dashboard: (\S+)/.exec(out)?.[1];
    const password = /password: (\S+)(?:\s|$)/.exec(out)?.[1];
    const command = /Status:\s+(.+)$/m.exec(out)?.[1]?.trim();
    expect(dashboard).toBe(`${urls[0]}clustershazbot/dashboard`);
    expect(password).toMatch(/^[\w-]{32}$/);
    expect(command).toBe(`SHAZBOT_CONTROL_SECRET=${password} node dist/esm/cli/main.js status ${urls[0]}`);
    // Shown on the demo's own lines only: the password line and the command, never in a server's log line.
    expect(out.split(password!).length - 1, out).toBe(2);

    // The demo routes: every live server holds the state scene's keys; bad requests get their status.
    const live = urls.filter((_, i) => i !== 3);
    for (const url of live) {
      const kv = (await (await fetch(`${url}demo/kv`, { signal: AbortSignal.timeout(5_000) })).json()) as { size: number; ready: boolean; sample: unknown[] };
      expect(kv).toMatchObject({ size: KEYS, ready: true });
      expect(kv.sample.length).toBeLessThanOrEqual(5);
      const entry = await fetch(`${url}demo/kv/key-007`, { signal: AbortSignal.timeout(5_000) });
      expect(await entry.json()).toMatchObject({ key: 'key-007', value: { n: 7, via: 's2' }, writer: urls[1] });
    }
    const put = (body: string, key = 'k'): Promise<Response> =>
      fetch(`${urls[0]}demo/kv/${key}`, { method: 'PUT', body, signal: AbortSignal.timeout(5_000) });
    expect((await put('{"not json')).status).toBe(400);
    expect((await put(JSON.stringify('x'.repeat(20_000)))).status).toBe(413);
    const ok = await put('{"n":1}', 'from%20test');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ key: 'from test', acks: 1, version: { replica: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/#/) } });
    expect((await fetch(`${urls[0]}demo/kv/absent`, { signal: AbortSignal.timeout(5_000) })).status).toBe(404);
    expect((await fetch(`${urls[0]}demo/kv`, { method: 'POST', signal: AbortSignal.timeout(5_000) })).status).toBe(405);

    // The dashboard, with HTTP Basic: any user name, the session password.
    expect((await fetch(dashboard!, { signal: AbortSignal.timeout(5_000) })).status).toBe(401);
    const page = await fetch(dashboard!, {
      headers: { authorization: `Basic ${Buffer.from(`any-user:${password}`).toString('base64')}` },
      signal: AbortSignal.timeout(5_000),
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<html/i);

    // The status command, pasted as printed: it lists s4 (killed by the scenario) as offline.
    const status = await shell(command!);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(new RegExp(`^${urls[3]!.replace(/[.]/g, '\\.')}\\s+offline`, 'm'));

    // The servers run in process groups of their own: a terminal's Ctrl-C reaches the demo alone.
    const group = processGroupMembers(run.child.pid!);
    if (group !== undefined) expect(group).toEqual([run.child.pid]);
    // Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group.
    process.kill(-run.child.pid!, 'SIGINT');
    const { code, signal } = await run.exited;
    const end = run.output().slice(out.length);
    expect({ code, signal }, end).toEqual({ code: 0, signal: null });
    expect(end).toContain('Stopping (Ctrl-C)');
    expect(end).toContain('  s4 was already gone (killed with SIGKILL by the scenario)');
    for (const name of ['s1', 's2', 's3', 's5']) expect(end).toMatch(new RegExp(`^  ${name} stopped gracefully`, 'm'));
    expect(end).toMatch(/\nAll servers stopped\. All 5 have exited\. Bye\.\n$/);
    expect(end).not.toMatch(/demo failed|Unhandled|Error/);
    await expectNoServerAnswers(urls);
  }, SCENARIO_MS + 60_000);

  it('stops every server on a Ctrl-C while the state scene restarts s5', async () => {
    const run = startDemo([], { detached: true });
    // Ctrl-C as soon as the demo says it started s5 again (while it boots and syncs), not after a poll interval.
    let sent = false;
    run.child.stdout!.on('data', () => {
      if (sent || !run.output().includes('started s5 again at')) return;
      sent = true;
      process.kill(-run.child.pid!, 'SIGINT');
    });
    const { code, signal } = await run.exited;
    const out = run.output();
    expect(sent, out).toBe(true);
    expect({ code, signal }, out).toEqual({ code: 0, signal: null });
    const end = out.slice(out.indexOf('started s5 again at'));
    expect(end).toContain('Stopping (Ctrl-C)');
    expect(end).toContain('  s4 was already gone (killed with SIGKILL by the scenario)');
    for (const name of ['s1', 's2', 's3']) expect(end).toMatch(new RegExp(`^  ${name} stopped gracefully`, 'm'));
    // The new s5 is stopped too: gracefully, or by the signal if it came before the process set up its handler.
    expect(end).toMatch(/^ {2}s5 stopped (gracefully|\(signal SIGINT)/m);
    expect(end).toMatch(/\nAll servers stopped\. All 5 have exited\. Bye\.\n$/);
    expect(end).not.toMatch(/demo failed|Unhandled|Error/);
    expect(end).not.toContain('Scenario complete.');
    await expectNoServerAnswers(serverUrls(out));
  }, SCENARIO_MS + 30_000);

  it('leaves no server behind when the demo itself is killed (SIGKILL)', async () => {
    const run = startDemo([]);
    const out = await run.waitFor('==> all 5 servers see each other online');
    const urls = serverUrls(out);
    run.child.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    // Each server sees its stdin pipe close and leaves: nothing answers any more.
    await expectNoServerAnswers(urls);
  }, 60_000);
});
