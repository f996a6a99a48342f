import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH } from './config.js';
import type { Logger, LogLevel } from './core/logger.js';
import { shortKeys, shortSecretWarning, warnIfShortSecrets, type ConfiguredKeys } from './secret-strength.js';

const LONG = 'L'.repeat(MIN_SECRET_LENGTH);
const LONGER = 'M'.repeat(43);

describe('shortKeys and shortSecretWarning', () => {
  const cases: Array<{ name: string; keys: ConfiguredKeys; short: string[]; gossipRisk: boolean; controlRisk: boolean }> = [
    { name: 'no short key', keys: { secrets: [LONG], controlSecrets: [LONGER] }, short: [], gossipRisk: false, controlRisk: false },
    { name: 'exactly the minimum is not short', keys: { secrets: [LONG, LONG], controlSecrets: [LONG] }, short: [], gossipRisk: false, controlRisk: false },
    { name: 'short gossip key', keys: { secrets: ['g8chars!'], controlSecrets: [LONG] }, short: ['SHAZBOT_SECRET key #1'], gossipRisk: true, controlRisk: false },
    { name: 'short control key', keys: { secrets: [LONG], controlSecrets: ['c~'] }, short: ['SHAZBOT_CONTROL_SECRET key #1'], gossipRisk: false, controlRisk: true },
    {
      name: 'both short',
      keys: { secrets: ['s^'.repeat(7)], controlSecrets: ['ab!d'] },
      short: ['SHAZBOT_SECRET key #1', 'SHAZBOT_CONTROL_SECRET key #1'], gossipRisk: true, controlRisk: true,
    },
    {
      name: 'rotation lists mixing short and long keys',
      keys: { secrets: [LONG, 'sh0rt~1', LONGER, 'x^'], controlSecrets: ['t!ny', LONG] },
      short: ['SHAZBOT_SECRET key #2', 'SHAZBOT_SECRET key #4', 'SHAZBOT_CONTROL_SECRET key #1'], gossipRisk: true, controlRisk: true,
    },
  ];

  it.each(cases)('$name', ({ keys, short, gossipRisk, controlRisk }) => {
    expect(shortKeys(keys).map((k) => `${k.variable} key #${k.position}`)).toEqual(short);
    const text = shortSecretWarning(keys);
    if (short.length === 0) {
      expect(text).toBeUndefined();
      return;
    }
    expect(text).toBeDefined();
    const warning = text!;
    // Names every short key, and only those, in one list.
    expect(warning).toContain(`${short.join(', ')} ${short.length === 1 ? 'is' : 'are'} shorter than ${MIN_SECRET_LENGTH} characters`);
    for (const variable of ['SHAZBOT_SECRET', 'SHAZBOT_CONTROL_SECRET']) {
      const named = warning.match(new RegExp(`${variable} key #\\d+`, 'g')) ?? [];
      expect(named.sort(), variable).toEqual(short.filter((s) => s.startsWith(`${variable} `)).sort());
    }
    // The risk: offline guessing of a short HMAC key, online guessing of a short control key, plain text from 1.x.
    expect(warning.includes('guess a short gossip key offline (HMAC-SHA256 over a low-entropy key)')).toBe(gossipRisk);
    expect(warning.includes('a short control key can be guessed')).toBe(controlRisk);
    expect(warning).toContain('1.x peers send both secrets in plain text');
    // The way out: keygen, the three-step rotation, legacy mode off.
    expect(warning).toContain('once the last 1.x server is gone');
    expect(warning).toContain('npx clustershazbot keygen');
    expect(warning).toContain('`old,new` everywhere, then `new,old`, then `new`');
    expect(warning).toContain('docs/security.md');
    expect(warning).toMatch(/then turn SHAZBOT_LEGACY_AUTH off\.$/);
    // Never a secret, nor a length: the only numbers are the rule, key positions, `1.x` and HMAC-SHA256.
    for (const key of [...keys.secrets, ...keys.controlSecrets]) expect(warning).not.toContain(key);
    const numbers = (warning.match(/\d+/g) ?? []).filter((n) => ![String(MIN_SECRET_LENGTH), '1', '256'].includes(n));
    const positions = short.map((s) => s.slice(s.indexOf('#') + 1));
    for (const n of numbers) expect(positions, `stray number ${n}`).toContain(n);
  });

  it('does not depend on the secrets themselves, only on which keys are short', () => {
    const a = shortSecretWarning({ secrets: ['aaaaaaa', LONG], controlSecrets: ['b'] });
    const b = shortSecretWarning({ secrets: ['zz', LONGER], controlSecrets: ['0123456789abcde'] });
    expect(a).toBe(b);
  });
});

describe('warnIfShortSecrets', () => {
  function recorder(): { log: Logger; lines: Array<[LogLevel, string]> } {
    const lines: Array<[LogLevel, string]> = [];
    const at = (level: LogLevel) => (message: string): void => {
      lines.push([level, message]);
    };
    return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
  }

  it('logs one warning when a key is short, nothing otherwise', () => {
    const short = recorder();
    warnIfShortSecrets(short.log, { secrets: ['8-chars!', LONG], controlSecrets: ['tiny-one'] });
    expect(short.lines).toHaveLength(1);
    expect(short.lines[0]![0]).toBe('warn');
    expect(short.lines[0]![1]).toContain('SHAZBOT_SECRET key #1, SHAZBOT_CONTROL_SECRET key #1 are shorter than 16 characters');
    const none = recorder();
    warnIfShortSecrets(none.log, { secrets: [LONG], controlSecrets: [LONGER] });
    expect(none.lines).toEqual([]);
  });

  it('survives a logger that throws', () => {
    const throwing: Logger = { debug() {}, info() {}, warn() { throw new Error('broken'); }, error() {} };
    expect(() => warnIfShortSecrets(throwing, { secrets: ['x'], controlSecrets: [LONG] })).not.toThrow();
  });
});
