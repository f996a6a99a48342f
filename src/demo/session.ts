/**
 * The demo's control secret and the lines that tell a reader how to use it:
 * the dashboard's URL and password, and a `status` command to paste.
 *
 * Without a preset SHAZBOT_CONTROL_SECRET the demo makes one up for the
 * session and shows it on its own output only (it guards a throwaway cluster
 * on loopback); a preset one is never printed.
 */
import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_SECRET_ENV } from '../cli/secret.js';

/** The control secret of a demo session. */
export interface SessionSecret {
  readonly value: string;
  /** Made up for this session (and so printed), rather than taken from SHAZBOT_CONTROL_SECRET. */
  readonly generated: boolean;
}

/** SHAZBOT_CONTROL_SECRET if set and not empty, else 24 random bytes in base64url. */
export function chooseSessionSecret(env: Readonly<Record<string, string | undefined>>): SessionSecret {
  const preset = env[CONTROL_SECRET_ENV];
  if (preset !== undefined && preset !== '') return { value: preset, generated: false };
  return { value: randomBytes(24).toString('base64url'), generated: true };
}

/** What {@link operatorInstructions} needs. */
export interface InstructionsInput {
  readonly secret: SessionSecret;
  /** Base URL of the server to point at (s1), with its trailing slash. */
  readonly base: string;
  /** Absolute path of the CLI's entry point (dist/esm/cli/main.js). @default the one next to this module */
  readonly cliEntry?: string;
  /** Directory the printed command is meant to be run from. @default process.cwd() */
  readonly cwd?: string;
}

/**
 * The lines that say how to look at the running demo. Their shapes are
 * relied upon (README, a screenshot script, tests): a line with
 * `Dashboard: <url>`, with a generated secret a line with
 * `password: <secret>` then spaces, and a line with `Status:` then a
 * command that can be pasted as is into a POSIX shell.
 *
 * The command is `node <CLI entry relative to cwd>` rather than
 * `npx clustershazbot`, which fails inside this package's own checkout
 * (npm 11: ENOENT on the project's own bin); the relative path is right both
 * in the repository and where the package is installed.
 */
export function operatorInstructions(input: InstructionsInput): string[] {
  const cliEntry = input.cliEntry ?? fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const cli = `node ${shellQuote(relative(input.cwd ?? process.cwd(), cliEntry))}`;
  const dashboard = `${input.base}clustershazbot/dashboard`;
  const status = `${cli} status ${input.base}`;
  if (input.secret.generated) {
    return [
      `Dashboard: ${dashboard}`,
      `  log in with any user name and the password: ${input.secret.value}   (generated for this session)`,
      `Status:    ${CONTROL_SECRET_ENV}=${input.secret.value} ${status}`,
      '  (paste it into another terminal while the demo runs: it lists every server, offline ones included)',
    ];
  }
  return [
    `Dashboard: ${dashboard}`,
    `  log in with any user name; the password is your ${CONTROL_SECRET_ENV}`,
    `Status:    ${status}`,
    `  (paste it into another terminal while the demo runs; with ${CONTROL_SECRET_ENV} set there too, it lists offline servers as well)`,
  ];
}

/** `word` as one POSIX shell word: unchanged if it has no special characters, else single-quoted. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
