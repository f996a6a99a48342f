/**
 * The start-up warning about short keys. Keys under {@link MIN_SECRET_LENGTH}
 * characters pass validation only in 1.x compatibility mode (`legacyAuth`),
 * so that a 1.x fleet with a short secret can upgrade; this says which keys
 * are short, what that risks and how to get rid of them. It names keys by
 * variable and position only: never a secret, nor its length.
 */
import { MIN_SECRET_LENGTH } from './config.js';
import { safeLog, type Logger } from './core/logger.js';

/** One key shorter than {@link MIN_SECRET_LENGTH}: its variable and 1-based position in the rotation list. */
export interface ShortKey {
  readonly variable: 'SHAZBOT_SECRET' | 'SHAZBOT_CONTROL_SECRET';
  readonly position: number;
}

/** The configured keys, as {@link resolveOptions} returns them. */
export interface ConfiguredKeys {
  readonly secrets: readonly string[];
  readonly controlSecrets: readonly string[];
}

/** Every key shorter than {@link MIN_SECRET_LENGTH}, gossip keys first, each list in order. */
export function shortKeys(keys: ConfiguredKeys): ShortKey[] {
  const out: ShortKey[] = [];
  const scan = (variable: ShortKey['variable'], list: readonly string[]): void => {
    list.forEach((key, i) => {
      if (key.length < MIN_SECRET_LENGTH) out.push({ variable, position: i + 1 });
    });
  };
  scan('SHAZBOT_SECRET', keys.secrets);
  scan('SHAZBOT_CONTROL_SECRET', keys.controlSecrets);
  return out;
}

/**
 * The one warning to log at start when a key is short, or undefined when
 * none is. Pure: the text depends only on which keys are short.
 */
export function shortSecretWarning(keys: ConfiguredKeys): string | undefined {
  const short = shortKeys(keys);
  if (short.length === 0) return undefined;
  const names = short.map((k) => `${k.variable} key #${k.position}`).join(', ');
  const gossip = short.some((k) => k.variable === 'SHAZBOT_SECRET');
  const control = short.some((k) => k.variable === 'SHAZBOT_CONTROL_SECRET');
  const risks: string[] = [];
  if (gossip) {
    risks.push('anyone who captures one signed gossip message can guess a short gossip key offline (HMAC-SHA256 over a low-entropy key) and then forge membership');
  }
  if (control) {
    risks.push('a short control key can be guessed by trying candidates against the control, list and info routes');
  }
  risks.push('1.x peers send both secrets in plain text anyway');
  return `short secret in use: ${names} ${short.length === 1 ? 'is' : 'are'} shorter than ${MIN_SECRET_LENGTH} characters, `
    + 'accepted only because SHAZBOT_LEGACY_AUTH is on. '
    + `Risk: ${risks.join('; ')}. `
    + 'Way out, once the last 1.x server is gone: generate a key with `npx clustershazbot keygen` for each short variable, '
    + 'rotate in three rolling restarts (`old,new` everywhere, then `new,old`, then `new`; see docs/security.md), '
    + 'then turn SHAZBOT_LEGACY_AUTH off.';
}

/** Logs {@link shortSecretWarning} once, at warn level, if any key is short. */
export function warnIfShortSecrets(log: Logger, keys: ConfiguredKeys): void {
  const warning = shortSecretWarning(keys);
  if (warning !== undefined) safeLog(log, 'warn', warning);
}
