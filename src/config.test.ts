import { describe, expect, it } from 'vitest';
import { DEFAULTS, MIN_SECRET_LENGTH, optionsFromEnv, resolveOptions, type ClusterOptions } from './config.js';
import { ConfigError } from './errors.js';

const SECRET = 'gossip-secret-0123456789abcdef';
const CONTROL = 'control-secret-0123456789abcdef';

/** A complete, valid environment; tests override single variables. */
function validEnv(over: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    SHAZBOT_SECRET: SECRET,
    SHAZBOT_CONTROL_SECRET: CONTROL,
    SHAZBOT_BASE_URL: 'http://10.0.0.7:3000/',
    SHAZBOT_MASTER_LIST: 'https://lists.example.com/master.json',
    SHAZBOT_MASTER_LIST_UPDATE: 'https://lists.example.com/master.json',
    SHAZBOT_MASTER_LIST_UPDATE_AUTH: 'Bearer store-token',
    ...over,
  };
}

/** Runs `fn`, expects a ConfigError and returns its problems. */
function problemsOf(fn: () => unknown): readonly string[] {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('CONFIG_INVALID');
  return error.problems;
}

/** The problems that start with `name:`. */
function about(problems: readonly string[], name: string): string[] {
  return problems.filter((p) => p.startsWith(`${name}:`));
}

const REQUIRED = [
  'SHAZBOT_SECRET',
  'SHAZBOT_CONTROL_SECRET',
  'SHAZBOT_BASE_URL',
  'SHAZBOT_MASTER_LIST',
  'SHAZBOT_MASTER_LIST_UPDATE',
  'SHAZBOT_MASTER_LIST_UPDATE_AUTH',
] as const;

