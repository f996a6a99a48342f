import { ConfigError } from './errors.js';
import { HostAllowList } from './membership/allow-list.js';
import type { LogLevel } from './core/logger.js';

/**
 * Options of one cluster instance. Times are in milliseconds; the unit is in
 * every name. Only `baseUrl`, `secret`, `controlSecret` and `masterListUrl`
 * are required; everything else has the default shown.
 */
export interface ClusterOptions {
  /** This server's own base URL, e.g. `https://10.0.0.7:3000/`. Peers reach it at `<baseUrl>clustershazbot/gossip`. */
  baseUrl: string;
  /**
   * Gossip secret(s) (`SHAZBOT_SECRET`). A comma-separated string or an array:
   * the first signs, any verifies, so keys can be rotated. Never sent on the wire.
   * Each key: printable ASCII without spaces or commas, at least 16 characters
   * (any non-empty length with `legacyAuth`, with a warning at start).
   */
  secret: string | readonly string[];
  /** Control secret(s) (`SHAZBOT_CONTROL_SECRET`), presented as `Authorization: Bearer <secret>`. Same rotation and key rules. */
  controlSecret: string | readonly string[];
  /** Where the master server list is read at start and before each announce: `http(s)://` or `file://`. */
  masterListUrl: string;
  /** Where the merged list is written on each announce (`PUT`). Without it, this server never writes the master list. */
  masterListUpdateUrl?: string;
  /** Sent verbatim as the `Authorization` header of the announce `PUT`. Never logged. */
  masterListUpdateAuth?: string;
  /**
   * Mean time between two anti-entropy exchanges of this server (`SHAZBOT_GOSSIP_INTERVAL`, there in seconds).
   * Anti-entropy repairs whatever dissemination missed: it compares table digests and
   * sends whole lists only where they differ. Shorter repairs sooner, at the cost of
   * one digest exchange (about 560 bytes) per interval per server at rest. @default 30_000
   */
  gossipIntervalMs?: number;
  /** Each gossip delay is `gossipIntervalMs × (1 ± gossipJitter)`, uniformly, so servers do not move in lockstep. @default 0.2 */
  gossipJitter?: number;
  /** Minimum delay before each master-list announce (`SHAZBOT_MASTER_ANNOUNCE_MINIMUM`, there in seconds). @default 300_000 */
  masterAnnounceMinimumMs?: number;
  /** Random extra delay added to the minimum, uniformly in [0, this] (`SHAZBOT_MASTER_ANNOUNCE_INTERVAL`). @default 600_000 */
  masterAnnounceIntervalMs?: number;
  /** Whether this server is a monitor: preferred as a gossip partner and always told at start and shutdown (`SHAZBOT_MONITOR`). @default false */
  monitor?: boolean;
  /** Write the master list during shutdown, so it learns of the departure at once (`SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN`). @default false */
  updateMasterListOnShutdown?: boolean;
  /** Time limit of one gossip exchange (request and reply). @default 5_000 */
  exchangeTimeoutMs?: number;
  /** Time limit of one master-list GET or PUT. @default 5_000 */
  masterListTimeoutMs?: number;
  /** First delay between background retries of the master-list download after a failed start; doubles up to the maximum. @default 1_000 */
  bootstrapRetryMinMs?: number;
  /** Largest delay between background retries of the master-list download. @default 60_000 */
  bootstrapRetryMaxMs?: number;
  /**
   * Random servers contacted at start and at shutdown, besides every monitor;
   * dissemination takes the news on from there. Each start exchange carries
   * the new server's own entry. More costs a starting server more work: with
   * 20, a fleet of 30 processes started together on 2 cores converged 0.85 to
   * 1.44 s after the last was up, with 5 in 0.52 to 0.88 s (npm run bench:peers, 6 runs). @default 5
   */
  fanout?: number;
  /** Upper bound on the whole of `shutdown()`, however peers behave. @default 5_000 */
  shutdownTimeoutMs?: number;
  /** Offline entries whose version is older than this are removed (the seed's "24 hours"). @default 86_400_000 */
  maxOfflineAgeMs?: number;
  /**
   * A signed request or reply whose timestamp is further than this from local time is refused.
   * This is also the largest clock difference two servers may have and still talk. @default 300_000
   */
  signatureWindowMs?: number;
  /** Nonces remembered against replays; when full the oldest are dropped and the window floor rises. @default 100_000 */
  replayCacheSize?: number;
  /** Most entries (online + offline) accepted in one message or master list. @default 20_000 */
  maxEntries?: number;
  /** Longest accepted `baseUrl`, in characters. @default 1_024 */
  maxUrlLength?: number;
  /** An entry whose `lastUpdate` is more than this ahead of local time is refused as malformed. @default 3_600_000 */
  maxFutureMs?: number;
  /** Largest reply body accepted from a peer or the master list, in bytes. @default 16_777_216 */
  maxResponseBytes?: number;
  /**
   * Membership events (up, suspect, down, left, operator offline/online) kept
   * for the info view and the dashboard's timeline; older ones are dropped.
   * 0 keeps none. @default 256
   */
  timelineSize?: number;
  /**
   * Most peers whose recent exchanges (latency, p99, failures over the last five
   * minutes, up to 64 exchanges each) are kept for the info view and the
   * dashboard; the least recently contacted is dropped first. At rest with the
   * default periods a server starts about 130 exchanges in five minutes (120
   * probe periods, 10 anti-entropy rounds), so at rest it tracks at most that
   * many peers whatever the fleet's size; churn adds pushes. 0 keeps none. @default 1_024
   */
  exchangeStatsPeers?: number;
  /** Weight of each online monitor against 1 for any other server when choosing a gossip partner (capped at half of all choices). @default 8 */
  monitorWeight?: number;
  /**
   * Failure-detection period: each server probes one member per period, and a
   * shared rotating schedule (the probe ring) has every member probed by one
   * server per period. Shorter detects sooner at the cost of one small signed
   * exchange per server per period (about 890 bytes on the wire, IP level,
   * request, reply and ACK over a kept-alive connection, with the Express
   * example's reply headers: see BENCHMARKS.md, bench:peers).
   * @default 2_500
   */
  probeIntervalMs?: number;
  /** How long a direct probe waits for its answer before the indirect probes start. Must exceed the round-trip time. @default 500 */
  probeTimeoutMs?: number;
  /** Members asked to probe a target that missed its direct probe (SWIM's k). 0 disables indirect probes. @default 3 */
  indirectProbes?: number;
  /** How long indirect probes may take (two hops each way). @default 1_000 */
  indirectProbeTimeoutMs?: number;
  /**
   * Lifeguard suspicion timeout: at least `suspicionMult × max(1, log10(n)) × probeIntervalMs`
   * (n = members up), starting `suspicionMaxMult` times higher and shrinking as
   * independent confirmations arrive. Larger values trade detection time for
   * fewer false positives under loss or pauses. At the default a suspicion
   * lasts at least 2 s up to 10 servers, 2.95 s at 30, 4 s at 100 (memberlist's
   * LAN profile: 4 s, 5.9 s, 8 s): a process stalled longer than that plus
   * the 1 to 3.5 s it takes to be suspected is declared failed, and rejoins
   * by refuting the claim as soon as it runs again. @default 0.8
   */
  suspicionMult?: number;
  /** Upper bound of the suspicion timeout as a multiple of its minimum (no confirmations yet). @default 3 */
  suspicionMaxMult?: number;
  /** Independent confirmations after which the suspicion timeout reaches its minimum (Lifeguard's K). @default 3 */
  expectedConfirmations?: number;
  /** Lifeguard local health: probe timings stretch up to this factor when this server sees signs of its own slowness. @default 8 */
  awarenessMax?: number;
  /** Each change is retransmitted `retransmitMult × ceil(log10(n + 1))` times (memberlist's RetransmitMult). @default 4 */
  retransmitMult?: number;
  /** While changes wait to be retransmitted, they are pushed every this many ms. @default 200 */
  gossipTickMs?: number;
  /** Servers each push goes to. @default 3 */
  pushFanout?: number;
  /** Most changes carried by one message. @default 32 */
  maxPiggyback?: number;
  /**
   * Push changes at once and piggyback them on probes. Turning it off leaves
   * only periodic anti-entropy to spread changes (for measurement). @default true
   */
  pushChanges?: boolean;
  /**
   * Hosts whose base URLs may be gossiped (`SHAZBOT_ALLOWED_HOSTS`, comma-separated):
   * `app.internal`, `app.internal:3000`, `*.svc.cluster.local`, `10.0.0.7`, `[fd00::1]:8080`.
   * Entries for any other host are dropped wherever they come from (gossip or
   * master list) and never contacted, which bounds where a holder of the gossip
   * secret could make the fleet send requests (see docs/security.md). This
   * server's own base URL must be allowed. @default [] (every host)
   */
  allowedHosts?: readonly string[];
  /**
   * 1.x compatibility for rolling upgrades (`SHAZBOT_LEGACY_AUTH`): also accept
   * gossip authorised by the raw gossip secret with unsigned seed-format bodies
   * (answered unsigned), control and offline-list requests authorised by the
   * raw control secret, and speak that format to peers that refuse signed
   * requests. 1.x sends the secret in plain text: use it only during the
   * upgrade, over TLS. Logs a warning at start. Also accepts the fleet's
   * existing keys shorter than 16 characters (1.x took any length), with a
   * second warning at start naming them (see secret-strength.ts). @default false
   */
  legacyAuth?: boolean;
}

