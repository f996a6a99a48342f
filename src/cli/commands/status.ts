import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { fetchStatus } from '../fetch-status.js';
import { parseBaseUrl } from '../http.js';
import type { CliIo } from '../io.js';
import { numberIn, serverOptions, type ServerOptions } from '../options.js';
import { readControlSecret } from '../secret.js';
import { stopOnSignals } from '../stop-signal.js';
import { formatReport } from '../table.js';

interface StatusOptions extends ServerOptions {
  json?: boolean;
}

interface WatchOptions extends StatusOptions {
  /** Seconds between refreshes. */
  interval: number;
  /** Stop after this many refreshes. */
  count?: number;
}

/** ANSI: clear the screen and move the cursor home. */
const CLEAR_SCREEN = '\u001b[2J\u001b[H';

/** Registers `status <url>` and `watch <url>`. */
export function registerStatus(program: Command, io: CliIo): void {
  serverOptions(
    program
      .command('status <url>')
      .description("table of the servers a server knows (uses GET info with the control secret, else GET list)")
      .option('--json', 'print machine-readable JSON instead of a table'),
  ).action(async (url: string, opts: StatusOptions) => {
    const base = parseBaseUrl(url);
    const secret = await readControlSecret(io, { secretStdin: opts.secretStdin === true, prompt: false });
    const report = await fetchStatus(base, secret, opts.timeout);
    io.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  });

  serverOptions(
    program
      .command('watch <url>')
      .description('the status table, refreshed until Ctrl-C')
      .option('--json', 'print one JSON line per refresh instead of a table')
      .option('--interval <s>', 'seconds between refreshes', numberIn(0.1, 86_400, false), 2)
      .option('--count <n>', 'stop after this many refreshes', numberIn(1, Number.MAX_SAFE_INTEGER)),
  ).action(async (url: string, opts: WatchOptions) => {
    const base = parseBaseUrl(url);
    const secret = await readControlSecret(io, { secretStdin: opts.secretStdin === true, prompt: false });
    const stop = stopOnSignals();
    try {
      await watch(io, base, secret, opts, stop.signal);
    } finally {
      stop.dispose();
    }
  });
}

/**
 * Refreshes until `--count` is reached or `signal` aborts (Ctrl-C: exit 0).
 * An unreachable server is shown and retried; any other failure ends the
 * watch. With `--count`, the exit code is that of the last refresh.
 */
async function watch(io: CliIo, base: string, secret: string | undefined, opts: WatchOptions, signal: AbortSignal): Promise<void> {
  const stopped = new Promise<'stopped'>((resolve) => signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
  let last: CliError | undefined;
  for (let i = 0; opts.count === undefined || i < opts.count; i++) {
    if (i > 0) {
      try {
        await sleep(opts.interval * 1000, undefined, { signal });
      } catch {
        return;
      }
    }
    const frameStart = io.stdout.isTTY === true ? CLEAR_SCREEN : i > 0 ? '\n' : '';
    const outcome = await Promise.race([refresh(io, base, secret, opts, frameStart), stopped]);
    if (outcome === 'stopped') return;
    last = outcome;
    if (last !== undefined && last.exitCode !== EXIT.unreachable) throw last;
  }
  if (last !== undefined) throw last;
}

/**
 * One refresh: prints the report (text after `frameStart`) or the error, and
 * resolves with the error, if any, marked as already reported.
 */
async function refresh(io: CliIo, base: string, secret: string | undefined, opts: WatchOptions, frameStart: string): Promise<CliError | undefined> {
  try {
    const report = await fetchStatus(base, secret, opts.timeout);
    if (opts.json) io.stdout.write(JSON.stringify(report) + '\n');
    else io.stdout.write(`${frameStart}${new Date(report.now).toISOString()}  ${formatReport(report)}`);
    return undefined;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    if (opts.json) io.stdout.write(JSON.stringify({ url: base, error: e.message, exitCode: e.exitCode }) + '\n');
    io.stderr.write(`error: ${e.message}\n`);
    return new CliError(e.exitCode, e.message, true);
  }
}