describe('optionsFromEnv', () => {
  it('reports all six missing required variables in one ConfigError', () => {
    const problems = problemsOf(() => optionsFromEnv({}));
    for (const name of REQUIRED) expect(about(problems, name)).toHaveLength(1);
    expect(problems).toHaveLength(REQUIRED.length);
  });

  it('treats blank required variables as missing', () => {
    const problems = problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_SECRET: '   ', SHAZBOT_MASTER_LIST_UPDATE_AUTH: '' })));
    expect(about(problems, 'SHAZBOT_SECRET')).toHaveLength(1);
    expect(about(problems, 'SHAZBOT_MASTER_LIST_UPDATE_AUTH')).toHaveLength(1);
    expect(problems).toHaveLength(2);
  });

  it.each(['abc', '0', '-1', '1e3', '2s'])('reports SHAZBOT_GOSSIP_INTERVAL=%j together with every other bad value', (interval) => {
    const env = validEnv({
      SHAZBOT_GOSSIP_INTERVAL: interval,
      SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '-5',
      SHAZBOT_MASTER_ANNOUNCE_INTERVAL: 'soon',
      SHAZBOT_MONITOR: 'yes',
      SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN: 'maybe',
      SHAZBOT_BASE_URL: 'ftp://x/',
      SHAZBOT_MASTER_LIST: 'not a url',
      SHAZBOT_MASTER_LIST_UPDATE: 'http://u:p@store.example.com/',
      SHAZBOT_SECRET: 'too-short',
      SHAZBOT_CONTROL_SECRET: 'short,also-short',
    });
    const problems = problemsOf(() => optionsFromEnv(env));
    for (const name of [
      'SHAZBOT_GOSSIP_INTERVAL', 'SHAZBOT_MASTER_ANNOUNCE_MINIMUM', 'SHAZBOT_MASTER_ANNOUNCE_INTERVAL', 'SHAZBOT_MONITOR',
      'SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN', 'SHAZBOT_BASE_URL', 'SHAZBOT_MASTER_LIST', 'SHAZBOT_MASTER_LIST_UPDATE', 'SHAZBOT_SECRET',
    ]) {
      expect(about(problems, name), name).toHaveLength(1);
    }
    // Both control keys are too short: each is reported.
    expect(about(problems, 'SHAZBOT_CONTROL_SECRET')).toHaveLength(2);
    expect(problems).toHaveLength(11);
  });

  it('rejects a base URL with credentials, a query or a fragment', () => {
    for (const baseUrl of ['http://u:p@h/', 'http://u@h/', 'http://h/?x=1', 'http://h/#top']) {
      expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_BASE_URL: baseUrl }))), 'SHAZBOT_BASE_URL'), baseUrl).toHaveLength(1);
    }
  });

  it('rejects a master list URL that is not http(s) or file', () => {
    for (const url of ['ftp://store/list.json', 'javascript:alert(1)', '/relative/list.json']) {
      expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_MASTER_LIST: url }))), 'SHAZBOT_MASTER_LIST'), url).toHaveLength(1);
    }
  });

  it('accepts true/false/1/0 in any case for the booleans', () => {
    const cases: Array<[string, boolean]> = [['true', true], ['TRUE', true], ['True', true], ['1', true], [' 1 ', true],
      ['false', false], ['FALSE', false], ['fAlSe', false], ['0', false]];
    for (const [raw, value] of cases) {
      const { options } = optionsFromEnv(validEnv({ SHAZBOT_MONITOR: raw, SHAZBOT_UPDATE_MASTER_LIST_ON_SHUTDOWN: raw }));
      expect(options.monitor, raw).toBe(value);
      expect(options.updateMasterListOnShutdown, raw).toBe(value);
    }
    for (const raw of ['yes', 'no', 'on', '2', 't']) {
      expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_MONITOR: raw }))), 'SHAZBOT_MONITOR'), raw).toHaveLength(1);
    }
  });

  it('converts seconds to milliseconds', () => {
    const { options } = optionsFromEnv(validEnv({
      SHAZBOT_GOSSIP_INTERVAL: '1',
      SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '0.5',
      SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '0',
    }));
    const config = resolveOptions(options);
    expect(config.gossipIntervalMs).toBe(1_000);
    expect(config.masterAnnounceMinimumMs).toBe(500);
    // The random extra delay may be zero; the minimum and the interval may not.
    expect(config.masterAnnounceIntervalMs).toBe(0);
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_MASTER_ANNOUNCE_MINIMUM: '0' }))), 'SHAZBOT_MASTER_ANNOUNCE_MINIMUM')).toHaveLength(1);
  });

  it('reports an interval that rounds to zero or exceeds the timer limit under the variable name', () => {
    const problems = problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_GOSSIP_INTERVAL: '0.0001', SHAZBOT_MASTER_ANNOUNCE_INTERVAL: '99999999' })));
    expect(about(problems, 'SHAZBOT_GOSSIP_INTERVAL')).toHaveLength(1);
    expect(about(problems, 'SHAZBOT_MASTER_ANNOUNCE_INTERVAL')).toHaveLength(1);
    expect(problems).toHaveLength(2);
  });

  it("fills in the seed's defaults", () => {
    const { options, logLevel } = optionsFromEnv(validEnv());
    const config = resolveOptions(options);
    expect(config.gossipIntervalMs).toBe(30_000);
    expect(config.masterAnnounceMinimumMs).toBe(300_000);
    expect(config.masterAnnounceIntervalMs).toBe(600_000);
    expect(config.monitor).toBe(false);
    expect(config.updateMasterListOnShutdown).toBe(false);
    expect(logLevel).toBe('info');
    expect(config.baseUrl).toBe('http://10.0.0.7:3000/');
    expect(config.masterListUpdateUrl).toBe('https://lists.example.com/master.json');
    expect(config.masterListUpdateAuth).toBe('Bearer store-token');
  });

  it('accepts file:// master list URLs', () => {
    const { options } = optionsFromEnv(validEnv({
      SHAZBOT_MASTER_LIST: 'file:///var/lib/shazbot/list.json',
      SHAZBOT_MASTER_LIST_UPDATE: 'file:///var/lib/shazbot/list.json',
    }));
    const config = resolveOptions(options);
    expect(config.masterListUrl).toBe('file:///var/lib/shazbot/list.json');
    expect(config.masterListUpdateUrl).toBe('file:///var/lib/shazbot/list.json');
  });

  it('splits comma-separated secrets into lists (first signs, all verify)', () => {
    const a = 'a'.repeat(MIN_SECRET_LENGTH);
    const b = 'b'.repeat(MIN_SECRET_LENGTH + 5);
    const { options } = optionsFromEnv(validEnv({ SHAZBOT_SECRET: `${a},${b}`, SHAZBOT_CONTROL_SECRET: ` ${b} , ${a} ` }));
    const config = resolveOptions(options);
    expect(config.secrets).toEqual([a, b]);
    expect(config.controlSecrets).toEqual([b, a]);
  });

  it('never puts a secret value in a problem or the error message', () => {
    const wrongSecret = 'a long but wrong secret with spaces';
    const wrongControl = 'control!secret\twith-a-tab-inside';
    const auth = 'Bearer store-token\nInjected: header';
    let caught: unknown;
    try {
      optionsFromEnv(validEnv({
        SHAZBOT_SECRET: `${SECRET},${wrongSecret}`,
        SHAZBOT_CONTROL_SECRET: wrongControl,
        SHAZBOT_MASTER_LIST_UPDATE_AUTH: auth,
      }));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(about(error.problems, 'SHAZBOT_SECRET')).toHaveLength(1);
    expect(about(error.problems, 'SHAZBOT_CONTROL_SECRET')).toHaveLength(1);
    expect(about(error.problems, 'SHAZBOT_MASTER_LIST_UPDATE_AUTH')).toHaveLength(1);
    const text = [error.message, ...error.problems].join('\n');
    for (const secret of [SECRET, wrongSecret, 'wrong secret', wrongControl.trim(), 'control!secret', 'store-token', 'Injected']) {
      expect(text).not.toContain(secret);
    }
  });

  it('reads SHAZBOT_LOG_LEVEL in any case and rejects unknown levels', () => {
    expect(optionsFromEnv(validEnv({ SHAZBOT_LOG_LEVEL: 'SILENT' })).logLevel).toBe('silent');
    expect(optionsFromEnv(validEnv({ SHAZBOT_LOG_LEVEL: 'debug' })).logLevel).toBe('debug');
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_LOG_LEVEL: 'verbose' }))), 'SHAZBOT_LOG_LEVEL')).toHaveLength(1);
  });
});

