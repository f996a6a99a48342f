/**
 * Validation of the options: every problem found is reported together in
 * one {@link ConfigError}, and nothing silently falls back to a default.
 */
import { ConfigError } from '../errors.js';
import { HostAllowList } from '../membership/allow-list.js';
import { DEFAULTS, type ClusterOptions, type ResolvedConfig } from './options.js';

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
  if (typeof o.stateDir !== 'string' || /\0/.test(o.stateDir)) problems.push('stateDir: must be a directory path (a string; empty for none)');
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
