/**
 * The operator CLI against real servers on 127.0.0.1: clusters served by the
 * node:http adapter (with the info route) and by the README's Express routes
 * (list only, so `status` falls back), small servers answering junk, and the
 * built binary (dist/esm/cli/main.js) as a child process, including under a
 * real pseudo-terminal (util-linux `script`) for the hidden prompt and the
 * screen clearing of `watch`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRequestHandler } from '../src/adapters/node.js';
import { runCli } from '../src/cli/program.js';
import type { StatusReport } from '../src/cli/report.js';
import { silentLogger } from '../src/core/logger.js';
import { createCluster, type Cluster } from '../src/engine/cluster.js';
import { startMasterListStore, type MasterListStore } from '../src/master-list/store.js';
import { CONTROL, ExpressCluster, FAST, SECRET, STORE_AUTH } from './helpers/express-cluster.js';
import { freePort, killAll, pollUntil, spawnNode, waitForExit, type ChildHandle } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/esm/cli/main.js');
const DEADLINE_MS = 15_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with the given environment (nothing inherited) and stdin text. */
async function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const stdin = options.stdin === undefined ? undefined : Readable.from([options.stdin]);
  const code = await runCli(args, { stdout, stderr, env: options.env ?? {}, ...(stdin && { stdin }) });
  return { code, stdout: out, stderr: err };
}

/** Runs the built binary as a child process; `input` is written to its stdin once it has started. */
async function bin(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function parseReport(text: string): StatusReport {
  return JSON.parse(text) as StatusReport;
}

/** A real HTTP server on 127.0.0.1:0 running `handler`; closed by closeAll(). */
const servers: Server[] = [];
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}
async function closeAll(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => {
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    return closed;
  }));
}

/** Clusters on plain node:http servers with createRequestHandler (so `info` exists), sharing a real master-list store. */
class NodeHttpCluster {
  readonly nodes: Array<{ baseUrl: string; cluster: Cluster; server: Server }> = [];
  #store: MasterListStore | undefined;
  #dir = '';

