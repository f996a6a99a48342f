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
    'timelineSize', 'exchangeStatsPeers',
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

describe('secret keys: 16 characters, or any non-empty length in 1.x compatibility mode', () => {
  const LONG_A = 'A'.repeat(MIN_SECRET_LENGTH);
  const LONG_B = 'b~'.repeat(20);
  /** Where a problem is: the option, the key's position, what is wrong. */
  type Problem = readonly [option: 'secret' | 'controlSecret', position: number | undefined, kind: 'short' | 'empty' | 'chars' | 'required'];
  interface Case {
    readonly name: string;
    /** `SHAZBOT_SECRET` / option `secret` as a comma-separated string. */
    readonly secret: string;
    readonly control: string;
    /** The keys accepted, when the case is valid. */
    readonly accepted?: { readonly secrets: readonly string[]; readonly controlSecrets: readonly string[] };
    /** The problems about either secret, when it is not. */
    readonly problems?: readonly Problem[];
  }
  const STRICT: readonly Case[] = [
    { name: 'long keys', secret: LONG_A, control: LONG_B, accepted: { secrets: [LONG_A], controlSecrets: [LONG_B] } },
    { name: 'short gossip key', secret: 'k3y!8chr', control: LONG_B, problems: [['secret', 1, 'short']] },
    { name: 'short control key', secret: LONG_A, control: 'c7rl#ctl', problems: [['controlSecret', 1, 'short']] },
    { name: 'one character short of the rule', secret: 'a'.repeat(MIN_SECRET_LENGTH - 1), control: LONG_B, problems: [['secret', 1, 'short']] },
    { name: 'empty gossip secret', secret: '', control: LONG_B, problems: [['secret', undefined, 'required']] },
    { name: 'empty key in a rotation list', secret: `${LONG_A},`, control: ` ,${LONG_B}`, problems: [['secret', 2, 'empty'], ['controlSecret', 1, 'empty']] },
    {
      name: 'rotation lists mixing short and long keys',
      secret: `${LONG_A},sh0rt~1,${LONG_B},x^`, control: `t!ny,${LONG_A}`,
      problems: [['secret', 2, 'short'], ['secret', 4, 'short'], ['controlSecret', 1, 'short']],
    },
    { name: 'a long key with an interior space', secret: `${LONG_A} ${LONG_A}`, control: LONG_B, problems: [['secret', 1, 'chars']] },
  ];
  const LEGACY: readonly Case[] = [
    { name: 'long keys', secret: LONG_A, control: LONG_B, accepted: { secrets: [LONG_A], controlSecrets: [LONG_B] } },
    { name: 'short gossip key', secret: 'k3y!8chr', control: LONG_B, accepted: { secrets: ['k3y!8chr'], controlSecrets: [LONG_B] } },
    { name: 'short control key', secret: LONG_A, control: 'c7rl#ctl', accepted: { secrets: [LONG_A], controlSecrets: ['c7rl#ctl'] } },
    { name: 'one-character keys, trimmed', secret: ' q ', control: 'Z', accepted: { secrets: ['q'], controlSecrets: ['Z'] } },
    { name: 'empty gossip secret', secret: '', control: 'c7rl#ctl', problems: [['secret', undefined, 'required']] },
    { name: 'empty key in a rotation list', secret: 'k3y!8chr,', control: ' , ', problems: [['secret', 2, 'empty'], ['controlSecret', 1, 'empty'], ['controlSecret', 2, 'empty']] },
    {
      name: 'rotation lists mixing short and long keys',
      secret: `${LONG_A},sh0rt~1,${LONG_B},x^`, control: `t!ny,${LONG_A}`,
      accepted: { secrets: [LONG_A, 'sh0rt~1', LONG_B, 'x^'], controlSecrets: ['t!ny', LONG_A] },
    },
    // The character rules stay: no spaces, printable ASCII (commas separate keys).
    { name: 'a short key with an interior space', secret: 'ab cd', control: LONG_B, problems: [['secret', 1, 'chars']] },
    { name: 'a short non-ASCII key', secret: 'k3y\u00e9', control: 'c\ttl', problems: [['secret', 1, 'chars'], ['controlSecret', 1, 'chars']] },
  ];

  const ENV: Record<Problem[0], string> = { secret: 'SHAZBOT_SECRET', controlSecret: 'SHAZBOT_CONTROL_SECRET' };
  /** The problem text expected at the start of each problem (`name` as the path reports it). */
  function expectProblem(problems: readonly string[], name: string, position: number | undefined, kind: Problem[2]): void {
    const prefix = kind === 'required' ? `${name}: is required` : `${name}: key #${position} ${{
      short: `must be at least ${MIN_SECRET_LENGTH} characters: generate one with \`npx clustershazbot keygen\``,
      empty: 'is empty',
      chars: 'must be printable ASCII without spaces or commas',
    }[kind]}`;
    expect(problems.filter((p) => p.startsWith(prefix)), prefix).toHaveLength(1);
  }
  /** Runs one case through the env path and the options path; `legacyEnv`/`legacyOption` set the mode. */
  function check(c: Case, legacyEnv: string | undefined, legacyOption: unknown): void {
    const keys = [...c.secret.split(','), ...c.control.split(',')].map((k) => k.trim()).filter((k) => k.length > 0);
    const noSecretIn = (problems: readonly string[], error: ConfigError): void => {
      const text = [error.message, ...problems].join('\n');
      for (const key of keys) expect(text, 'a problem echoes a key').not.toContain(key);
    };
    const env = validEnv({ SHAZBOT_SECRET: c.secret, SHAZBOT_CONTROL_SECRET: c.control, SHAZBOT_LEGACY_AUTH: legacyEnv });
    const options: ClusterOptions = {
      baseUrl: 'http://127.0.0.1:3000/', secret: c.secret, controlSecret: c.control, masterListUrl: 'http://127.0.0.1:4000/',
      legacyAuth: legacyOption as boolean | undefined,
    };
    const legacyValid = legacyOption === undefined || typeof legacyOption === 'boolean';
    if (c.accepted !== undefined) {
      const fromEnv = resolveOptions(optionsFromEnv(env).options);
      const fromOptions = resolveOptions(options);
      for (const config of [fromEnv, fromOptions]) {
        expect(config.secrets).toEqual(c.accepted.secrets);
        expect(config.controlSecrets).toEqual(c.accepted.controlSecrets);
        expect(config.legacyAuth).toBe(legacyOption === true);
      }
      return;
    }
    const paths: Array<[() => unknown, (option: Problem[0]) => string, string]> = [
      [() => optionsFromEnv(env), (o) => ENV[o], 'SHAZBOT_LEGACY_AUTH'],
      [() => resolveOptions(options), (o) => o, 'legacyAuth'],
    ];
    for (const [run, nameOf, legacyName] of paths) {
      let caught: unknown;
      try {
        run();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const error = caught as ConfigError;
      const secretProblems = error.problems.filter((p) => p.startsWith(`${nameOf('secret')}:`) || p.startsWith(`${nameOf('controlSecret')}:`));
      for (const [option, position, kind] of c.problems!) expectProblem(secretProblems, nameOf(option), position, kind);
      expect(secretProblems).toHaveLength(c.problems!.length);
      // Nothing else is wrong, except an invalid legacy flag, which is reported too.
      expect(error.problems.length - secretProblems.length).toBe(legacyValid ? 0 : 1);
      if (!legacyValid) expect(about(error.problems, legacyName)).toHaveLength(1);
      noSecretIn(error.problems, error);
    }
  }

  it.each(STRICT)('without legacy mode: $name', (c) => check(c, undefined, undefined));
  it.each(STRICT)('with legacy mode off explicitly: $name', (c) => check(c, 'false', false));
  // A legacy flag that is not a valid boolean gets the strict rule (and its own problem).
  it.each(STRICT.filter((c) => c.accepted === undefined))('with an invalid legacy flag: $name', (c) => check(c, 'yes', 'true'));
  it.each(LEGACY)('with legacy mode: $name', (c) => check(c, 'true', true));

  it('takes short keys as arrays in legacy mode, and refuses them without it', () => {
    const options: ClusterOptions = {
      baseUrl: 'http://127.0.0.1:3000/', secret: ['k3y!8chr', LONG_A], controlSecret: [' c7rl#ctl '], masterListUrl: 'http://127.0.0.1:4000/',
    };
    const config = resolveOptions({ ...options, legacyAuth: true });
    expect(config.secrets).toEqual(['k3y!8chr', LONG_A]);
    expect(config.controlSecrets).toEqual(['c7rl#ctl']);
    const problems = problemsOf(() => resolveOptions(options));
    expect(problems).toHaveLength(2);
    expectProblem(problems, 'secret', 1, 'short');
    expectProblem(problems, 'controlSecret', 1, 'short');
    // Empty strings and non-strings in an array are refused in either mode.
    const bad = problemsOf(() => resolveOptions({ ...options, secret: ['', 5 as unknown as string], legacyAuth: true }));
    expectProblem(bad, 'secret', 1, 'empty');
    expectProblem(bad, 'secret', 2, 'empty');
  });

  it('the strict rule\'s problem says how to generate a key and where the upgrade path is', () => {
    const problems = problemsOf(() => optionsFromEnv(validEnv({ SHAZBOT_SECRET: 'k3y!8chr' })));
    expect(problems).toEqual([
      'SHAZBOT_SECRET: key #1 must be at least 16 characters: generate one with `npx clustershazbot keygen` '
      + '(during an upgrade from 1.x, SHAZBOT_LEGACY_AUTH=true accepts the 1.x fleet\'s shorter key: see docs/security.md)',
    ]);
  });
});
