#!/usr/bin/env node
// `npm run bench:state [-- --duration-s 60 --quick --only a,b --skip a,b]`
//
// The replicated state (`cluster.state`) under load, in real processes, with
// what Node services do today beside it: a local Map kept in sync over
// Redis pub/sub. Prints a Markdown table, then LAST on stdout one JSON line
// with every section's fields merged, the build (git commit, fingerprint of
// dist/esm) and the durations. Progress goes to stderr.
//
// Sections (bench/state/sections.mjs says how to add one):
//   writes  5 clustershazbot processes (bench/state/worker.mjs: node:http and
//           the built package, configured by SHAZBOT_* variables), one map
//           of 10,000 keys with 256-byte values; each process runs its own
//           write loop through `kv.set` for --duration-s, told to over HTTP
//           (each process writes only its own 2,000 keys). Four loads: local
//           writes offered at 5,000/s in all (open loop, at most 64 pending
//           per process), local writes as fast as each process goes (at most
//           64 pending), majority writes offered at 500/s, majority writes as
//           fast as they go (64 pending): the targets are checked at the
//           rates they name, and the ceilings reported.
//           Acknowledged writes per second, acknowledgement latency, and the
//           replication lag: every value carries its write's Date.now();
//           every replica records now − that on each change from elsewhere.
//   redis   the same workload, write loop and loads (majority aside) over Redis pub/sub
//           (bench/state/redis-worker.mjs, ioredis) against the Redis on this
//           machine; under CI=true a missing Redis fails the run.
//   loss    on each system, after its load: one replica cut off for 5 s while
//           the 4 others write 500/s in all, then reconnected; once it stops
//           changing (or holds everything), the writes it lacks. Redis: its
//           subscriber connection closed for 5 s. clustershazbot: every packet
//           to or from that process dropped by nftables for 5 s.
//
// clustershazbot's processes run inside `unshare -n` with only lo up (as
// bench:peers does: this script re-executes itself there); the Redis side
// runs on the host's loopback, where that Redis is. The namespace sections
// need Linux, root, unshare, nft and ip: outside CI they are skipped
// without them, under CI=true their absence fails the run.
import { execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findExecutable, killEverything, now } from './peers/children.mjs';
import { setUpLoopback } from './peers/netns.mjs';
import { allSections, markdownTable, sectionContext } from './state/sections.mjs';
import { ROOT, waitForBuilt } from './state/shazbot.mjs';

/** Modules that register sections, in table order. Add yours here. */
const SECTION_MODULES = ['./state/real.mjs', './state/sim.mjs', './state/join.mjs'];
for (const module of SECTION_MODULES) await import(module);

const NODES = 5;

const USAGE = `Usage: npm run bench:state -- [options]

Runs the replicated state's benchmark sections and prints a Markdown table,
then one JSON line with every figure. Sections: ${allSections().map((s) => s.name).join(', ')}.

Options:
  --duration-s <s>     seconds of each load (default 60)
  --quick              5-s loads (for a test); overrides --duration-s
  --only <a,b>         run only these sections
  --skip <a,b>         run every section but these
  --rate <n>           offered writes per second in all, spread over the processes
                       (default 0: as fast as each process goes, at most
                       --max-in-flight pending)
  --max-in-flight <n>  pending writes per process at most (default 64)
  --target-rate <n>    first, a load of local writes at this rate in all, to check
                       the lag target at the rate it names (default 5000; 0: none)
  --majority-target-rate <n>
                       likewise for majority writes and their acknowledgement
                       target (default 500; 0: none)
  --loss-rate <n>      writes per second in all during the loss section (default 500)
  --cut-s <s>          how long the replica stays cut off (default 5)
  --redis-url <url>    (default redis://127.0.0.1:6379)
  --cpu-prof <dir>     run every worker with node --cpu-prof, profiles written to <dir>
                       (summarise one with node bench/profile-summary.mjs FILE)
  --host-only          skip the parts that run inside the namespace (clustershazbot's):
                       only what runs on the host's network (the Redis side)
  --help               this text
`;

