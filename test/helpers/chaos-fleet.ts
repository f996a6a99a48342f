/**
 * The server processes of the chaos scenarios: test/helpers/chaos-server.mjs
 * run on loopback or inside a network namespace (`ip netns exec`), each
 * with its membership events collected as they are printed, and the
 * cluster as each one sees it through `GET <base>clustershazbot/info`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Scope } from './chaos-report.js';
import { startStore } from './chaos-store.js';
import { dumpOutput, killAll, pollUntil, requestJson, type ChildHandle, type ExitStatus } from './processes.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./chaos-server.mjs', import.meta.url));
const ROOT = resolve(dirname(SERVER_SCRIPT), '..', '..');
/** Output kept per process, in characters; older output is dropped first. */
const MAX_OUTPUT_CHARS = 256 * 1024;
const EVENT_PREFIX = 'chaos-event ';

/** A member's state as one server's info view shows it. */
export type MemberState = 'online' | 'suspect' | 'offline';
/** One server's view of the cluster: base URL → state (itself included). */
export type View = ReadonlyMap<string, MemberState>;

/** A membership event a server printed (see chaos-server.mjs). */
export interface ChaosEvent {
  /** When it was emitted, ms since the epoch (same machine, same clock). */
  readonly at: number;
  readonly event: 'server:up' | 'server:suspect' | 'server:down';
  /** The member it is about. */
  readonly baseUrl: string;
  readonly reason?: string;
  /** Name of the server that emitted it. */
  readonly by: string;
}

/** Secrets shared by one chaos cluster: fresh random ones per scenario. */
export interface ClusterSecrets {
  readonly secret: string;
  readonly controlSecret: string;
  /** `Authorization` value the master-list store requires for PUT. */
  readonly storeAuth: string;
}

/** Fresh random secrets. */
export function newSecrets(): ClusterSecrets {
  return {
    secret: randomBytes(32).toString('base64url'),
    controlSecret: randomBytes(24).toString('base64url'),
    storeAuth: `Bearer ${randomBytes(24).toString('base64url')}`,
  };
}

/** Timings of every chaos server (`SHAZBOT_*` values, in seconds). */
export const TIMING = {
  gossipIntervalS: 1,
  announceMinimumS: 2,
  announceIntervalS: 2,
} as const;

/** Where one server lives and how it is reached. */
export interface ServerPlace {
  /** Its base URL, as peers reach it. */
  readonly baseUrl: string;
  /** Base URL this (test) process reaches it at; differs from `baseUrl` inside a namespace. */
  readonly adminUrl: string;
  /** Address and port it listens on. */
  readonly host: string;
  readonly port: number;
  /** Network namespace it runs in; undefined: this process's own. */
  readonly netns?: string;
}

/** One server process of a scenario; `handle` is set while (or after) it runs. */
export interface ChaosServer extends ServerPlace {
  readonly name: string;
  /** Its complete environment. */
  readonly env: NodeJS.ProcessEnv;
  readonly events: ChaosEvent[];
  handle?: ChildHandle;
  /** Set once its scenario has ended: it may not be started again. */
  retired?: boolean;
}

/** The place of a server listening on 127.0.0.1:`port`. */
export function loopbackPlace(port: number): ServerPlace {
  const url = `http://127.0.0.1:${port}/`;
  return { baseUrl: url, adminUrl: url, host: '127.0.0.1', port };
}

/** Defines (does not start) a server of a cluster whose master list is at `storeUrl`. */
export function defineServer(name: string, place: ServerPlace, secrets: ClusterSecrets, storeUrl: string, monitor = false): ChaosServer {
  return {
    ...place,
    name,
    events: [],
    env: {
      PATH: process.env.PATH,
      HOST: place.host,
      PORT: String(place.port),
      SHAZBOT_SECRET: secrets.secret,
      SHAZBOT_CONTROL_SECRET: secrets.controlSecret,
      SHAZBOT_BASE_URL: place.baseUrl,
      SHAZBOT_MASTER_LIST: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: secrets.storeAuth,
      SHAZBOT_GOSSIP_INTERVAL: String(TIMING.gossipIntervalS),
      SHAZBOT_MASTER_ANNOUNCE_MINIMUM: String(TIMING.announceMinimumS),
      SHAZBOT_MASTER_ANNOUNCE_INTERVAL: String(TIMING.announceIntervalS),
      SHAZBOT_MONITOR: String(monitor),
      // Suspicions and verdicts are logged at info and warn: the diagnostics of a failed row.
      SHAZBOT_LOG_LEVEL: 'info',
    },
  };
}

const live = new Set<ChildHandle>();
// Last resort against orphans (a crash before cleanup): kill synchronously on exit.
process.once('exit', () => {
  for (const handle of live) handle.process.kill('SIGKILL');
});

/**
 * Starts (or restarts) `server`'s process: `node chaos-server.mjs`, through
 * `ip netns exec` (which execs, so the pid is node's) when it has a
 * namespace. Output is kept with each line prefixed by the name; event lines
 * are also parsed into `server.events`.
 */
