/**
 * The `SHAZBOT_*` environment variables of the seed README, read into
 * cluster options (what `shazbotStart()` uses), with problems reported in
 * terms of the variables.
 */
import type { LogLevel } from '../core/logger.js';
import { ConfigError } from '../errors.js';
import type { ClusterOptions } from './options.js';
import { MIN_SECRET_LENGTH, resolveOptions } from './validate.js';

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
  const stateDir = env['SHAZBOT_STATE_DIR']?.trim() || undefined;
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
    stateDir,
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
  stateDir: 'SHAZBOT_STATE_DIR',
};

function toEnvName(problem: string): string {
  const i = problem.indexOf(':');
  const key = problem.slice(0, i);
  const env = ENV_NAMES[key];
  return env === undefined ? problem : env + problem.slice(i);
}
