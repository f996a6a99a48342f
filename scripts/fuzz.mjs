#!/usr/bin/env node
// `npm run fuzz [-- --count 100000 --concurrency 32 --batch 2500 --seed N --target FILE]`:
// hostile requests through a real HTTP server in a child process (see
// test/helpers/fuzz-driver.mjs). Prints progress to stderr, a table per
// endpoint and one JSON line to stdout; exits 1 on any violation, 2 if it
// could not run. `--target` runs another server script instead of the demo
// server (it gets the SHAZBOT_* variables, PORT, and this process's FUZZ_*).
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '32' },
    batch: { type: 'string', default: '2500' },
    seed: { type: 'string' },
    target: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const number = (name) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return n;
};
if (!existsSync(new URL('../dist/esm/demo/demo-server.js', import.meta.url))) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(2);
}
const { runFuzz } = await import('../test/helpers/fuzz-driver.mjs');
const options = {
  count: number('count'),
  concurrency: number('concurrency'),
  batch: number('batch'),
  seed: values.seed === undefined ? undefined : number('seed'),
  script: values.target === undefined ? undefined : pathToFileURL(values.target),
  log: values.quiet ? undefined : (line) => console.error(line),
};
let summary;
try {
  summary = await runFuzz(options);
} catch (e) {
  console.error(`the fuzz run could not run: ${e instanceof Error ? e.message : e}`);
  process.exit(2);
}

const fmt = (n) => n.toLocaleString('en-US');
const histogram = (h) => Object.entries(h).map(([k, n]) => `${k}×${fmt(n)}`).join(' ');
const rows = Object.entries(summary.endpoints).map(([name, e]) => [
  name, fmt(e.sent), histogram(e.statuses), fmt(e.unexpected), fmt(e.withheld), histogram(e.codes),
]);
const header = ['endpoint', 'sent', 'statuses', 'unexpected', 'withheld', 'error codes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(`crashes: ${summary.crashes}  state changes: ${summary.stateChanges}  health failures: ${summary.healthFailures}  `
  + `stderr errors: ${summary.stderr.length}  timers ran: ${summary.timersRan}  seed: ${summary.seed}  `
  + `time: ${(summary.durationMs / 1000).toFixed(1)} s`);
console.log('(withheld: generated requests that are valid and would change the table, such as control online:false; not sent)');
for (const v of summary.violations) console.log(`VIOLATION ${JSON.stringify(v)}`);
console.log(JSON.stringify({
  fuzz: summary.ok ? 'ok' : 'failed',
  seed: summary.seed,
  perEndpoint: summary.perEndpoint,
  sent: Object.fromEntries(Object.entries(summary.endpoints).map(([k, e]) => [k, e.sent])),
  unexpected: Object.values(summary.endpoints).reduce((a, e) => a + e.unexpected, 0),
  crashes: summary.crashes,
  stateChanges: summary.stateChanges,
  healthFailures: summary.healthFailures,
  stderrErrors: summary.stderr.length,
  timersRan: summary.timersRan,
  durationMs: summary.durationMs,
}));
process.exitCode = summary.ok ? 0 : 1;
