#!/usr/bin/env node
// `npm run check:state [-- --duration-s 60] [--seed N] [--short] [--faults KIND,...] [--out FILE] [--no-build]`:
// the fault checker of the replicated state. Five real instances of
// test/fixtures/state-node/server.mjs in network namespaces; on each, writers
// doing set, create, update and delete on a small key space and counter
// increments, all with majority consistency, while a seeded nemesis injects
// one fault at a time (3/2 partition, bridge partition, SIGKILL and restart
// with the state directory kept or emptied, SIGSTOP past the failure
// detector's verdict, clock skew). Then it heals everything, waits until
// every replica holds the same dump, and counts what was lost.
//
// Runs test/check-state.test.ts with vitest (the harness is TypeScript, in
// test/helpers/state-check-*.ts); vitest's own output goes to stderr. Prints
// a Markdown table and, last, one JSON line on stdout; writes the same to
// FILE with --out. Exits 1 on any violation or if the run failed. Builds
// first (the instances run the built package) unless --no-build. Needs root,
// iproute2 and nft (nftables).
//
// --short: about 20 s of faults, smaller key space, shorter faults (the test
// suite's run). --seed: the nemesis' and the writers' random draws (default:
// a fresh one, printed). --duration-s: seconds of writes and faults.
// --faults partition,bridge,kill-keep,kill-wipe,pause,skew: only these kinds.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Added to the run's duration for the whole vitest run's deadline, ms. */
const OVERHEAD_MS = 5 * 60_000;
const USAGE = 'usage: npm run check:state [-- --duration-s 60] [--seed N] [--short] [--faults KIND,...] [--out FILE] [--no-build]';

function options() {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string' },
      seed: { type: 'string' },
      short: { type: 'boolean', default: false },
      faults: { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const durationS = Number(values['duration-s'] ?? (values.short ? 20 : 60));
  const seed = values.seed === undefined ? randomInt(1_000_000) : Number(values.seed);
  if (!(durationS > 0) || !Number.isSafeInteger(seed) || seed < 0) throw new Error(`--duration-s must be positive and --seed a non-negative integer; ${USAGE}`);
  return { durationS, seed, short: values.short, faults: values.faults ?? '', out: values.out, build: !values['no-build'] };
}

/** Runs a command with its output on stderr; resolves with its exit code (1 if killed at the deadline). */
function run(command, args, env, timeoutMs) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', process.stderr, process.stderr] });
    const timer = setTimeout(() => {
      console.error(`[check:state] ${command} ${args.join(' ')} still running after ${Math.round(timeoutMs / 1000)} s: stopping it`);
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
  const o = options();
  const startedAt = Date.now();
  if (o.build && (await run(process.execPath, ['scripts/build.mjs'], process.env, 5 * 60_000)) !== 0) throw new Error('the build failed');
  console.error(`[check:state] seed ${o.seed}, ${o.durationS} s${o.short ? ' (short)' : ''}`);
  const dir = await mkdtemp(join(tmpdir(), 'clustershazbot-check-state-run-'));
  try {
    const resultFile = join(dir, 'result.md');
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const env = {
      ...process.env,
      STATE_CHECK: o.short ? 'short' : 'full',
      STATE_CHECK_SEED: String(o.seed),
      STATE_CHECK_DURATION_S: String(o.durationS),
      STATE_CHECK_FAULTS: o.faults,
      STATE_CHECK_RESULT_FILE: resultFile,
    };
    const code = await run(process.execPath, [vitest, 'run', 'test/check-state.test.ts'], env, o.durationS * 1000 + OVERHEAD_MS);
    const result = await readFile(resultFile, 'utf8').catch(() => undefined);
    if (result === undefined) throw new Error(`vitest exited with ${code} without writing a result (seed ${o.seed})`);
    process.stdout.write(result);
    if (o.out !== undefined) await writeFile(o.out, result);
    const passed = JSON.parse(result.trimEnd().split('\n').at(-1)).passed === true;
    console.error(`[check:state] ${passed && code === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - startedAt) / 1000)} s (seed ${o.seed})`);
    if (!passed || code !== 0) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`[check:state] ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
});