/** Options with every default filled in and every secret split into a list. */
export interface ResolvedConfig extends Required<Omit<ClusterOptions, 'secret' | 'controlSecret' | 'masterListUpdateUrl' | 'masterListUpdateAuth'>> {
  readonly secrets: readonly string[];
  readonly controlSecrets: readonly string[];
  readonly masterListUpdateUrl: string | undefined;
  readonly masterListUpdateAuth: string | undefined;
}

/** The defaults of every optional setting, in one place. */
export const DEFAULTS = {
  gossipIntervalMs: 30_000,
  gossipJitter: 0.2,
  masterAnnounceMinimumMs: 300_000,
  masterAnnounceIntervalMs: 600_000,
  monitor: false,
  updateMasterListOnShutdown: false,
  exchangeTimeoutMs: 5_000,
  masterListTimeoutMs: 5_000,
  bootstrapRetryMinMs: 1_000,
  bootstrapRetryMaxMs: 60_000,
  fanout: 5,
  shutdownTimeoutMs: 5_000,
  maxOfflineAgeMs: 86_400_000,
  signatureWindowMs: 300_000,
  replayCacheSize: 100_000,
  maxEntries: 20_000,
  maxUrlLength: 1_024,
  maxFutureMs: 3_600_000,
  maxResponseBytes: 16_777_216,
  timelineSize: 256,
  exchangeStatsPeers: 1_024,
  monitorWeight: 8,
  probeIntervalMs: 2_500,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  indirectProbeTimeoutMs: 1_000,
  suspicionMult: 0.8,
  suspicionMaxMult: 3,
  expectedConfirmations: 3,
  awarenessMax: 8,
  retransmitMult: 4,
  gossipTickMs: 200,
  pushFanout: 3,
  maxPiggyback: 32,
  pushChanges: true,
  allowedHosts: [] as readonly string[],
  legacyAuth: false,
} as const satisfies Required<Omit<ClusterOptions, 'baseUrl' | 'secret' | 'controlSecret' | 'masterListUrl' | 'masterListUpdateUrl' | 'masterListUpdateAuth'>>;

