import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { answerError, parseBaseUrl, requestJson, routeUrl } from '../http.js';
import type { CliIo } from '../io.js';
import { serverOptions, type ServerOptions } from '../options.js';
import { readControlSecret } from '../secret.js';

interface ControlOptions extends ServerOptions {
  online?: boolean;
  offline?: boolean;
}

/** Registers `control <url> --online|--offline`. */
export function registerControl(program: Command, io: CliIo): void {
  serverOptions(
    program
      .command('control <url>')
      .description('take a server offline or bring it back (needs the control secret: env, --secret-stdin or a prompt)')
      .addOption(new Option('--online', 'bring the server back online').conflicts('offline'))
      .addOption(new Option('--offline', 'take the server offline')),
  ).action(async (url: string, opts: ControlOptions) => {
    if (opts.online !== true && opts.offline !== true) throw new CliError(EXIT.usage, 'control: pass exactly one of --online or --offline');
    const base = parseBaseUrl(url);
    const secret = await readControlSecret(io, { secretStdin: opts.secretStdin === true, prompt: true });
    if (secret === undefined) {
      throw new CliError(EXIT.usage, 'no control secret: set SHAZBOT_CONTROL_SECRET, pass --secret-stdin, or run in a terminal to be prompted');
    }
    const online = opts.online === true;
    const target = routeUrl(base, 'control');
    const answer = await requestJson(target, { method: 'POST', bearer: secret, body: { message: 'control', online }, timeoutMs: opts.timeout });
    if (answer.status !== 200) throw answerError(target, answer);
    if ((answer.body as { success?: unknown } | undefined)?.success !== true) {
      throw new CliError(EXIT.failed, `${target} answered 200 without {"success":true}`);
    }
    io.stdout.write(`${base}: ${online ? 'brought online' : 'taken offline'}\n`);
  });
}