export function startServer(server: ChaosServer): ChildHandle {
  if (server.retired === true) throw new Error(`${server.name}: its scenario has ended`);
  const argv = [...(server.netns === undefined ? [] : ['ip', 'netns', 'exec', server.netns]), process.execPath, SERVER_SCRIPT];
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: ROOT, env: server.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let running = true;
  const keep = (line: string): void => {
    output = (output + `[${server.name}] ${line}\n`).slice(-MAX_OUTPUT_CHARS);
    if (!line.startsWith(EVENT_PREFIX)) return;
    try {
      server.events.push({ ...(JSON.parse(line.slice(EVENT_PREFIX.length)) as Omit<ChaosEvent, 'by'>), by: server.name });
    } catch {
      // A torn line: kept in the output for the record.
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(keep);
    });
    stream.on('end', () => pending !== '' && keep(pending));
  }
  const exited = new Promise<ExitStatus>((resolveExit) => {
    child.once('close', (code, signal) => {
      running = false;
      live.delete(handle);
      keep(`exited with code ${code} signal ${signal}`);
      resolveExit({ code, signal });
    });
    child.once('error', (e) => {
      keep(`process error: ${e.message}`);
      if (child.pid !== undefined) return;
      running = false;
      live.delete(handle);
      resolveExit({ code: null, signal: null });
    });
  });
  const handle: ChildHandle = {
    name: server.name,
    process: child,
    exited,
    get running() {
      return running;
    },
    output: () => output,
  };
  live.add(handle);
  server.handle = handle;
  return handle;
}

/** Makes `scope` SIGKILL every one of `servers` still running at the end, and keep their output for diagnostics. */
export function manage(scope: Scope, servers: readonly ChaosServer[]): void {
  const handles = (): ChildHandle[] => servers.flatMap((s) => (s.handle === undefined ? [] : [s.handle]));
  scope.defer(() => {
    for (const s of servers) s.retired = true;
    return killAll(handles());
  });
  scope.diagnostics(() => dumpOutput(handles()));
}

/** `server`'s view through its info endpoint; rejects if it does not answer within `timeoutMs`. */
export async function viewOf(server: ChaosServer, timeoutMs = 1_000): Promise<View> {
  const response = await requestJson(`${server.adminUrl}clustershazbot/info`, {
    headers: { authorization: `Bearer ${server.env.SHAZBOT_CONTROL_SECRET ?? ''}` },
    timeoutMs,
  });
  const servers = (response.body as { servers?: unknown } | undefined)?.servers;
  if (response.status !== 200 || !Array.isArray(servers)) throw new Error(`${server.name}: info answered ${response.status}`);
  return new Map(servers.map((s: { baseUrl: string; state: MemberState }) => [s.baseUrl, s.state]));
}

/** Whether `server`'s health endpoint answers 200 (running). */
export async function isHealthy(server: ChaosServer): Promise<boolean> {
  const response = await requestJson(`${server.adminUrl}clustershazbot/health`, { timeoutMs: 1_000 });
  return response.status === 200;
}

/** A view in which each of `urls` is online, not suspect. */
export const listsOnline = (urls: readonly string[]) => (view: View): boolean => urls.every((u) => view.get(u) === 'online');
/** A view in which each of `urls` is offline. */
export const listsOffline = (urls: readonly string[]) => (view: View): boolean => urls.every((u) => view.get(u) === 'offline');

/** Polls every observer until `holds` is true of each one's view; resolves with the ms it took. */
export async function untilViews(
  observers: readonly ChaosServer[],
  holds: (view: View, observer: ChaosServer) => boolean,
  description: string,
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  await pollUntil(async (report) => {
    const views = await Promise.all(observers.map(async (s) => [s, await viewOf(s).catch((e: unknown) => String(e))] as const));
    report(Object.fromEntries(views.map(([s, v]) => [s.name, typeof v === 'string' ? v : Object.fromEntries(v)])));
    return views.every(([s, v]) => typeof v !== 'string' && holds(v, s)) ? true : undefined;
  }, { timeoutMs, intervalMs: 100, description });
  return Date.now() - start;
}

/** One view request of a continuous observation. */
export interface Observation {
  readonly observer: string;
  /** When the request was sent (ms since the epoch). */
  readonly at: number;
  /** The view, or why there was none. */
  readonly view: View | string;
}

/**
 * Asks each observer for its view again and again, `everyMs` after each
 * answer (or failure), independently of the others, until `end()` (read
 * before each request) is in the past.
 */
export async function observe(observers: readonly ChaosServer[], end: () => number, everyMs = 100): Promise<Observation[]> {
  const all: Observation[] = [];
  await Promise.all(observers.map(async (s) => {
    while (Date.now() < end()) {
      const at = Date.now();
      const view = await viewOf(s).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
      all.push({ observer: s.name, at, view });
      await delay(everyMs);
    }
  }));
  return all.sort((a, b) => a.at - b.at);
}

/** Every `event` any of `servers` emitted at or after `since` about one of `about` (any member if omitted). */
export function eventsOf(servers: readonly ChaosServer[], event: ChaosEvent['event'], since: number, about?: readonly string[]): ChaosEvent[] {
  return servers
    .flatMap((s) => s.events)
    .filter((e) => e.event === event && e.at >= since && (about === undefined || about.includes(e.baseUrl)))
    .sort((a, b) => a.at - b.at);
}

/** How long a fresh fleet may take until every server lists every server online, ms. Generous: two cores. */
export const CONVERGE_MS = 45_000;

/**
 * Starts a real master-list store on `storeHost` and one server per place
 * (the first a monitor), all managed by `scope`, and resolves once every
 * server lists every server online.
 */
export async function startConvergedFleet(scope: Scope, places: readonly ServerPlace[], storeHost = '127.0.0.1'): Promise<ChaosServer[]> {
  const secrets = newSecrets();
  const store = await startStore(scope, secrets.storeAuth, storeHost);
  const servers = places.map((place, i) => defineServer(`s${i + 1}`, place, secrets, store.url, i === 0));
  manage(scope, servers);
  servers.forEach(startServer);
  await untilViews(servers, listsOnline(servers.map((s) => s.baseUrl)), `all ${servers.length} to list all online`, CONVERGE_MS);
  return servers;
}

/** Names, for messages. */
export const names = (servers: readonly ChaosServer[]): string => servers.map((s) => s.name).join(', ');
