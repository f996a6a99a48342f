import { CliError, EXIT } from './errors.js';
import type { CliIo } from './io.js';

/** Environment variable holding the control secret. */
export const CONTROL_SECRET_ENV = 'SHAZBOT_CONTROL_SECRET';

/** Longest secret line read from stdin or the prompt, in characters. */
const MAX_SECRET_CHARS = 4096;

type Stdin = NonNullable<CliIo['stdin']>;

/**
 * The control secret, from (in this order) `SHAZBOT_CONTROL_SECRET`, one
 * line of stdin when `secretStdin` is set (read with echo off if stdin is a
 * terminal), or, when `prompt` is set and stdin is a terminal, a prompt on
 * stderr with echo off. Resolves `undefined` if none of these applies.
 * Never takes the secret from a command-line argument.
 */
export async function readControlSecret(io: CliIo, options: { secretStdin: boolean; prompt: boolean }): Promise<string | undefined> {
  const fromEnv = io.env[CONTROL_SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return firstKey(fromEnv);
  const stdin = io.stdin;
  if (options.secretStdin && stdin === undefined) throw new CliError(EXIT.usage, '--secret-stdin: there is no stdin to read');
  if (stdin === undefined || !(options.secretStdin || options.prompt)) return undefined;
  const hidden = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (!options.secretStdin && !hidden) return undefined;
  const secret = firstKey(hidden ? await promptHidden(stdin, io.stderr) : await readLine(stdin));
  if (secret === '') throw new CliError(EXIT.usage, 'the control secret is empty');
  return secret;
}

/**
 * The key a tool sends: the first of a comma-separated rotation list, as
 * servers read `SHAZBOT_CONTROL_SECRET` (the first key is the current one,
 * any key verifies), so the same value works on both sides during a rotation.
 */
function firstKey(value: string): string {
  return value.split(',')[0]!.trim();
}

/** Reads up to the first newline (or the end) of a non-terminal stream, then stops reading. */
function readLine(stdin: Stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (settle: () => void): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      settle();
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(() => resolve(text.slice(0, nl).replace(/\r$/, '')));
      else if (text.length > MAX_SECRET_CHARS) finish(() => reject(new CliError(EXIT.usage, 'the secret line on stdin is too long')));
    };
    const onEnd = (): void => finish(() => resolve(text.replace(/\r$/, '')));
    const onError = (): void => finish(() => reject(new CliError(EXIT.usage, 'cannot read the secret from stdin')));
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

/** Prompts on a terminal with echo off (raw mode) and reads one line; Ctrl-C or Ctrl-D cancels. */
function promptHidden(stdin: Stdin, stderr: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let secret = '';
    stdin.setRawMode?.(true);
    stderr.write('Control secret (input hidden): ');
    const finish = (settle: () => void): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      settle();
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(secret));
        if (ch === '\u0003' || ch === '\u0004') return finish(() => reject(new CliError(EXIT.failed, 'cancelled')));
        if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
        else if (ch >= ' ' && secret.length < MAX_SECRET_CHARS) secret += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