describe('SHAZBOT_PROBE_INTERVAL', () => {
  it('sets the failure-detection period in seconds, and is validated like the others', () => {
    expect(resolveOptions(optionsFromEnv(validEnv({ SHAZBOT_PROBE_INTERVAL: '1.5' })).options).probeIntervalMs).toBe(1_500);
    expect(resolveOptions(optionsFromEnv(validEnv({})).options).probeIntervalMs).toBe(2_500);
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_PROBE_INTERVAL: 'soon' }))), 'SHAZBOT_PROBE_INTERVAL')).toHaveLength(1);
    // The probe timeout (0.5 s) must stay below it.
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_PROBE_INTERVAL: '0.2' }))), 'probeTimeoutMs')).toHaveLength(1);
  });
});

describe('SHAZBOT_LEGACY_AUTH and SHAZBOT_ALLOWED_HOSTS', () => {
  it('legacy mode is off by default and takes the usual booleans', () => {
    expect(resolveOptions(optionsFromEnv(validEnv({})).options).legacyAuth).toBe(false);
    expect(resolveOptions(optionsFromEnv(validEnv({ SHAZBOT_LEGACY_AUTH: 'TRUE' })).options).legacyAuth).toBe(true);
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_LEGACY_AUTH: 'yes' }))), 'SHAZBOT_LEGACY_AUTH')).toHaveLength(1);
  });

  it('splits the allow-list on commas, validates each host, and requires this server to be allowed', () => {
    expect(resolveOptions(optionsFromEnv(validEnv({})).options).allowedHosts).toEqual([]);
    const env = validEnv({ SHAZBOT_ALLOWED_HOSTS: ' 10.0.0.7 , *.svc.cluster.local,db.internal:8080 ' });
    expect(resolveOptions(optionsFromEnv(env).options).allowedHosts).toEqual(['10.0.0.7', '*.svc.cluster.local', 'db.internal:8080']);
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_ALLOWED_HOSTS: '10.0.0.7,http://x/' }))), 'SHAZBOT_ALLOWED_HOSTS')).toHaveLength(1);
    expect(about(problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_ALLOWED_HOSTS: 'other.internal' }))), 'SHAZBOT_ALLOWED_HOSTS')).toHaveLength(1);
  });
});

