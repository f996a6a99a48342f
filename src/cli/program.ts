import { Command, CommanderError } from 'commander';
import { runDemo } from '../demo/run-demo.js';
import { registerControl } from './commands/control.js';
import { registerKeygen } from './commands/keygen.js';
import { registerMasterList } from './commands/master-list.js';
import { registerStatus } from './commands/status.js';
import { CliError, EXIT } from './errors.js';
import type { CliIo } from './io.js';

/** The commander program of `clustershazbot`, writing to `io`. A new one per run. */
export function createProgram(io: CliIo): Command {
  const program = new Command('clustershazbot')
    .description('Operate clustershazbot servers: status, watch, control, keygen, master-list store, demo.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');
  // Subcommands copy the settings above when created.
  registerStatus(program, io);
  registerControl(program, io);
  registerKeygen(program, io);
  registerMasterList(program, io);
  program
    .command('demo')
    .description('run a local five-server demo cluster (Ctrl-C to stop)')
    .option('--once', 'exit once the scripted scenario is over')
    .action(async (opts: { once?: boolean }) => {
      const code = await runDemo({ once: opts.once === true, out: io.stdout });
      // The demo has printed what went wrong.
      if (code !== 0) throw new CliError(EXIT.failed, 'demo failed', true);
    });
  return program;
}

/**
 * Runs the CLI on `argv` (the arguments after the program name) and
 * resolves with the exit code: 0 ok, 1 operation failed, 2 usage error,
 * 3 server unreachable. Expected failures become one `error: …` line on
 * stderr; it never rejects.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    // Commander has already printed its message (or the help).
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof CliError) {
      if (!e.reported) io.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(`error: unexpected failure (a bug): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failed;
  }
}