/**
 * Shortest secret accepted, in characters, unless `legacyAuth` is on (1.x
 * accepted any length, so a 1.x fleet's short secret is accepted, with a
 * warning at start, during the upgrade). `npx clustershazbot keygen` secrets are 43.
 */
export const MIN_SECRET_LENGTH = 16;
/** The problem of a key shorter than {@link MIN_SECRET_LENGTH} without legacy mode. */
const TOO_SHORT = `must be at least ${MIN_SECRET_LENGTH} characters: generate one with \`npx clustershazbot keygen\``
  + ' (during an upgrade from 1.x, SHAZBOT_LEGACY_AUTH=true accepts the 1.x fleet\'s shorter key: see docs/security.md)';

/** Settings used as timer delays: capped at what a timer can wait. */
const POSITIVE_MS = [
  'gossipIntervalMs', 'masterAnnounceMinimumMs', 'exchangeTimeoutMs', 'masterListTimeoutMs',
  'bootstrapRetryMinMs', 'bootstrapRetryMaxMs', 'shutdownTimeoutMs',
  'probeIntervalMs', 'probeTimeoutMs', 'indirectProbeTimeoutMs', 'gossipTickMs',
] as const;
/** Settings that are ages and windows, never waited on: any positive finite duration up to ten years. */
const POSITIVE_DURATIONS_MS = ['maxOfflineAgeMs', 'signatureWindowMs', 'maxFutureMs'] as const;
const TEN_YEARS_MS = 10 * 365 * 86_400_000;
const NON_NEGATIVE_MS = ['masterAnnounceIntervalMs'] as const;
const POSITIVE_INTEGERS = ['replayCacheSize', 'maxEntries', 'maxUrlLength', 'maxResponseBytes'] as const;
/** setTimeout's limit: a larger delay would fire at once. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * Validates options and fills in defaults. Throws one {@link ConfigError}
 * listing every problem found; nothing falls back to a default silently.
 */
