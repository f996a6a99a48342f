/**
 * Helpers of test/examples.test.ts: resolving `clustershazbot` from the
 * examples without installing anything, running commands, reading the
 * Dockerfile, compose.yml and .env files of examples/docker, and waiting for
 * example servers to agree.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listEntries } from './fleet.js';
import { pollUntil, requestJson, waitForExit, type ChildHandle } from './processes.js';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** examples/ in the repository. */
export const EXAMPLES = join(ROOT, 'examples');

/** Where `import 'clustershazbot'` in an example resolves to: a link to the repository root (git-ignored). */
const LINK = join(EXAMPLES, 'node_modules', 'clustershazbot');
const LINK_TARGET = join('..', '..');

/**
 * Makes `clustershazbot` resolvable from every example as an installed
 * package would be: examples/node_modules/clustershazbot -> the repository
 * root, whose package.json `exports` point at dist/. Frameworks resolve from
 * the root node_modules by walking up. Idempotent.
 */
export function linkPackage(): void {
  if (existsSync(LINK) || isBrokenLink(LINK)) {
    if (!lstatSync(LINK).isSymbolicLink() || readlinkSync(LINK) !== LINK_TARGET) {
      throw new Error(`${LINK} exists and is not a link to ${LINK_TARGET}: remove it`);
    }
    return;
  }
  mkdirSync(dirname(LINK), { recursive: true });
  symlinkSync(LINK_TARGET, LINK, 'dir');
}

function isBrokenLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Fails unless the package has been built (dist/ is what the examples import). */
export function requireBuilt(): void {
  for (const file of ['dist/esm/index.js', 'dist/esm/adapters/node.js', 'dist/esm/cli/main.js']) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: build the package first (npm run build)`);
  }
}

/** Runs `file args` (or `sh -c file` when `args` is undefined) and resolves with stdout; rejects with everything it printed. */
export function run(file: string, args: readonly string[] | undefined, options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const [command, argv] = args === undefined ? ['sh', ['-c', file]] : [file, [...args]];
  return new Promise((resolvePromise, reject) => {
    execFile(command, argv, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error === null) resolvePromise(stdout);
      else reject(new Error(`${[command, ...argv].join(' ')} failed (${error.message})\n${stdout}${stderr}`));
    });
  });
}

/** One instruction of a Dockerfile: its keyword (upper case) and the rest of the line. */
export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of each stage (from one FROM to the next), in order. */
export function parseDockerfile(text: string): DockerInstruction[][] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: DockerInstruction[][] = [];
  for (const line of logical) {
    const space = line.search(/\s/);
    const instruction = { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space).trim() };
    if (instruction.keyword === 'FROM') stages.push([]);
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`Dockerfile: ${line} before any FROM`);
    stage.push(instruction);
  }
  return stages;
}

/** The arguments of an exec-form (JSON array) CMD, ENTRYPOINT or HEALTHCHECK CMD. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed;
}

/** The variables set by a stage's `ENV K=V ...` instructions (values without spaces or quotes). */
export function dockerEnv(stage: readonly DockerInstruction[]): Record<string, string> {
  const pairs = stage.filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(/\s+/));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** `KEY=value` lines of a .env file (comments and blank lines skipped). */
export function parseDotenv(text: string): Record<string, string> {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Compose's `${VAR}`, `${VAR:?message}` and `${VAR:-default}` in `value`, from `vars`; throws for a missing required one. */
export function interpolate(value: string, vars: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_match, name: string, op: string | undefined, word: string) => {
    const v = vars[name];
    if (v !== undefined && v !== '') return v;
    if (op === '-') return word;
    if (op === '?') throw new Error(`compose: ${name} is required: ${word}`);
    return '';
  });
}

/** The keys of a compose.yml service that the Docker example uses. */
export interface ComposeService {
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: string[];
  readonly environment?: Record<string, string>;
  readonly volumes?: string[];
  readonly ports?: string[];
  readonly depends_on?: Record<string, { condition: string }>;
  readonly healthcheck?: { test: string[] };
}

/** What a service gets from the image when compose.yml does not say: ENV, CMD and HEALTHCHECK (`['CMD', ...]`). */
export interface ImageDefaults {
  readonly env: Readonly<Record<string, string>>;
  readonly cmd: readonly string[];
  readonly healthcheck: readonly string[];
}

/** One compose service as a local process: container names, ports, `0.0.0.0` and volume paths mapped to this host's. */
export interface LocalService {
  readonly name: string;
  readonly service: ComposeService;
  /** The port it listens on in its container (`--port`, else PORT). */
  readonly containerPort: string;
  /** The port it listens on here. */
  readonly hostPort: number;
  /** Program and arguments. */
  readonly command: readonly string[];
  /** The image's ENV (without PATH), then the service's environment, interpolated from `vars`. */
  readonly env: Readonly<Record<string, string>>;
  /** The healthcheck's `CMD` and arguments. */
  readonly healthcheck: readonly string[];
}

/**
 * Maps compose services to local processes, one host port each (in order):
 * `http://<service>:<container port>` and `127.0.0.1:<own container port>`
 * become `127.0.0.1:<host port>`, `0.0.0.0` becomes `127.0.0.1`, the value
 * of `--port` the host port, and paths inside a volume paths under `volumeRoot`.
 */
export function localServices(
  services: Readonly<Record<string, ComposeService>>,
  image: ImageDefaults,
  options: { readonly hostPorts: readonly number[]; readonly vars: Readonly<Record<string, string>>; readonly volumeRoot: string },
): LocalService[] {
  const ports = Object.entries(services).map(([name, service], i) => {
    const command = service.command ?? image.cmd;
    const flag = command.indexOf('--port');
    const containerPort = flag >= 0 ? command[flag + 1] : (service.environment?.PORT ?? image.env.PORT);
    const hostPort = options.hostPorts[i];
    if (containerPort === undefined || hostPort === undefined) throw new Error(`compose: no port for ${name}`);
    return { name, service, command, containerPort, hostPort };
  });
  return ports.map((self) => {
    const localize = (text: string): string => {
      let out = text.replace(/^0\.0\.0\.0$/, '127.0.0.1').replaceAll(`127.0.0.1:${self.containerPort}`, `127.0.0.1:${self.hostPort}`);
      for (const other of ports) out = out.replaceAll(`//${other.name}:${other.containerPort}`, `//127.0.0.1:${other.hostPort}`);
      for (const volume of self.service.volumes ?? []) {
        const [source, target] = volume.split(':') as [string, string];
        if (out.startsWith(`${target}/`)) out = join(options.volumeRoot, source, out.slice(target.length));
      }
      return out;
    };
    const { PATH: _imagePath, ...imageEnv } = image.env; // the image's PATH leads to its node_modules/.bin
    const env = { ...imageEnv, ...self.service.environment, PORT: String(self.hostPort) };
    return {
      ...self,
      command: self.command.map((a, i) => (self.command[i - 1] === '--port' ? String(self.hostPort) : localize(a))),
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, localize(interpolate(String(v), options.vars))])),
      healthcheck: (self.service.healthcheck?.test ?? image.healthcheck).map(localize),
    };
  });
}

