#!/usr/bin/env node
// `npm run chaos [-- --out FILE] [--only NAME] [--no-build]`: every chaos scenario at full
// size (test/chaos.test.ts with CHAOS=full, run by vitest): a 9-process crash
// and restart, a pause, a 5/4 partition in network namespaces (needs root and
// iproute2) and four master-list store faults. Prints the outcome as a
// Markdown table and one JSON line on stdout (vitest's own output goes to
// stderr), writes the same to FILE with --out, and exits 1 if any scenario
// failed. Builds first (the servers run the built package) unless --no-build.
// --only failures|partition|store runs one group of scenarios.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The whole run is stopped after this, ms: the scenarios' own deadlines add up to less. */
const TOTAL_DEADLINE_MS = 15 * 60_000;

function parseArgs(argv) {
  const options = { out: undefined, only: '', build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--no-build') options.build = false;
    else if (arg === '--out' && argv[i + 1] !== undefined) options.out = argv[++i];
    else if (arg.startsWith('--out=')) options.out = arg.slice('--out='.length);
    else if (arg === '--only' && argv[i + 1] !== undefined) options.only = argv[++i];
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: npm run chaos [-- --out FILE] [--only NAME] [--no-build]`);
  }
  return options;
}

/** Runs a command with its output on stderr; resolves with its exit code (1 if killed at the deadline). */
function run(command, args, env, timeoutMs) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', process.stderr, process.stderr] });
    const timer = setTimeout(() => {
      console.error(`[chaos] ${command} ${args.join(' ')} still running after ${timeoutMs / 1000} s: stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun(code ?? 1);
    });
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  if (options.build && (await run(process.execPath, ['scripts/build.mjs'], process.env, 5 * 60_000)) !== 0) {
    throw new Error('the build failed');
  }
  const dir = await mkdtemp(join(tmpdir(), 'clustershazbot-chaos-run-'));
  try {
    const resultFile = join(dir, 'result.md');
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const env = { ...process.env, CHAOS: 'full', CHAOS_RESULT_FILE: resultFile, CHAOS_ONLY: options.only };
    const code = await run(process.execPath, [vitest, 'run', 'test/chaos.test.ts'], env, TOTAL_DEADLINE_MS - (Date.now() - startedAt));
    const result = await readFile(resultFile, 'utf8').catch(() => undefined);
    if (result === undefined) throw new Error(`vitest exited with ${code} without writing the outcome`);
    process.stdout.write(result);
    if (options.out !== undefined) await writeFile(options.out, result);
    const passed = JSON.parse(result.trimEnd().split('\n').at(-1)).passed === true;
    console.error(`[chaos] ${passed && code === 0 ? 'all scenarios passed' : 'FAILED'} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
    if (!passed || code !== 0) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`[chaos] ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
});