export function resolveOptions(options: ClusterOptions): ResolvedConfig {
  const problems: string[] = [];
  const o = { ...DEFAULTS, ...stripUndefined(options) } as ClusterOptions & typeof DEFAULTS;

  checkUrl(problems, 'baseUrl', o.baseUrl, ['http:', 'https:'], true);
  checkUrl(problems, 'masterListUrl', o.masterListUrl, ['http:', 'https:', 'file:'], true);
  if (o.masterListUpdateUrl !== undefined) {
    checkUrl(problems, 'masterListUpdateUrl', o.masterListUpdateUrl, ['http:', 'https:', 'file:'], true);
  }
  if (o.masterListUpdateAuth !== undefined && (typeof o.masterListUpdateAuth !== 'string' || /[\r\n]/.test(o.masterListUpdateAuth))) {
    problems.push('masterListUpdateAuth: must be a string without line breaks');
  }
  // Short keys only in 1.x compatibility mode, and only when it is really on (a
  // legacyAuth that is not a boolean is reported below and gets the strict rule).
  const anyLength = options.legacyAuth === true;
  const secrets = splitSecrets(problems, 'secret', o.secret, anyLength);
  const controlSecrets = splitSecrets(problems, 'controlSecret', o.controlSecret, anyLength);

  for (const k of POSITIVE_MS) checkNumber(problems, k, o[k], { min: 0, exclusiveMin: true, max: MAX_DELAY_MS });
  for (const k of POSITIVE_DURATIONS_MS) checkNumber(problems, k, o[k], { min: 0, exclusiveMin: true, max: TEN_YEARS_MS });
  for (const k of NON_NEGATIVE_MS) checkNumber(problems, k, o[k], { min: 0, max: MAX_DELAY_MS });
  for (const k of POSITIVE_INTEGERS) checkNumber(problems, k, o[k], { min: 1, integer: true });
  checkNumber(problems, 'fanout', o.fanout, { min: 0, integer: true });
  checkNumber(problems, 'timelineSize', o.timelineSize, { min: 0, max: 1_000_000, integer: true });
  checkNumber(problems, 'exchangeStatsPeers', o.exchangeStatsPeers, { min: 0, max: 1_000_000, integer: true });
  for (const k of ['indirectProbes', 'pushFanout', 'expectedConfirmations'] as const) checkNumber(problems, k, o[k], { min: 0, integer: true });
  for (const k of ['maxPiggyback', 'retransmitMult', 'awarenessMax'] as const) checkNumber(problems, k, o[k], { min: 1, integer: true });
  checkNumber(problems, 'suspicionMult', o.suspicionMult, { min: 0, exclusiveMin: true });
  checkNumber(problems, 'suspicionMaxMult', o.suspicionMaxMult, { min: 1 });
  checkNumber(problems, 'gossipJitter', o.gossipJitter, { min: 0, max: 0.9 });
  checkNumber(problems, 'monitorWeight', o.monitorWeight, { min: 1 });
  for (const k of ['monitor', 'updateMasterListOnShutdown', 'pushChanges', 'legacyAuth'] as const) {
    if (typeof o[k] !== 'boolean') problems.push(`${k}: must be a boolean`);
  }
  if (problems.length === 0 && o.bootstrapRetryMaxMs < o.bootstrapRetryMinMs) {
    problems.push('bootstrapRetryMaxMs: must be at least bootstrapRetryMinMs');
  }
  if (!Array.isArray(o.allowedHosts)) {
    problems.push('allowedHosts: must be a list of hosts');
  } else {
    const allow = HostAllowList.parse(o.allowedHosts);
    if (!(allow instanceof HostAllowList)) problems.push(...allow.problems);
    else if (problems.length === 0 && !allow.allows(new URL(o.baseUrl).href)) problems.push('allowedHosts: must allow this server\'s own baseUrl');
  }
  if (problems.length === 0 && o.probeTimeoutMs >= o.probeIntervalMs) {
    problems.push('probeTimeoutMs: must be shorter than probeIntervalMs');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const { secret: _s, controlSecret: _c, ...rest } = o;
  return {
    ...rest,
    baseUrl: new URL(o.baseUrl).href,
    masterListUpdateUrl: o.masterListUpdateUrl,
    masterListUpdateAuth: o.masterListUpdateAuth,
    secrets,
    controlSecrets,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkUrl(problems: string[], name: string, value: unknown, schemes: string[], required: boolean): void {
  if (value === undefined || value === '') {
    if (required) problems.push(`${name}: is required`);
    return;
  }
  if (typeof value !== 'string') {
    problems.push(`${name}: must be a URL string`);
    return;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name}: is not a valid URL`);
    return;
  }
  if (!schemes.includes(url.protocol)) {
    problems.push(`${name}: scheme must be ${schemes.map((s) => s.replace(':', '')).join(' or ')}`);
  }
  if (url.username !== '' || url.password !== '') problems.push(`${name}: must not contain credentials`);
  if (name === 'baseUrl' && (url.search !== '' || url.hash !== '')) problems.push(`${name}: must not have a query or fragment`);
}

/**
 * Splits a secret option into its keys and checks each: trimmed, printable
 * ASCII without spaces or commas, and at least {@link MIN_SECRET_LENGTH}
 * characters unless `anyLength` (1.x compatibility mode), where any
 * non-empty key passes. Problems name the key by position, never its value
 * or length.
 */
function splitSecrets(problems: string[], name: string, value: unknown, anyLength: boolean): string[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (list === undefined || list.length === 0 || (list.length === 1 && list[0] === '')) {
    problems.push(`${name}: is required`);
    return [];
  }
  const out: string[] = [];
  list.forEach((raw: unknown, i) => {
    const s = typeof raw === 'string' ? raw.trim() : '';
    // Never echo a secret, not even a wrong one: say only what is wrong with it.
    if (s === '') problems.push(`${name}: key #${i + 1} is empty`);
    else if (!anyLength && s.length < MIN_SECRET_LENGTH) problems.push(`${name}: key #${i + 1} ${TOO_SHORT}`);
    else if (/[\s,]/.test(s) || !/^[\x21-\x7e]+$/.test(s)) problems.push(`${name}: key #${i + 1} must be printable ASCII without spaces or commas`);
    else out.push(s);
  });
  return out;
}

function checkNumber(
  problems: string[],
  name: string,
  value: unknown,
  rule: { min: number; exclusiveMin?: boolean; max?: number; integer?: boolean },
): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push(`${name}: must be a finite number`);
    return;
  }
  if (rule.integer && !Number.isInteger(value)) problems.push(`${name}: must be an integer`);
  if (rule.exclusiveMin ? value <= rule.min : value < rule.min) {
    problems.push(`${name}: must be ${rule.exclusiveMin ? 'greater than' : 'at least'} ${rule.min}`);
  }
  if (rule.max !== undefined && value > rule.max) problems.push(`${name}: must be at most ${rule.max}`);
}