  async start(count: number): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), 'shazbot-cli-'));
    this.#store = await startMasterListStore({ file: join(this.#dir, 'list.json'), auth: STORE_AUTH });
    for (let i = 0; i < count; i++) {
      // The base URL (hence the port) must be known before the cluster exists.
      const current: { cluster?: Cluster } = {};
      const handler = createRequestHandler({ cluster: () => current.cluster });
      const server = createServer((req, res) => {
        void handler(req, res).then((answered) => {
          if (!answered) res.writeHead(404).end();
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const cluster = createCluster({
        baseUrl, secret: SECRET, controlSecret: CONTROL, masterListUrl: this.#store.url,
        masterListUpdateUrl: this.#store.url, masterListUpdateAuth: STORE_AUTH, ...FAST,
      }, { logger: silentLogger });
      current.cluster = cluster;
      this.nodes.push({ baseUrl, cluster, server });
    }
    await Promise.all(this.nodes.map((n) => n.cluster.start()));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.cluster.shutdown()));
    await Promise.all(this.nodes.map((n) => {
      const closed = new Promise<void>((resolve) => n.server.close(() => resolve()));
      n.server.closeAllConnections();
      return closed;
    }));
    await this.#store?.close();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** Polls `status --json` of `base` until `ok` holds for its report. */
function statusUntil(base: string, description: string, ok: (r: StatusReport) => boolean): Promise<StatusReport> {
  return pollUntil(async (report) => {
    const run = await cli(['status', base, '--json'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    report(run);
    const r = run.code === 0 ? parseReport(run.stdout) : undefined;
    return r !== undefined && ok(r) ? r : undefined;
  }, { timeoutMs: DEADLINE_MS, intervalMs: 100, description });
}

const stateOf = (r: StatusReport, url: string): string | undefined => r.servers.find((s) => s.baseUrl === url)?.state;

/** The binary must be built from the current sources (npm test builds first). */
async function checkBuilt(): Promise<void> {
  const built = await stat(BIN).catch(() => undefined);
  if (built === undefined) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
  const sources = (await readdir(join(ROOT, 'src/cli'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of sources) {
    if ((await stat(join(ROOT, 'src/cli', file))).mtimeMs > built.mtimeMs) {
      throw new Error(`dist/esm/cli is older than src/cli/${file}: run \`npm run build\` first`);
    }
  }
}

beforeAll(checkBuilt);
afterEach(closeAll);

describe('status, watch and control against a cluster with the info route (node:http adapter)', () => {
  const cluster = new NodeHttpCluster();
  let urls: string[] = [];

  beforeAll(async () => {
    await cluster.start(3);
    urls = cluster.nodes.map((n) => n.baseUrl).sort();
    for (const url of urls) {
      await statusUntil(url, `${url} to see all three online`, (r) => r.servers.filter((s) => s.state === 'online').length === 3);
    }
  });
  afterAll(() => cluster.close());

  it('status prints a table of every server from the info view', async () => {
    const a = cluster.nodes[0]!.baseUrl;
    // The trailing slash is added when missing.
    const run = await cli(['status', a.slice(0, -1)], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${a}: 3 servers, 3 online, 0 suspect, 0 offline (from info)`);
    expect(lines[1]).toMatch(/^SERVER +STATE +MONITOR +VERSION +LAST CONTACT$/);
    for (const url of urls) {
      const line = lines.slice(2).find((l) => l.startsWith(url));
      expect(line, run.stdout).toMatch(url === a ? / \(self\) +online .* self$/ : / online +no +\d{4}-\d\d-\d\dT[\d:.]+Z +(just now|\d+s ago|never)$/);
    }
  });

  it('status --json gives the servers, their states and which one answered', async () => {
    const run = await cli(['status', urls[1]!, '--json'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout);
    expect(report).toMatchObject({ url: urls[1], source: 'info', offlineIncluded: true });
    expect(report.servers.map((s) => s.baseUrl)).toEqual(urls);
    expect(report.servers.every((s) => s.state === 'online' && typeof s.version === 'number')).toBe(true);
    expect(report.servers.filter((s) => s.self).map((s) => s.baseUrl)).toEqual([urls[1]]);
  });

  it('status reads the secret from one line of stdin with --secret-stdin', async () => {
    const run = await cli(['status', urls[0]!, '--json', '--secret-stdin'], { stdin: `${CONTROL}\nignored\n` });
    expect(run.code).toBe(0);
    expect(parseReport(run.stdout).source).toBe('info');
  });

  it('status without the secret lists online servers and says offline ones need the secret', async () => {
    const text = await cli(['status', urls[0]!]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('(from list)');
    expect(text.stdout).toContain('note: offline servers are not shown: they need the control secret');
    for (const url of urls) expect(text.stdout).toContain(url);
    const json = parseReport((await cli(['status', urls[0]!, '--json'])).stdout);
    expect(json).toMatchObject({ source: 'list', offlineIncluded: false });
    expect(json.note).toMatch(/need the control secret/);
    expect(json.servers.map((s) => s.baseUrl)).toEqual(urls);
  });

  it('takes the first key of a rotation list, as the servers do', async () => {
    const run = await cli(['status', urls[0]!, '--json'], { env: { SHAZBOT_CONTROL_SECRET: `${CONTROL},old-control-secret-0123456789` } });
    expect(run.code).toBe(0);
    expect(parseReport(run.stdout)).toMatchObject({ source: 'info', offlineIncluded: true });
    const wrongFirst = await cli(['status', urls[0]!], { env: { SHAZBOT_CONTROL_SECRET: `not-the-secret-42,${CONTROL}` } });
    expect(wrongFirst.code).toBe(1);
  });

  it('status with a wrong secret exits 1 without showing the secret', async () => {
    const run = await cli(['status', urls[0]!], { env: { SHAZBOT_CONTROL_SECRET: 'not-the-secret-42' } });
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toBe('error: unauthorized: wrong control secret\n');
  });

  it('control --offline takes a server offline, everyone sees it, and --online brings it back', async () => {
    const [observer, target] = [urls[0]!, urls[2]!];
    const off = await cli(['control', target, '--offline'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(off).toEqual({ code: 0, stdout: `${target}: taken offline\n`, stderr: '' });
    const seen = await statusUntil(observer, `${target} to be offline`, (r) => stateOf(r, target) === 'offline');
    expect(seen.servers.find((s) => s.baseUrl === target)?.reason).toBe('admin');
    const text = await cli(['status', observer], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(text.stdout).toMatch(/ 1 offline \(from info\)/);
    expect(text.stdout.split('\n').find((l) => l.startsWith(target))).toMatch(/ offline \(admin\) /);

    const on = await cli(['control', target, '--online', '--secret-stdin'], { stdin: `${CONTROL}\n` });
    expect(on).toEqual({ code: 0, stdout: `${target}: brought online\n`, stderr: '' });
    await statusUntil(observer, `${target} to be online again`, (r) => stateOf(r, target) === 'online');
  });

  it('control with a wrong secret exits 1 and changes nothing', async () => {
    const target = cluster.nodes[1]!;
    const run = await cli(['control', target.baseUrl, '--offline'], { env: { SHAZBOT_CONTROL_SECRET: 'wrong-secret-123' } });
    expect(run).toEqual({ code: 1, stdout: '', stderr: 'error: unauthorized: wrong control secret\n' });
    expect(target.cluster.self().state).toBe('online');
  });

  it('watch --count 2 --json prints one JSON report per refresh', async () => {
    const run = await cli(['watch', urls[0]!, '--json', '--count', '2', '--interval', '0.1'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(parseReport(line).servers.map((s) => s.baseUrl)).toEqual(urls);
  });

  it('watch prints plain tables without ANSI codes when stdout is not a terminal', async () => {
    const run = await cli(['watch', urls[0]!, '--count', '2', '--interval', '0.1']);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('\u001b');
    expect(run.stdout.match(/: 3 servers, 3 online/g)).toHaveLength(2);
  });

  it('the binary watch runs until Ctrl-C (SIGINT), then exits 0', async () => {
    const child = spawnNode('watch', BIN, ['watch', urls[0]!, '--json', '--interval', '0.1'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });
    try {
      await pollUntil(() => (child.output().split('\n').filter((l) => l.includes('"servers"')).length >= 2 ? true : undefined), {
        timeoutMs: DEADLINE_MS, intervalMs: 20, description: 'two refreshes',
      });
      child.process.kill('SIGINT');
      expect(await waitForExit(child, DEADLINE_MS)).toEqual({ code: 0, signal: null });
    } finally {
      await killAll([child]);
    }
  });

  it('the binary prints status JSON (secret from the environment)', async () => {
    const run = await bin(['status', urls[0]!, '--json'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(parseReport(run.stdout).servers.map((s) => s.baseUrl)).toEqual(urls);
  });

  it('under a terminal, control prompts for the secret with echo off', async () => {
    const target = urls[1]!;
    const child = spawn('script', ['-qec', `"${process.execPath}" "${BIN}" control ${target} --offline`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'dumb' },
      stdio: 'pipe',
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const closed = once(child, 'close');
    await pollUntil(() => (output.includes('Control secret (input hidden): ') ? true : undefined), {
      timeoutMs: DEADLINE_MS, intervalMs: 20, description: 'the secret prompt',
    });
    child.stdin.write(`${CONTROL}\r`);
    const [code] = (await closed) as [number | null];
    expect(output).toContain(`${target}: taken offline`);
    expect(output).not.toContain(CONTROL);
    expect(code).toBe(0);
    await statusUntil(urls[0]!, `${target} to be offline`, (r) => stateOf(r, target) === 'offline');
    expect((await cli(['control', target, '--online'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } })).code).toBe(0);
    await statusUntil(urls[0]!, `${target} to be online again`, (r) => stateOf(r, target) === 'online');
  });

  it('under a terminal, watch clears the screen before each table', async () => {
    const child = spawn('script', ['-qec', `"${process.execPath}" "${BIN}" watch ${urls[0]!} --count 2 --interval 0.1`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'dumb' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    // eslint-disable-next-line no-control-regex -- the ANSI clear-screen sequence
    expect(output.match(/\u001b\[2J\u001b\[H\d{4}-\d\d-\d\dT[\d:.]+Z {2}http:\/\/127\.0\.0\.1:\d+\/: 3 servers/g), output).toHaveLength(2);
    expect(code).toBe(0);
  });
});

describe('status against servers without the info route (README Express routes)', () => {
  const cluster = new ExpressCluster();
  let urls: string[] = [];

  beforeAll(async () => {
    await cluster.open();
    urls = (await cluster.addMany(2)).map((n) => n.baseUrl).sort();
    for (const url of urls) {
      await statusUntil(url, `${url} to list both online`, (r) => r.servers.filter((s) => s.state === 'online').length === 2);
    }
  });
  afterAll(() => cluster.close());

  it('falls back to the list, offline servers included, when info answers 404', async () => {
    const json = await cli(['status', urls[0]!, '--json'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(json.code).toBe(0);
    const report = parseReport(json.stdout);
    expect(report).toMatchObject({ source: 'list', offlineIncluded: true });
    expect(report.note).toBeUndefined();
    expect(report.servers.map((s) => [s.baseUrl, s.state])).toEqual(urls.map((u) => [u, 'online']));
    const text = await cli(['status', urls[1]!], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(text.stdout).toContain('2 servers, 2 online, 0 suspect, 0 offline (from list)');
    for (const url of urls) expect(text.stdout).toMatch(new RegExp(`${url} +online +no +\\S+Z +-\\n`));
  });
});

describe('failures: unreachable servers, junk answers, usage errors', () => {
  it('exits 3 when nothing listens on the port', async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    const run = await cli(['status', url]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`^error: cannot reach ${url}clustershazbot/list: .*ECONNREFUSED.*\\n$`));
    const watch = await cli(['watch', url, '--json', '--count', '2', '--interval', '0.1']);
    expect(watch.code).toBe(3);
    expect(watch.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { exitCode: number }).exitCode)).toEqual([3, 3]);
  });

  it('exits 3 when the server does not answer within --timeout', async () => {
    const url = await serve(() => undefined);
    const run = await cli(['control', url, '--offline', '--timeout', '300'], { env: { SHAZBOT_CONTROL_SECRET: CONTROL } });
    expect(run).toEqual({ code: 3, stdout: '', stderr: `error: cannot reach ${url}clustershazbot/control: no answer within 300 ms\n` });
  });

  it('exits 1 with a clear message on answers that are not JSON, of the wrong shape or too large', async () => {
    const answers: Record<string, string> = {
      '/notjson/clustershazbot/list': '<html>hello</html>',
      '/shape/clustershazbot/list': '{"online":[{"baseUrl":"http://x/","monitor":"yes","lastUpdate":1}]}',
      '/time/clustershazbot/list': '{"online":[{"baseUrl":"http://x/","monitor":false,"lastUpdate":1e300}]}',
    };
    const url = await serve((req, res) => {
      res.on('error', () => undefined); // the CLI hangs up on the huge answer
      if (req.url === '/huge/clustershazbot/list') {
        res.write('{"online":[');
        res.end(' '.repeat(17 * 1024 * 1024));
        return;
      }
      res.end(answers[req.url ?? ''] ?? '{}');
    });
    const problems = [['notjson', 'no "online" array'], ['shape', "a server's monitor is not a boolean"], ['time', "a server's lastUpdate is not a time in ms"]];
    for (const [path, why] of problems) {
      const run = await cli(['status', `${url}${path}/`]);
      expect(run).toEqual({ code: 1, stdout: '', stderr: `error: ${url}${path}/clustershazbot/list answered something that is not a clustershazbot list: ${why}\n` });
    }
    const huge = await cli(['status', `${url}huge/`]);
    expect(huge).toMatchObject({ code: 1, stderr: `error: ${url}huge/clustershazbot/list answered more than 16777216 bytes\n` });
  });

  it('strips terminal escapes and control characters from what servers send', async () => {
    const evil = 'http://evil/\u001b]0;owned\u0007\u001b[2J\u009b31m\r\n\u202e';
    const url = await serve((req, res) => {
      if (req.url === '/clustershazbot/info') {
        res.writeHead(200).end(JSON.stringify({
          now: 5_000, servers: [{ baseUrl: evil, state: 'suspect', monitor: true, version: 1_000, lastContactAt: 1_000, self: false, extra: 1 }],
        }));
      } else {
        res.writeHead(418).end(JSON.stringify({ error: 'no \u001b[31mteapots\u001b[0m here' }));
      }
    });
    const text = await cli(['status', url], { env: { SHAZBOT_CONTROL_SECRET: 'any' } });
    expect(text.stdout).toContain('http://evil/  suspect  yes      1970-01-01T00:00:01.000Z  4s ago');
    const json = await cli(['status', url, '--json'], { env: { SHAZBOT_CONTROL_SECRET: 'any' } });
    expect(parseReport(json.stdout).servers[0]?.baseUrl).toBe('http://evil/');
    const error = await cli(['control', url, '--online'], { env: { SHAZBOT_CONTROL_SECRET: 'any' } });
    expect(error).toEqual({ code: 1, stdout: '', stderr: `error: ${url}clustershazbot/control answered HTTP 418: no teapots here\n` });
    // eslint-disable-next-line no-control-regex -- looking for control characters
    for (const run of [text, json, error]) expect(run.stdout + run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });

  it.each([
    [['control', 'http://127.0.0.1:1/', '--online', '--offline'], /cannot be used with option '--offline'/],
    [['control', 'http://127.0.0.1:1/'], /exactly one of --online or --offline/],
    [['control', 'http://127.0.0.1:1/', '--offline'], /no control secret/],
    [['status'], /missing required argument 'url'/],
    [['status', 'not a url'], /invalid server URL "not a url"/],
    [['status', 'ftp://x/'], /must be an http: or https: URL/],
    [['watch', 'http://127.0.0.1:1/', '--interval', 'soon'], /must be a number from 0.1 to 86400/],
    [['keygen', '--bytes', '8'], /must be an integer from 16 to 1024/],
    [['master-list', 'serve'], /required option '--file <path>' not specified/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /Usage: clustershazbot/],
  ])('usage error %j exits 2', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('--help exits 0 and lists every command', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['status', 'watch', 'control', 'keygen', 'master-list', 'demo']) expect(run.stdout).toContain(command);
  });
});

describe('the binary', () => {
  const children: ChildHandle[] = [];
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shazbot-cli-bin-'));
  });
  afterEach(() => killAll(children.splice(0)));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keygen prints 32 random bytes as base64url, different every time; --bytes changes the size', async () => {
    const [a, b, big] = await Promise.all([bin(['keygen']), bin(['keygen']), bin(['keygen', '--bytes', '64'])]);
    for (const run of [a, b]) expect(run).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^[A-Za-z0-9_-]{43}\n$/) as unknown });
    expect(a.stdout).not.toBe(b.stdout);
    expect(Buffer.from(a.stdout.trim(), 'base64url')).toHaveLength(32);
    expect(big.stdout).toMatch(/^[A-Za-z0-9_-]{86}\n$/);
    expect((await bin(['keygen', '--bytes', '2000'])).code).toBe(2);
  });

  it('is an executable script with a node shebang, so `npx clustershazbot` can run it from a checkout', async () => {
    // Not run through npx here: npm exec inside the project may reinstall it, and its prepare step rebuilds dist/ under the other tests.
    const { mode } = await stat(BIN);
    expect(mode & 0o111).toBe(0o111);
    expect((await readFile(BIN, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  /** Starts `master-list serve` and resolves with the child and the URL it prints. */
  async function startServe(args: string[], env: Record<string, string>): Promise<{ child: ChildHandle; url: string }> {
    const child = spawnNode('serve', BIN, ['master-list', 'serve', ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } });
    children.push(child);
    const url = await pollUntil(() => /listening on (http:\/\/\S+\/)/.exec(child.output())?.[1], {
      timeoutMs: DEADLINE_MS, intervalMs: 20, description: `the store to listen; output: ${child.output()}`,
    });
    return { child, url };
  }

  it('master-list serve stores PUTs that carry the auth, refuses others, and exits 0 on SIGTERM', async () => {
    const token = 'Bearer cli-store-token-0123456789abcdef';
    const file = join(dir, 'sub', 'list.json');
    const { child, url } = await startServe(['--file', file, '--port', String(await freePort())], { SHAZBOT_MASTER_LIST_UPDATE_AUTH: token });
    const list = JSON.stringify({ online: [{ baseUrl: 'http://10.1.2.3:3000/', monitor: false, lastUpdate: 1 }], offline: [] });
    const put = (auth?: string): Promise<Response> =>
      fetch(url, { method: 'PUT', body: list, headers: { 'content-type': 'application/json', ...(auth && { authorization: auth }) } });
    expect((await put()).status).toBe(401);
    expect((await put('Bearer wrong')).status).toBe(401);
    expect((await fetch(url)).status).toBe(200);
    expect(await (await fetch(url)).text()).toBe('{"online":[],"offline":[]}');
    expect((await put(token)).status).toBe(200);
    expect(await (await fetch(url)).text()).toBe(list);
    child.process.kill('SIGTERM');
    expect(await waitForExit(child, DEADLINE_MS)).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('master-list store stopped');
    expect(child.output()).not.toContain('cli-store-token');
  });

  it('master-list serve warns when it has no auth on a non-loopback host, and exits 0 on SIGINT', async () => {
    const { child, url } = await startServe(['--file', join(dir, 'open.json'), '--host', '0.0.0.0', '--port', '0'], {});
    expect(child.output()).toContain('warning: no --auth or SHAZBOT_MASTER_LIST_UPDATE_AUTH: anyone who can reach 0.0.0.0 may overwrite the master list');
    expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/);
    child.process.kill('SIGINT');
    expect(await waitForExit(child, DEADLINE_MS)).toEqual({ code: 0, signal: null });
  });

  it('master-list serve with --auth on loopback does not warn and never prints the value', async () => {
    const { child, url } = await startServe(['--file', join(dir, 'auth.json'), '--auth', 'Bearer flag-token-9876543210'], {});
    expect((await fetch(url, { method: 'PUT', body: '{"online":[]}', headers: { authorization: 'Bearer flag-token-9876543210' } })).status).toBe(200);
    child.process.kill('SIGTERM');
    expect(await waitForExit(child, DEADLINE_MS)).toEqual({ code: 0, signal: null });
    expect(child.output()).not.toMatch(/warning|flag-token/);
  });

  it('demo --once runs the local demo scenario and exits 0', async () => {
    const run = await bin(['demo', '--once']);
    expect(run.stdout).toContain('Scenario complete.');
    expect(run.stdout).toContain('All servers stopped.');
    expect(run.code).toBe(0);
  }, 120_000);

  it('usage errors exit 2 and unreachable servers exit 3', async () => {
    expect((await bin(['control', 'http://127.0.0.1:1/', '--online', '--offline'])).code).toBe(2);
    const run = await bin(['status', `http://127.0.0.1:${await freePort()}/`]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: cannot reach .*\n$/);
  });
});