/** Parses YAML with js-yaml (a devDependency). */
export function loadYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };
  return yaml.load(text);
}

/** The base URLs a `GET <base>clustershazbot/list` answer lists online. */
async function onlineOf(baseUrl: string): Promise<string[]> {
  const answer = await requestJson(`${baseUrl}clustershazbot/list`);
  const online = listEntries(answer.body, 'online');
  if (answer.status !== 200 || online === undefined) throw new Error(`${baseUrl}: list answered ${answer.status}`);
  return online.map((e) => String(e.baseUrl)).sort();
}

/** Polls until every server's list endpoint shows all `baseUrls` online. */
export async function untilListsEachOther(baseUrls: readonly string[], timeoutMs: number): Promise<void> {
  const all = [...baseUrls].sort();
  await pollUntil(async (report) => {
    const views = await Promise.all(all.map(async (url) => [url, await onlineOf(url).catch((e: unknown) => String(e))] as const));
    report(Object.fromEntries(views));
    return views.every(([, view]) => Array.isArray(view) && all.every((url) => view.includes(url))) ? true : undefined;
  }, { timeoutMs, description: `${all.join(', ')} to list each other online` });
}

/** Polls until a child has printed `text`. */
export async function untilPrinted(handle: ChildHandle, text: string, timeoutMs: number): Promise<void> {
  await pollUntil(() => (handle.output().includes(text) ? true : undefined), {
    timeoutMs,
    description: `${handle.name} to print ${JSON.stringify(text)}`,
  });
}

/** Sends SIGTERM and resolves with how the child exited (rejects if it is still running after `timeoutMs`). */
export async function terminate(handle: ChildHandle, timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  handle.process.kill('SIGTERM');
  return await waitForExit(handle, timeoutMs);
}
