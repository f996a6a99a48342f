/**
 * Builds and runs every example of examples/ as real processes on 127.0.0.1,
 * as CI would after `npm run build`:
 * - each app (node-http, express, fastify, nest) is compiled with the root
 *   TypeScript and run as two servers plus a master-list store started with
 *   the CLI (`clustershazbot master-list serve`): health 200, the servers
 *   list each other, the app's /peers route, the events it logs, the
 *   dashboard, and a graceful SIGTERM (exit 0, the other logs the departure);
 * - examples/docker: Docker cannot run here, so the Dockerfile's RUN steps
 *   are run (or checked) through their local equivalents and compose.yml's
 *   services run as child processes with their own commands, environment and
 *   healthchecks, host names and ports mapped to loopback;
 * - EXAMPLES.md: every code block is a verbatim excerpt of an example file
 *   or compiles against the package.
 * Nothing is installed: `clustershazbot` resolves through a link (see
 * linkPackage) and the frameworks from the root node_modules.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config.js';
import {
  dockerEnv, EXAMPLES, execForm, linkPackage, loadYaml, localServices, parseDockerfile, parseDotenv, requireBuilt, ROOT, run,
  terminate, untilListsEachOther, untilPrinted, type ComposeService, type DockerInstruction, type LocalService,
} from './helpers/examples.js';
import { dumpOutput, freePorts, killAll, pollUntil, requestJson, spawnNode, type ChildHandle } from './helpers/processes.js';

/** Deadlines: up to 16 Node processes share two cores with the rest of the suite. */
const READY_MS = 30_000;
const CONVERGE_MS = 30_000;
const SCENARIO_MS = 100_000;
/**
 * compose.yml keeps the default timings. Servers that start together with an
 * empty master list may learn of one another only at their first
 * anti-entropy round (at most one jittered gossip interval).
 */
const DOCKER_CONVERGE_MS = DEFAULTS.gossipIntervalMs * (1 + DEFAULTS.gossipJitter) + CONVERGE_MS;

type Example = 'node-http' | 'express' | 'fastify' | 'nest';
const EXAMPLE_NAMES: readonly Example[] = ['node-http', 'express', 'fastify', 'nest'];
/** The example the Dockerfile builds; its RUN compiles it, so beforeAll does not compile it a second time. */
const DOCKER_EXAMPLE: Example = 'node-http';
const SERVERS_PER_EXAMPLE = 2;
const DOCKER_SERVICES = 4;

