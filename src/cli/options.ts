import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_TIMEOUT_MS } from './http.js';

/** A commander argument parser accepting numbers from `min` to `max` (integers only when `integer`). */
export function numberIn(min: number, max: number, integer = true): (value: string) => number {
  return (value) => {
    const n = /^\s*$/.test(value) ? Number.NaN : Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      throw new InvalidArgumentError(`must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}

/** Options shared by commands that talk to a server. */
export interface ServerOptions {
  /** Read the control secret from one line of stdin. */
  secretStdin?: boolean;
  /** Per-request timeout in ms. */
  timeout: number;
}

/** Adds `--secret-stdin` and `--timeout <ms>` to a command. */
export function serverOptions(command: Command): Command {
  return command
    .option('--secret-stdin', 'read the control secret from one line of stdin (SHAZBOT_CONTROL_SECRET takes precedence)')
    .option('--timeout <ms>', 'per-request timeout in ms', numberIn(1, 600_000), DEFAULT_TIMEOUT_MS);
}
