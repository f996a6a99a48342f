/**
 * Bookkeeping of the key-rotation test: demo-server processes whose keys
 * change from one incarnation to the next, their counters per incarnation,
 * and a background watch that exercises the control secret and looks for
 * false failures while the keys roll.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { listEntries, type FleetMember } from './fleet.js';
import { requestJson, spawnNode, type ChildHandle, type JsonResponse } from './processes.js';

/** The keys one incarnation runs with; the first of each list signs, any verifies. */
export interface Keys {
  readonly gossip: readonly string[];
  readonly control: readonly string[];
}

/** One demo server: a fixed name and port, restarted with new keys. */
export interface RotatingServer extends FleetMember {
  readonly name: string;
  readonly baseUrl: string;
  handle?: ChildHandle;
  /** Number of the running (or last) incarnation, from 1. */
  incarnation: number;
  /** Keys of the running (or last) incarnation. */
  keys: Keys;
}

/** The counters of `GET info` this test reads. */
export interface Counters {
  readonly signatureRejections: number;
  readonly exchangeFailures: number;
  readonly exchanges: number;
}

/** Starts the next incarnation of `s` with `keys`; `env` is everything else it needs. */
export function startIncarnation(s: RotatingServer, keys: Keys, script: string, cwd: string, env: NodeJS.ProcessEnv): ChildHandle {
  s.incarnation += 1;
  s.keys = keys;
  s.handle = spawnNode(`${s.name}#${s.incarnation}`, script, [], {
    cwd,
    env: { ...env, SHAZBOT_SECRET: keys.gossip.join(','), SHAZBOT_CONTROL_SECRET: keys.control.join(',') },
  });
  return s.handle;
}

/** `GET <base>clustershazbot/<route>` with an Authorization header. */
export function getRoute(s: RotatingServer, route: 'list' | 'info' | 'health', authorization?: string, timeoutMs = 2_000): Promise<JsonResponse> {
  return requestJson(`${s.baseUrl}clustershazbot/${route}`, { headers: authorization === undefined ? {} : { authorization }, timeoutMs });
}

/** `Bearer <key>`. */
export const bearer = (key: string): string => `Bearer ${key}`;
/** HTTP Basic credentials with `key` as the password, as a browser sends them. */
export const basic = (key: string): string => `Basic ${Buffer.from(`rotation:${key}`).toString('base64')}`;

/** The counters of an info answer; throws if it has none. */
export function countersOf(response: JsonResponse): Counters {
  const stats = (response.body as { stats?: Record<string, unknown> } | undefined)?.stats;
  const pick = (k: keyof Counters): number => {
    const v = stats?.[k];
    if (typeof v !== 'number') throw new Error(`info answered ${response.status} without stats.${k}: ${JSON.stringify(response.body)}`);
    return v;
  };
  return { signatureRejections: pick('signatureRejections'), exchangeFailures: pick('exchangeFailures'), exchanges: pick('exchanges') };
}

/** Reads the counters of the running incarnation of `s` with its own first control key, and tallies them. */
export async function readCounters(s: RotatingServer, tally: CounterTally, timeoutMs = 2_000): Promise<Counters> {
  const response = await getRoute(s, 'info', bearer(s.keys.control[0] as string), timeoutMs);
  if (response.status !== 200) throw new Error(`${s.name}#${s.incarnation}: info answered ${response.status}`);
  const counters = countersOf(response);
  tally.record(`${s.name}#${s.incarnation}`, counters);
  return counters;
}

/**
 * The highest counters read from each incarnation (`s3#2`). Counters only
 * grow during an incarnation, so the highest read is the latest.
 */
export class CounterTally {
  readonly #max = new Map<string, Counters>();

  record(incarnation: string, c: Counters): void {
    const m = this.#max.get(incarnation);
    this.#max.set(incarnation, m === undefined ? c : {
      signatureRejections: Math.max(m.signatureRejections, c.signatureRejections),
      exchangeFailures: Math.max(m.exchangeFailures, c.exchangeFailures),
      exchanges: Math.max(m.exchanges, c.exchanges),
    });
  }

  get(incarnation: string): Counters | undefined {
    return this.#max.get(incarnation);
  }

  /** Every incarnation read so far, with its counters. */
  entries(): [string, Counters][] {
    return [...this.#max.entries()];
  }

  /** The counters summed over every incarnation. */
  sum(): Counters {
    let signatureRejections = 0;
    let exchangeFailures = 0;
    let exchanges = 0;
    for (const c of this.#max.values()) {
      signatureRejections += c.signatureRejections;
      exchangeFailures += c.exchangeFailures;
      exchanges += c.exchanges;
    }
    return { signatureRejections, exchangeFailures, exchanges };
  }
}

/** What the background watch saw. */
export interface WatchReport {
  /** Control requests answered 401 with a key the target accepted, as `s2#3 list with control-new`. */
  readonly refused: readonly string[];
  /** Offline entries with reason `failed`, as `s1#2 lists http://… failed`. */
  readonly failed: readonly string[];
  /** Control requests answered 200, per server name. */
  readonly answered: Readonly<Record<string, number>>;
  /** Control requests answered otherwise (503 while starting or stopping, refused connections). */
  readonly unanswered: number;
}

/** Pause between two rounds of one server's watch, in ms. */
const WATCH_EVERY_MS = 100;

/**
 * Until `stop()`, asks every server in turn for its list (`Bearer`) and its
 * info (HTTP Basic), each with one of `validKeys()` (control keys accepted by
 * every incarnation that may answer at that moment), round-robin. Records
 * each 401, each offline entry with reason `failed`, and each incarnation's
 * counters into `tally`. `label` names a key in messages (never the key).
 */
export function watchFleet(
  servers: readonly RotatingServer[],
  validKeys: () => readonly string[],
  tally: CounterTally,
  label: (key: string) => string,
): { stop(): Promise<WatchReport> } {
  let stopped = false;
  let turn = 0;
  let unanswered = 0;
  const refused: string[] = [];
  const failed: string[] = [];
  const answered: Record<string, number> = Object.fromEntries(servers.map((s) => [s.name, 0]));
  const nextKey = (): string => {
    const keys = validKeys();
    return keys[turn++ % keys.length] as string;
  };
  const ask = async (s: RotatingServer, route: 'list' | 'info'): Promise<void> => {
    const key = nextKey();
    // The incarnation asked: the next one is spawned only after this one has exited.
    const incarnation = `${s.name}#${s.incarnation}`;
    const response = await getRoute(s, route, route === 'list' ? bearer(key) : basic(key), 1_000).catch(() => undefined);
    if (response?.status === 401) refused.push(`${incarnation} ${route} with ${label(key)}`);
    if (response?.status !== 200) {
      unanswered++;
      return;
    }
    answered[s.name] = (answered[s.name] ?? 0) + 1;
    if (route === 'info') {
      tally.record(incarnation, countersOf(response));
      return;
    }
    for (const e of listEntries(response.body, 'offline') ?? []) {
      if (e.reason === 'failed') failed.push(`${incarnation} lists ${String(e.baseUrl)} failed`);
    }
  };
  const loops = servers.map(async (s) => {
    while (!stopped) {
      await ask(s, 'list');
      await ask(s, 'info');
      await delay(WATCH_EVERY_MS);
    }
  });
  // A loop that throws (an info answer without counters) fails stop(), not the process.
  for (const loop of loops) loop.catch(() => undefined);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { refused, failed, answered, unanswered };
    },
  };
}