describe('resolveOptions', () => {
  const base: ClusterOptions = {
    baseUrl: 'http://127.0.0.1:3000/',
    secret: SECRET,
    controlSecret: CONTROL,
    masterListUrl: 'http://127.0.0.1:4000/',
  };
  const DELAYS = [
    'gossipIntervalMs', 'masterAnnounceMinimumMs', 'masterAnnounceIntervalMs', 'exchangeTimeoutMs',
    'masterListTimeoutMs', 'bootstrapRetryMinMs', 'bootstrapRetryMaxMs', 'shutdownTimeoutMs',
    'probeIntervalMs', 'probeTimeoutMs', 'indirectProbeTimeoutMs', 'gossipTickMs',
  ] as const;
  const DURATIONS = ['maxOfflineAgeMs', 'signatureWindowMs', 'maxFutureMs'] as const;
  const NUMERIC = [
    ...DELAYS, ...DURATIONS, 'gossipJitter', 'indirectProbes', 'pushFanout', 'expectedConfirmations', 'maxPiggyback',
    'retransmitMult', 'awarenessMax', 'suspicionMult', 'suspicionMaxMult', 'replayCacheSize', 'maxEntries', 'maxUrlLength', 'maxResponseBytes', 'fanout', 'monitorWeight',
  ] as const;

  it('covers every numeric default', () => {
    const numericDefaults = Object.entries(DEFAULTS).filter(([, v]) => typeof v === 'number').map(([k]) => k);
    expect([...NUMERIC].sort()).toEqual(numericDefaults.sort());
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a negative number', -1],
  ])('rejects %s for every numeric option, all problems together', (_label, value) => {
    const options = { ...base, ...Object.fromEntries(NUMERIC.map((k) => [k, value])) } as ClusterOptions;
    const problems = problemsOf(() => resolveOptions(options));
    for (const k of NUMERIC) expect(about(problems, k), k).not.toHaveLength(0);
    expect(new Set(problems.map((p) => p.slice(0, p.indexOf(':')))).size).toBe(NUMERIC.length);
  });

  it('rejects delays beyond what a timer can wait, and accepts the limit itself', () => {
    const tooLarge = { ...base, ...Object.fromEntries(DELAYS.map((k) => [k, 2 ** 31])) } as ClusterOptions;
    const problems = problemsOf(() => resolveOptions(tooLarge));
    for (const k of DELAYS) expect(about(problems, k), k).toHaveLength(1);
    expect(problems).toHaveLength(DELAYS.length);
    // probeTimeoutMs must stay below probeIntervalMs.
    const atLimit = { ...base, ...Object.fromEntries(DELAYS.map((k) => [k, 2 ** 31 - 1])), probeTimeoutMs: 2 ** 31 - 2 } as ClusterOptions;
    expect(resolveOptions(atLimit).gossipIntervalMs).toBe(2 ** 31 - 1);
  });

  it('accepts ages and windows longer than a timer can wait (30 days), up to ten years', () => {
    const month = 30 * 86_400_000;
    const ok = resolveOptions({ ...base, ...Object.fromEntries(DURATIONS.map((k) => [k, month])) });
    expect(ok.maxOfflineAgeMs).toBe(month);
    const problems = problemsOf(() => resolveOptions({ ...base, ...Object.fromEntries(DURATIONS.map((k) => [k, 11 * 365 * 86_400_000])) }));
    for (const k of DURATIONS) expect(about(problems, k), k).toHaveLength(1);
  });

  it('rejects a probe timeout that is not shorter than the probe interval', () => {
    const problems = problemsOf(() => resolveOptions({ ...base, probeIntervalMs: 1_000, probeTimeoutMs: 1_000 }));
    expect(about(problems, 'probeTimeoutMs')).toHaveLength(1);
  });

  it('rejects zero where a positive value is needed and accepts it where zero makes sense', () => {
    const zeroOk = resolveOptions({ ...base, masterAnnounceIntervalMs: 0, fanout: 0, gossipJitter: 0 });
    expect([zeroOk.masterAnnounceIntervalMs, zeroOk.fanout, zeroOk.gossipJitter]).toEqual([0, 0, 0]);
    const zeros = ['gossipIntervalMs', 'exchangeTimeoutMs', 'maxEntries', 'monitorWeight'] as const;
    const problems = problemsOf(() => resolveOptions({ ...base, ...Object.fromEntries(zeros.map((k) => [k, 0])) }));
    for (const k of zeros) expect(about(problems, k), k).toHaveLength(1);
  });

  it('rejects fractional counts, too much jitter, numbers given as strings and non-boolean flags', () => {
    const problems = problemsOf(() => resolveOptions({
      ...base,
      fanout: 2.5,
      maxEntries: 10.1,
      gossipJitter: 0.95,
      gossipIntervalMs: '1000' as unknown as number,
      monitor: 'true' as unknown as boolean,
    }));
    for (const k of ['fanout', 'maxEntries', 'gossipJitter', 'gossipIntervalMs', 'monitor']) expect(about(problems, k), k).toHaveLength(1);
    expect(problems).toHaveLength(5);
  });

  it('rejects a retry maximum below the minimum', () => {
    const problems = problemsOf(() => resolveOptions({ ...base, bootstrapRetryMinMs: 5_000, bootstrapRetryMaxMs: 1_000 }));
    expect(about(problems, 'bootstrapRetryMaxMs')).toHaveLength(1);
  });

  it('reports missing required options and bad secrets together', () => {
    const problems = problemsOf(() => resolveOptions({ baseUrl: '', secret: [], controlSecret: ['ok'], masterListUrl: '' }));
    for (const k of ['baseUrl', 'secret', 'controlSecret', 'masterListUrl']) expect(about(problems, k), k).toHaveLength(1);
  });

  it('normalises the base URL and keeps undefined optional URLs undefined', () => {
    const config = resolveOptions({ ...base, baseUrl: 'HTTP://Example.COM:80/api/', secret: [SECRET, `${SECRET}-next`] });
    expect(config.baseUrl).toBe('http://example.com/api/');
    expect(config.secrets).toEqual([SECRET, `${SECRET}-next`]);
    expect(config.masterListUpdateUrl).toBeUndefined();
    expect(config.masterListUpdateAuth).toBeUndefined();
  });
});
