import { once } from 'node:events';
import { BlockList, isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { consoleLogger } from '../../core/logger.js';
import { ConfigError } from '../../errors.js';
import { startMasterListStore, type MasterListStore } from '../../master-list/store.js';
import { CliError, EXIT } from '../errors.js';
import type { CliIo } from '../io.js';
import { numberIn } from '../options.js';
import { stopOnSignals } from '../stop-signal.js';

/** Environment variable that may hold the `Authorization` value PUT requires, instead of `--auth`. */
export const STORE_AUTH_ENV = 'SHAZBOT_MASTER_LIST_UPDATE_AUTH';

interface ServeOptions {
  file: string;
  port: number;
  host: string;
  auth?: string;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether binding `host` keeps the store reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Registers `master-list serve`: the embedded master-list store until SIGINT/SIGTERM. */
export function registerMasterList(program: Command, io: CliIo): void {
  program
    .command('master-list')
    .description('the master-list store')
    .command('serve')
    .description(`serve a master list from a JSON file (GET and PUT); PUT auth from --auth or ${STORE_AUTH_ENV}`)
    .requiredOption('--file <path>', 'JSON file holding the list (created on the first PUT)')
    .option('--port <port>', 'TCP port (0: any free port)', numberIn(0, 65_535), 0)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--auth <value>', `full Authorization header value PUT must carry, e.g. "Bearer xyz" (prefer ${STORE_AUTH_ENV}: arguments are visible to other users)`)
    .action(async (opts: ServeOptions) => {
      const fromEnv = io.env[STORE_AUTH_ENV];
      const auth = opts.auth ?? (fromEnv === '' ? undefined : fromEnv);
      if (auth === undefined && !isLoopbackHost(opts.host)) {
        io.stderr.write(`warning: no --auth or ${STORE_AUTH_ENV}: anyone who can reach ${opts.host} may overwrite the master list\n`);
      }
      const stop = stopOnSignals();
      try {
        const store = await start({ file: opts.file, port: opts.port, host: opts.host, ...(auth !== undefined && { auth }) });
        io.stdout.write(`master-list store listening on ${store.url} (file ${resolve(opts.file)}, PUT ${auth === undefined ? 'open to anyone' : 'requires the configured Authorization'})\n`);
        if (!stop.signal.aborted) await once(stop.signal, 'abort');
        await store.close();
        io.stdout.write('master-list store stopped\n');
      } finally {
        stop.dispose();
      }
    });
}

async function start(options: { file: string; port: number; host: string; auth?: string }): Promise<MasterListStore> {
  try {
    return await startMasterListStore({ ...options, logger: consoleLogger('warn') });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(EXIT.usage, e.problems.join('; '));
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(EXIT.failed, `cannot serve on ${options.host}:${options.port}: ${code ?? (e instanceof Error ? e.message : String(e))}`);
  }
}