/** Log level names accepted by `SHAZBOT_LOG_LEVEL`, plus `silent`. */
export type EnvLogLevel = LogLevel | 'silent';

/** What the environment configures: the cluster options and the default instance's log level. */
export interface EnvConfig {
  readonly options: ClusterOptions;
  readonly logLevel: EnvLogLevel;
}

/**
 * Reads the `SHAZBOT_*` variables of the seed README (and `SHAZBOT_PROBE_INTERVAL`, `SHAZBOT_LOG_LEVEL`).
 * The six variables the README lists as required are required here too.
 * Throws one {@link ConfigError} listing every problem, including those
 * {@link resolveOptions} finds.
 */
export function optionsFromEnv(env: Readonly<Record<string, string | undefined>>): EnvConfig {
  const problems: string[] = [];
  const required = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v.trim() === '') {
      problems.push(`${name}: is required`);
      return undefined;
    }
    return v.trim();
  };
  const seconds = (name: string, allowZero: boolean): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const v = raw.trim();
    if (!/^\d+(\.\d+)?$/.test(v)) {
      problems.push(`${name}: must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got ${JSON.stringify(v.slice(0, 40))}`);
      return undefined;
    }
    const n = Number(v);
    if (!allowZero && n === 0) {
      problems.push(`${name}: must be a positive number of seconds`);
      return undefined;
    }
    return Math.round(n * 1000);
  };
  const bool = (name: string): boolean | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const v = raw.trim().toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    problems.push(`${name}: must be true, false, 1 or 0, got ${JSON.stringify(raw.slice(0, 40))}`);
    return undefined;
  };

  const secret = required('SHAZBOT_SECRET');
  const controlSecret = required('SHAZBOT_CONTROL_SECRET');
  const baseUrl = required('SHAZBOT_BASE_URL');
  const masterListUrl = required('SHAZBOT_MASTER_LIST');
  const masterListUpdateUrl = required('SHAZBOT_MASTER_LIST_UPDATE');
  const masterListUpdateAuth = required('SHAZBOT_MASTER_LIST_UPDATE_AUTH');
  const gossipIntervalMs = seconds('SHAZBOT_GOSSIP_INTERVAL', false);
  const masterAnnounceMinimumMs = seconds('SHAZBOT_MASTER_ANNOUNCE_MINIMUM', false);
  const masterAnnounceIntervalMs = seconds('SHAZBOT_MASTER_ANNOUNCE_INTERVAL', true);
  const probeIntervalMs = seconds('SHAZBOT_PROBE_INTERVAL', false);
  const monitor = bool('SHAZBOT_MONITOR');
  const legacyAuth = bool('SHAZBOT_LEGACY_AUTH');
  const rawAllowed = env['SHAZBOT_ALLOWED_HOSTS']?.trim();
  const allowedHosts = rawAllowed === undefined || rawAllowed === '' ? undefined : rawAllowed.split(',').map((h) => h.trim());
  const updateMasterListOnShutdown = bool('SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN');
  let logLevel: EnvLogLevel = 'info';
  const rawLevel = env['SHAZBOT_LOG_LEVEL']?.trim().toLowerCase();
  if (rawLevel !== undefined && rawLevel !== '') {
    if (['debug', 'info', 'warn', 'error', 'silent'].includes(rawLevel)) logLevel = rawLevel as EnvLogLevel;
    else problems.push('SHAZBOT_LOG_LEVEL: must be debug, info, warn, error or silent');
  }

  const options: ClusterOptions = {
    baseUrl: baseUrl ?? '',
    secret: secret ?? '',
    controlSecret: controlSecret ?? '',
    masterListUrl: masterListUrl ?? '',
    masterListUpdateUrl,
    masterListUpdateAuth,
    gossipIntervalMs,
    masterAnnounceMinimumMs,
    masterAnnounceIntervalMs,
    probeIntervalMs,
    monitor,
    updateMasterListOnShutdown,
    legacyAuth,
    allowedHosts,
  };
  // Report problems of the values that were present too, in terms of the variables.
  try {
    resolveOptions({
      ...options,
      baseUrl: baseUrl ?? 'http://placeholder.invalid/',
      secret: secret ?? 'x'.repeat(MIN_SECRET_LENGTH),
      controlSecret: controlSecret ?? 'x'.repeat(MIN_SECRET_LENGTH),
      masterListUrl: masterListUrl ?? 'http://placeholder.invalid/',
    });
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.problems.map(toEnvName));
    else throw e;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { options, logLevel };
}