const started = now();
const log = (message) => console.error(`[bench:state ${((now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);

function parseOptions(argv) {
  const usageError = (problem) => {
    console.error(`bench:state: ${problem}\n\n${USAGE}`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'duration-s': { type: 'string', default: '60' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        skip: { type: 'string' },
        rate: { type: 'string', default: '0' },
        'max-in-flight': { type: 'string', default: '64' },
        'target-rate': { type: 'string', default: '5000' },
        'majority-target-rate': { type: 'string', default: '500' },
        'loss-rate': { type: 'string', default: '500' },
        'cut-s': { type: 'string', default: '5' },
        'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
        'cpu-prof': { type: 'string' },
        'host-only': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
        // Set by the process itself when it re-executes inside the namespace.
        inside: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    usageError(e.message);
  }
  const number = (name, ok) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || !ok(n)) usageError(`--${name}: ${values[name]} is out of range`);
    return n;
  };
  const names = allSections().map((s) => s.name);
  const list = (name) => {
    if (values[name] === undefined) return undefined;
    const picked = values[name].split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = picked.filter((s) => !names.includes(s));
    if (unknown.length > 0) usageError(`--${name}: unknown section ${unknown.join(', ')} (sections: ${names.join(', ')})`);
    return picked;
  };
  const only = list('only');
  const skip = list('skip') ?? [];
  const selected = allSections().filter((s) => (only === undefined || only.includes(s.name)) && !skip.includes(s.name));
  if (selected.length === 0) usageError('no section left to run');
  return {
    help: values.help,
    inside: values.inside,
    hostOnly: values['host-only'],
    quick: values.quick,
    durationS: values.quick ? 5 : number('duration-s', (n) => n > 0 && n <= 3600),
    rate: number('rate', (n) => n >= 0),
    maxInFlight: number('max-in-flight', (n) => Number.isInteger(n) && n >= 1),
    targetRate: number('target-rate', (n) => n >= 0),
    majorityTargetRate: number('majority-target-rate', (n) => n >= 0),
    lossRate: number('loss-rate', (n) => n > 0),
    cutS: number('cut-s', (n) => n > 0 && n <= 600),
    redisUrl: values['redis-url'],
    nodeArgs: values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`],
    nodes: NODES,
    selected,
  };
}

/** Runs `part` ('inside' or 'outside') of every selected section that has one; resolves to `{ fields, notes, walls }`. */
async function runParts(options, part) {
  const ctx = sectionContext({ options, log });
  const fields = {};
  const walls = {};
  try {
    for (const section of options.selected.filter((s) => s[part] !== undefined)) {
      const t0 = now();
      log(`section ${section.name} (${part === 'inside' ? 'inside the namespace' : 'host network'})`);
      const produced = await section[part](ctx);
      for (const key of Object.keys(produced)) {
        if (key in fields) throw new Error(`section ${section.name}: field ${key} produced twice`);
      }
      Object.assign(fields, produced);
      walls[section.name] = (now() - t0) / 1000;
    }
  } finally {
    await ctx.close();
  }
  return { fields, notes: ctx.notes, walls };
}

/** Inside `unshare -n`: lo up, then the inside parts; the result as the one line on stdout. */
async function inside(options) {
  await setUpLoopback(findExecutable('ip'));
  const result = await runParts(options, 'inside');
  console.log(JSON.stringify(result));
}

/** Why the namespace sections cannot run here, or undefined. */
function namespaceProblem() {
  if (process.platform !== 'linux') return 'they need Linux (network namespaces, nftables)';
  if (process.getuid?.() !== 0) return 'they need root (unshare -n, nftables)';
  const missing = ['unshare', 'nft', 'ip'].filter((t) => findExecutable(t) === undefined);
  if (missing.length > 0) return `${missing.join(', ')} missing (packages util-linux, nftables, iproute2)`;
  return undefined;
}