const secret = randomBytes(24).toString('base64url');
const controlSecret = randomBytes(24).toString('base64url');
const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
const cli = join(ROOT, (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.clustershazbot!);
const dockerDir = join(EXAMPLES, 'docker');
const dockerStages = parseDockerfile(readFileSync(join(dockerDir, 'Dockerfile'), 'utf8'));

const children: ChildHandle[] = [];
let tmp = '';
let ports: number[] = [];

const tscArgs = (example: Example): string[] => ['node_modules/typescript/bin/tsc', '-p', `examples/${example}`];

function spawnChild(name: string, script: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): ChildHandle {
  const handle = spawnNode(name, script, args, { cwd, env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
  children.push(handle);
  return handle;
}

/** Runs `body`; on failure prints what the given children printed, then fails. */
async function showingOutput(handles: () => ChildHandle[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    console.error(dumpOutput(handles()));
    throw error;
  }
}

async function untilAnswers(url: string, status: number): Promise<void> {
  await pollUntil(async (report) => {
    const answer = await requestJson(url);
    report(answer);
    return answer.status === status ? true : undefined;
  }, { timeoutMs: READY_MS, description: `${url} to answer ${status}` });
}

/**
 * What each RUN of the Dockerfile does here instead, keyed by the exact
 * command: a RUN without an entry fails the test, so the two cannot drift.
 */
const RUN_EQUIVALENTS: Readonly<Record<string, (command: string) => Promise<unknown>>> = {
  // The repository's dependencies are installed here already.
  'npm ci --ignore-scripts --no-audit --no-fund': async () => expect(existsSync(join(ROOT, 'node_modules', '.package-lock.json'))).toBe(true),
  // `npm test` builds the package before the tests run.
  'node scripts/build.mjs': async () => requireBuilt(),
  // A dry run: the package holds what the image runs (the bin and the adapter).
  'mkdir /pkg && npm pack --ignore-scripts --pack-destination /pkg': async () => {
    const out = await run('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], { cwd: ROOT });
    const files = (JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/esm/cli/main.js', 'dist/esm/adapters/node.js']));
  },
  // WORKDIR /repo is the repository root: run these as they are.
  'mkdir -p examples/node_modules && ln -sfn ../.. examples/node_modules/clustershazbot': (command) => run(command, undefined, { cwd: ROOT }),
  [`node ${tscArgs(DOCKER_EXAMPLE).join(' ')}`]: (command) => run(command, undefined, { cwd: ROOT }),
  // The app resolves the package through the link instead of the installed tarball.
  'npm install --omit=dev --no-audit --no-fund /pkg/clustershazbot-*.tgz && rm -rf /pkg': () =>
    run(process.execPath, ['--input-type=module', '-e', "await import('clustershazbot/node')"], { cwd: join(EXAMPLES, DOCKER_EXAMPLE) }),
  // The store's data directory is a temporary directory here (see the compose test).
  'mkdir -p /data && chown node:node /data': async () => undefined,
};

async function runDockerfileSteps(): Promise<void> {
  for (const { args } of dockerStages.flat().filter((i) => i.keyword === 'RUN')) {
    const local = RUN_EQUIVALENTS[args];
    if (local === undefined) throw new Error(`Dockerfile: RUN ${args} has no local equivalent in test/examples.test.ts`);
    await local(args);
  }
}

beforeAll(async () => {
  requireBuilt();
  linkPackage();
  tmp = await mkdtemp(join(tmpdir(), 'clustershazbot-examples-'));
  // First: its `ln -sfn` replaces the link, which the other compilations need.
  await runDockerfileSteps();
  await Promise.all(EXAMPLE_NAMES.filter((e) => e !== DOCKER_EXAMPLE).map((e) => run(process.execPath, tscArgs(e), { cwd: ROOT })));
  ports = await freePorts(EXAMPLE_NAMES.length * (SERVERS_PER_EXAMPLE + 1) + DOCKER_SERVICES);
}, 180_000);

afterAll(async () => {
  await killAll(children);
  if (tmp !== '') await rm(tmp, { recursive: true, force: true });
}, 30_000);

/** Checks that only some examples have. */
const EXTRA_CHECKS: Partial<Record<Example, (baseUrls: readonly string[]) => Promise<void>>> = {
  'node-http': async ([first, second]) => {
    // The replicated state: a note written through one instance is read through the other.
    const put = await fetch(`${first}notes/hello`, { method: 'PUT', body: 'from the first instance' });
    expect(put.status).toBe(204);
    const read = await pollUntil(async () => {
      const res = await fetch(`${second}notes/hello`);
      return res.status === 200 ? await res.text() : undefined;
    }, { timeoutMs: CONVERGE_MS, description: 'the note to reach the second instance' });
    expect(read).toBe('from the first instance');
    expect((await fetch(`${first}notes/big`, { method: 'PUT', body: 'x'.repeat(5_000) })).status).toBe(413);
    expect((await fetch(`${second}notes/big`)).status).toBe(404);
  },
  express: async ([first]) => {
    const text = await (await fetch(`${first}metrics`)).text();
    expect(text).toMatch(new RegExp(`^clustershazbot_servers\\{state="online"\\} ${SERVERS_PER_EXAMPLE}$`, 'm'));
  },
};

async function exampleScenario(example: Example, [storePort, ...serverPorts]: number[]): Promise<void> {
  const own: ChildHandle[] = [];
  await showingOutput(() => own, async () => {
    const storeUrl = `http://127.0.0.1:${storePort}/`;
    const serveArgs = ['master-list', 'serve', '--file', join(tmp, `${example}.json`), '--port', String(storePort)];
    const store = spawnChild(`${example}/store`, cli, serveArgs, ROOT, { SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth });
    own.push(store);
    await untilAnswers(storeUrl, 200);
    const servers = serverPorts.map((port, i) => {
      const baseUrl = `http://127.0.0.1:${port}/`;
      const handle = spawnChild(`${example}/${i + 1}`, 'dist/main.js', [], join(EXAMPLES, example), {
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        SHAZBOT_SECRET: secret,
        SHAZBOT_CONTROL_SECRET: controlSecret,
        SHAZBOT_BASE_URL: baseUrl,
        SHAZBOT_MASTER_LIST: storeUrl,
        SHAZBOT_MASTER_LIST_UPDATE: storeUrl,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
        SHAZBOT_GOSSIP_INTERVAL: '1',
        SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '1',
        SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '1',
      });
      own.push(handle);
      return { baseUrl, handle };
    });
    const urls = servers.map((s) => s.baseUrl);

    for (const url of urls) await untilAnswers(`${url}clustershazbot/health`, 200);
    await untilListsEachOther(urls, CONVERGE_MS);
    for (const { baseUrl, handle } of servers) {
      const peers = await requestJson(`${baseUrl}peers`);
      expect(peers.status).toBe(200);
      expect((peers.body as { online: string[] }).online.sort()).toEqual([...urls].sort());
      for (const other of urls.filter((u) => u !== baseUrl)) await untilPrinted(handle, `server up: ${other}`, CONVERGE_MS);
    }

    const dashboard = `${urls[0]}clustershazbot/dashboard`;
    const denied = await fetch(dashboard);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic /);
    const page = await fetch(dashboard, { headers: { authorization: `Basic ${Buffer.from(`:${controlSecret}`).toString('base64')}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    await EXTRA_CHECKS[example]?.(urls);

    const [leaving, staying] = servers as [(typeof servers)[0], (typeof servers)[0]];
    expect(await terminate(leaving.handle)).toEqual({ code: 0, signal: null });
    expect(leaving.handle.output()).toContain('SIGTERM: leaving the cluster');
    await untilPrinted(staying.handle, `server down: ${leaving.baseUrl} (left)`, CONVERGE_MS);
    expect(await terminate(staying.handle)).toEqual({ code: 0, signal: null });
    expect(await terminate(store)).toEqual({ code: 0, signal: null });
  });
}

describe.concurrent('examples as real processes', () => {
  EXAMPLE_NAMES.forEach((example, i) => {
    it(`${example}: two servers and a master-list store join, serve /peers, log events and leave on SIGTERM`, async () => {
      const per = SERVERS_PER_EXAMPLE + 1;
      await exampleScenario(example, ports.slice(i * per, (i + 1) * per));
    }, SCENARIO_MS);
  });

  it('docker: compose.yml\'s store and three apps run with their own commands, converge and report healthy', async () => {
    await composeScenario(ports.slice(-DOCKER_SERVICES));
  }, SCENARIO_MS + DOCKER_CONVERGE_MS);
});

/** The last stage of the Dockerfile: the image compose runs. */
const finalStage = (): DockerInstruction[] => dockerStages.at(-1) ?? [];
const instruction = (keyword: string): string => {
  const found = finalStage().filter((i) => i.keyword === keyword).at(-1);
  if (found === undefined) throw new Error(`Dockerfile: the final stage has no ${keyword}`);
  return found.args;
};

async function composeScenario(hostPorts: number[]): Promise<void> {
  const compose = loadYaml(readFileSync(join(dockerDir, 'compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
  const dotenv = parseDotenv(readFileSync(join(dockerDir, '.env.example'), 'utf8'));
  // What a user writes into .env: a fresh value for every key, none committed.
  const vars: Record<string, string> = { SHAZBOT_SECRET: secret, SHAZBOT_CONTROL_SECRET: controlSecret, SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth };
  expect(dotenv).toEqual(Object.fromEntries(Object.keys(vars).map((k) => [k, ''])));

  const image = {
    env: dockerEnv(finalStage()),
    cmd: execForm(instruction('CMD')),
    healthcheck: ['CMD', ...execForm(instruction('HEALTHCHECK').replace(/^.*?CMD\s+/, ''))],
  };
  const services = localServices(compose.services, image, { hostPorts, vars, volumeRoot: join(tmp, 'volumes') });
  expect(services).toHaveLength(DOCKER_SERVICES);
  for (const { name, service, containerPort } of services) {
    expect(resolve(dockerDir, service.build?.context ?? ''), `${name}: build context`).toBe(ROOT);
    expect(service.build?.dockerfile, name).toBe('examples/docker/Dockerfile');
    for (const mapping of service.ports ?? []) expect(mapping, name).toMatch(new RegExp(`:${containerPort}$`));
  }
  const appDir = join(EXAMPLES, DOCKER_EXAMPLE);
  const handles = new Map<string, ChildHandle>();

  const start = ({ name, command: [program, ...args], env }: LocalService): void => {
    // `node <script>` as it is; the image puts the package's bin on PATH.
    const [script, rest] = program === 'node' ? [args[0], args.slice(1)] : program === 'clustershazbot' ? [cli, args] : [undefined, args];
    if (script === undefined) throw new Error(`${name}: no local equivalent of ${program}`);
    handles.set(name, spawnChild(`docker/${name}`, script, rest, appDir, env));
  };
  const untilHealthy = ({ name, healthcheck: [kind, program, ...args], env }: LocalService): Promise<unknown> => {
    expect([kind, program], `${name}: healthcheck`).toEqual(['CMD', 'node']);
    return pollUntil(() => run(process.execPath, args, { cwd: appDir, env: { PATH: process.env.PATH, ...env } }).then(() => true), {
      timeoutMs: READY_MS,
      description: `the healthcheck of ${name}`,
    });
  };
  const stop = async (list: readonly LocalService[]): Promise<void> => {
    const exits = await Promise.all(list.map((svc) => terminate(handles.get(svc.name)!)));
    expect(exits).toEqual(list.map(() => ({ code: 0, signal: null })));
  };

  await showingOutput(() => [...handles.values()], async () => {
    // depends_on with condition service_healthy: the store first, the apps once it is healthy.
    const first = services.filter((svc) => svc.service.depends_on === undefined);
    const then = services.filter((svc) => svc.service.depends_on !== undefined);
    for (const svc of then) {
      expect(Object.entries(svc.service.depends_on!)).toEqual(first.map((f) => [f.name, { condition: 'service_healthy' }]));
    }
    first.forEach(start);
    await Promise.all(first.map(untilHealthy));
    then.forEach(start);
    await Promise.all(then.map(untilHealthy));

    const appUrls = then.map((svc) => svc.env.SHAZBOT_BASE_URL!);
    expect(appUrls).toEqual(then.map((svc) => `http://127.0.0.1:${svc.hostPort}/`));
    await untilListsEachOther(appUrls, DOCKER_CONVERGE_MS);
    const peers = await requestJson(`${appUrls[0]}peers`);
    expect((peers.body as { online: string[] }).online.sort()).toEqual([...appUrls].sort());

    // `docker compose down`: SIGTERM to the apps, then to what they depend on.
    await stop(then);
    await stop(first);
  });
}

describe('the Dockerfile', () => {
  it('builds on node:20-slim and runs the compiled example with a healthcheck on /clustershazbot/health', () => {
    expect(dockerStages.map((stage) => stage[0]?.args.split(' ')[0])).toEqual(['node:20-slim', 'node:20-slim']);
    const copies = finalStage().filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies).toContain(`examples/${DOCKER_EXAMPLE}/package.json ./`);
    expect(copies).toContain(`--from=build /repo/examples/${DOCKER_EXAMPLE}/dist dist`);
    expect(execForm(instruction('CMD'))).toEqual(['node', 'dist/main.js']);
    expect(instruction('HEALTHCHECK')).toContain('/clustershazbot/health');
    expect(instruction('USER')).toBe('node');
  });

  it('gets every file it copies from the context through Dockerfile.dockerignore, which admits nothing else', () => {
    const ignore = readFileSync(join(dockerDir, 'Dockerfile.dockerignore'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const admitted = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1)));
    const sources = dockerStages.flat()
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect([...admitted].some((a) => source === a || source.startsWith(`${a}/`)), `COPY ${source}`).toBe(true);
    for (const path of admitted) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });
});

/** A fenced code block of a Markdown file. */
interface CodeBlock {
  readonly lang: string;
  readonly line: number;
  readonly body: string;
}

function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    line: markdown.slice(0, m.index).split('\n').length,
    body: m[2]!,
  }));
}

/**
 * Checks that every block of `doc` starting with a `file:` comment is a
 * verbatim region of that example file; returns how many there are.
 */
function checkQuotes(doc: string): number {
  const quoted = codeBlocks(readFileSync(join(ROOT, doc), 'utf8')).filter((b) => /^(\/\/|#) file: /.test(b.body));
  for (const block of quoted) {
    const [first, ...rest] = block.body.split('\n');
    const file = first!.replace(/^(\/\/|#) file: /, '').trim();
    expect(file, `${doc}:${block.line}`).toMatch(/^examples\//);
    expect(readFileSync(join(ROOT, file), 'utf8'), `${doc}:${block.line} quotes ${file}`).toContain(rest.join('\n'));
  }
  return quoted.length;
}

/** Languages whose blocks are commands or output for a reader, not code. */
const PROSE_LANGS = new Set(['bash', 'text']);

describe('EXAMPLES.md', () => {
  const blocks = codeBlocks(readFileSync(join(ROOT, 'EXAMPLES.md'), 'utf8'));

  it('quotes example files verbatim: a block starting with a `file:` comment is a region of that file', () => {
    expect(checkQuotes('EXAMPLES.md')).toBeGreaterThan(0);
  });

  it('README.md and docs/operations.md quote example files verbatim too, in every block starting with a `file:` comment', () => {
    expect(checkQuotes('README.md')).toBeGreaterThanOrEqual(6);
    expect(checkQuotes('docs/operations.md')).toBeGreaterThanOrEqual(2);
  });

  it('compiles every block starting with a `compile:` comment, against the package, in that example', async () => {
    const compiled = blocks.filter((b) => b.body.startsWith('// compile: '));
    expect(compiled.length).toBeGreaterThan(0);
    const byExample = new Map<string, CodeBlock[]>();
    for (const block of compiled) {
      const example = block.body.slice('// compile: '.length, block.body.indexOf('\n')).trim();
      expect(existsSync(join(ROOT, example, 'tsconfig.json')), `EXAMPLES.md:${block.line}: ${example}`).toBe(true);
      byExample.set(example, [...(byExample.get(example) ?? []), block]);
    }
    for (const [example, list] of byExample) {
      // examples/<x>/.tmp is git-ignored; it inherits the example's compiler options.
      const dir = join(ROOT, example, '.tmp', 'docs-check');
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      try {
        await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '.' }, include: ['*.ts'] }));
        await Promise.all(list.map((b) => writeFile(join(dir, `line-${b.line}.ts`), b.body)));
        await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', dir], { cwd: ROOT });
      } finally {
        await rm(join(ROOT, example, '.tmp'), { recursive: true, force: true });
      }
    }
  }, 60_000);

  it('has no other code blocks than quoted, compiled, shell commands and output', () => {
    const other = blocks.filter((b) => !PROSE_LANGS.has(b.lang) && !/^(\/\/|#) (file|compile): /.test(b.body));
    expect(other.map((b) => `EXAMPLES.md:${b.line} (${b.lang || 'no language'})`)).toEqual([]);
  });
});