const ENV_NAMES: Record<string, string> = {
  baseUrl: 'SHAZBOT_BASE_URL',
  secret: 'SHAZBOT_SECRET',
  controlSecret: 'SHAZBOT_CONTROL_SECRET',
  masterListUrl: 'SHAZBOT_MASTER_LIST',
  masterListUpdateUrl: 'SHAZBOT_MASTER_LIST_UPDATE',
  masterListUpdateAuth: 'SHAZBOT_MASTER_LIST_UPDATE_AUTH',
  gossipIntervalMs: 'SHAZBOT_GOSSIP_INTERVAL',
  masterAnnounceMinimumMs: 'SHAZBOT_MASTER_ANNOUNCE_MINIMUM',
  masterAnnounceIntervalMs: 'SHAZBOT_MASTER_ANNOUNCE_INTERVAL',
  probeIntervalMs: 'SHAZBOT_PROBE_INTERVAL',
  legacyAuth: 'SHAZBOT_LEGACY_AUTH',
  allowedHosts: 'SHAZBOT_ALLOWED_HOSTS',
};

function toEnvName(problem: string): string {
  const i = problem.indexOf(':');
  const key = problem.slice(0, i);
  const env = ENV_NAMES[key];
  return env === undefined ? problem : env + problem.slice(i);
}