/** Runs this script inside `unshare -n` with the inside parts; resolves to their result. */
async function runInside(argv) {
  const child = spawn(findExecutable('unshare'), ['-n', process.execPath, fileURLToPath(import.meta.url), '--inside', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  const code = await new Promise((resolve) => child.once('close', (c, signal) => resolve(c ?? signal)));
  if (code !== 0) throw new Error(`the sections inside the namespace failed (exit ${code})`);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

/** The commit of the working tree, and whether src/ differs from it. */
function build() {
  const git = (...args) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short=12', 'HEAD'), src_dirty: git('status', '--porcelain', '--', 'src').length > 0 };
  } catch {
    return { commit: 'unknown', src_dirty: undefined };
  }
}

async function outside(options, argv) {
  const fields = {};
  const notes = [];
  const walls = {};
  const meta = { ...build(), load_avg_1m_at_start: Math.round(loadavg()[0] * 100) / 100 };
  log(`build ${meta.commit}${meta.src_dirty ? ' (src/ modified)' : ''}; load average ${meta.load_avg_1m_at_start}`);
  const insideSections = options.selected.filter((s) => s.inside !== undefined);
  if (insideSections.length > 0 && options.hostOnly) {
    notes.push(`clustershazbot's part of ${insideSections.map((s) => s.name).join(', ')} skipped: --host-only`);
  } else if (insideSections.length > 0) {
    const problem = namespaceProblem();
    if (problem !== undefined) {
      if (process.env.CI === 'true') throw new Error(`sections ${insideSections.map((s) => s.name).join(', ')}: ${problem}, and CI must run them`);
      notes.push(`clustershazbot's part of ${insideSections.map((s) => s.name).join(', ')} skipped: ${problem}`);
      log(notes.at(-1));
    } else {
      meta.dist = await waitForBuilt(log);
      const only = insideSections.map((s) => s.name).join(',');
      const passOn = argv.filter((a, i) => !['--only', '--skip'].includes(a) && !['--only', '--skip'].includes(argv[i - 1]) && !a.startsWith('--only=') && !a.startsWith('--skip='));
      const result = await runInside([...passOn, '--only', only]);
      Object.assign(fields, result.fields);
      notes.push(...result.notes);
      for (const [name, s] of Object.entries(result.walls)) walls[name] = (walls[name] ?? 0) + s;
    }
  }
  const result = await runParts(options, 'outside');
  for (const key of Object.keys(result.fields)) {
    if (key in fields) throw new Error(`field ${key} produced twice`);
  }
  Object.assign(fields, result.fields);
  notes.push(...result.notes);
  for (const [name, s] of Object.entries(result.walls)) walls[name] = (walls[name] ?? 0) + s;

  console.log(markdownTable(options.selected, fields, options));
  console.log('');
  console.log(`${options.nodes} processes per system on one machine (127.0.0.1), a map of 10,000 keys with 256-byte values, each key written by one process only; loads of ${options.durationS} s each. Machine busy during the loads (all cores, every process): clustershazbot ${fields.machine_busy_pct_5proc ?? '—'} % (local), ${fields.majority_machine_busy_pct ?? '—'} % (majority); Redis ${fields.redis_pubsub_machine_busy_pct ?? '—'} %. Load average at the start: ${meta.load_avg_1m_at_start}.`);
  for (const note of notes) console.log(`\nNote: ${note}`);
  console.log('');
  const line = {
    ...meta,
    sections: options.selected.map((s) => s.name),
    n: options.nodes,
    duration_s: options.durationS,
    quick: options.quick,
    rate: options.rate,
    max_in_flight: options.maxInFlight,
    target_rate: options.targetRate,
    majority_target_rate: options.majorityTargetRate,
    loss_rate: options.lossRate,
    cut_s: options.cutS,
    ...fields,
    ...Object.fromEntries(Object.entries(walls).map(([name, s]) => [`wall_s_${name}`, Math.round(s * 10) / 10])),
    wall_s: Math.round((now() - started) / 100) / 10,
    notes,
  };
  console.log(JSON.stringify(line));
}

const argv = process.argv.slice(2);
const options = parseOptions(argv);
if (options.help) {
  console.log(USAGE);
} else {
  let finished = false;
  // A promise left pending with nothing left to run would otherwise end the process with 0, silently.
  process.once('exit', (code) => {
    if (!finished && code === 0) {
      console.error('bench:state: stopped before finishing (a wait with nothing left to run)');
      process.exitCode = 1;
    }
  });
  // Children run in process groups of their own: a signal to this one does not reach them.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      log(`${signal}: stopping every process`);
      killEverything('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  (options.inside ? inside(options) : outside(options, argv.filter((a) => a !== '--inside'))).then(() => {
    finished = true;
  }, (error) => {
    console.error(`bench:state failed: ${error instanceof Error ? error.stack : String(error)}`);
    killEverything('SIGKILL');
    process.exit(1);
  });
}
