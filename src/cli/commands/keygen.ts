import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { numberIn } from '../options.js';

/** Default `--bytes` of `keygen`. */
export const DEFAULT_KEY_BYTES = 32;

/** Registers `keygen [--bytes n]`: a random secret from node:crypto, base64url, on stdout. */
export function registerKeygen(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('print a strong random secret (base64url) for SHAZBOT_SECRET or SHAZBOT_CONTROL_SECRET')
    .option('--bytes <n>', 'random bytes (16 to 1024)', numberIn(16, 1024), DEFAULT_KEY_BYTES)
    .action((opts: { bytes: number }) => {
      io.stdout.write(randomBytes(opts.bytes).toString('base64url') + '\n');
    });
}
