#!/usr/bin/env node
// `npm run bench:peers [-- --nodes 5,30 --runs 3 --rest-s 60 --only shazbot|serf]`
//
// The README's Express example (clustershazbot) and HashiCorp Serf 0.9.4
// side by side, each at its own defaults, N processes each, on this machine
// (issue 15). Per fleet size and run, both systems go through the same
// sequence (bench/peers/measure.mjs), in alternating order (clustershazbot
// first on odd runs, Serf first on even ones), each run on fresh processes:
//   - processes up: first spawn → last one answering (list route / RPC);
//   - convergence: last one up → every node lists all N alive;
//   - a rest window without polling: IP bytes between nodes per node per
//     second (nftables counter on 127.0.0.1 → 127.0.0.1) and CPU per node;
//   - leave (SIGINT), SIGKILL and SIGSTOP of three nodes: signal → every
//     other node lists it not alive; SIGCONT → every other lists it alive;
//   - false drops: (observer, live node never signalled) pairs listed not
//     alive at any time after convergence.
// Prints a Markdown table per fleet size, then one JSON line per size.
//
// Everything runs inside `unshare -n` with only `lo` up: nothing can leave
// this machine. Serf comes from Debian's package (`apt-get download serf`,
// unpacked with `dpkg-deb -x` into a cache under the temporary folder),
// fetched before entering the namespace. Needs root, unshare, nft and ip.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findExecutable, killEverything, now } from './peers/children.mjs';
import { MIN_NODES, measureRun } from './peers/measure.mjs';
import { HARNESS_HOST, PortAllocator, TrafficCounter, setUpLoopback, verifyAccounting } from './peers/netns.mjs';
import { jsonLine, markdownTable } from './peers/report.mjs';
import { SerfFleet } from './peers/serf-fleet.mjs';
import { ensureSerf } from './peers/serf-download.mjs';
import { SerfRpc, startFakeAgent } from './peers/serf-rpc.mjs';
import { BUILT, FIXTURE, ROOT, SERVER, ShazbotFleet, newAgent, pollList, startFakeServer, waitForBuild } from './peers/shazbot-fleet.mjs';

const USAGE = `Usage: npm run bench:peers -- [options]

Runs the README's Express example (clustershazbot) and Serf 0.9.4 side by
side at their defaults inside a network namespace of its own, and prints a
table and a JSON line per fleet size. Needs root, unshare, nft and ip.

Options:
  --nodes <list>    fleet sizes, comma-separated, each at least ${MIN_NODES} (default 5,30)
  --runs <count>    runs per fleet size and system, alternating the order (default 3)
  --rest-s <s>      seconds of the rest window (default 60; below 60 it spans
                    fewer than two 30-s anti-entropy periods)
  --only <system>   run only shazbot or serf
  --help            this text
`;

const started = now();
/** Progress on stderr, with the time since the start. */
const log = (message) => console.error(`[bench:peers ${((now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);

/** Parses and checks the command line; exits 2 with the usage on any problem. */
function parseOptions(argv) {
  const usageError = (problem) => {
    console.error(`bench:peers: ${problem}\n\n${USAGE}`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string', default: '5,30' },
        runs: { type: 'string', default: '3' },
        'rest-s': { type: 'string', default: '60' },
        only: { type: 'string' },
        help: { type: 'boolean', default: false },
        // Set by the process itself when it re-executes inside the namespace.
        inside: { type: 'boolean', default: false },
        serf: { type: 'string' },
        'serf-version': { type: 'string' },
      },
    }));
  } catch (e) {
    usageError(e.message);
  }
  const nodes = values.nodes.split(',').map((s) => Number(s.trim()));
  if (nodes.length === 0 || !nodes.every((n) => Number.isInteger(n) && n >= MIN_NODES && n <= 500)) {
    usageError(`--nodes takes comma-separated integers from ${MIN_NODES} to 500 (node 0 plus one node per signal)`);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) usageError('--runs takes a positive integer');
  const restS = Number(values['rest-s']);
  if (!Number.isFinite(restS) || restS <= 0 || restS > 3600) usageError('--rest-s takes a number of seconds in (0, 3600]');
  if (values.only !== undefined && !['shazbot', 'serf'].includes(values.only)) usageError('--only takes shazbot or serf');
  const systems = values.only === undefined ? ['shazbot', 'serf'] : [values.only];
  return { ...values, nodes: [...new Set(nodes)], runs, restS, systems };
}

/** Outside the namespace: prerequisites, the example's build, Serf; then the same script inside `unshare -n`. */
async function outside(options, argv) {
  if (process.platform !== 'linux') throw new Error('bench:peers needs Linux (network namespaces, nftables, /proc)');
  if (process.getuid?.() !== 0) throw new Error('bench:peers needs root: it runs inside `unshare -n` and sets nftables counters');
  const tools = Object.fromEntries(['unshare', 'nft', 'ip', 'getconf'].map((t) => [t, findExecutable(t)]));
  const missing = Object.keys(tools).filter((t) => tools[t] === undefined);
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')} (packages util-linux, nftables, iproute2, libc-bin)`);
  if (!existsSync(BUILT)) await waitForBuild(log).catch(() => {
    throw new Error(`${BUILT} is missing: build the package first (npm run build)`);
  });
  if (!existsSync(SERVER)) {
    log(`compiling the README's Express example (${FIXTURE})`);
    execFileSync(process.execPath, ['scripts/prepare-fixtures.mjs', 'express-example'], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  }
  const serf = options.systems.includes('serf') ? await ensureSerf(log) : { binary: '', version: '' };
  const self = fileURLToPath(import.meta.url);
  const child = spawn(tools.unshare, ['-n', process.execPath, self, '--inside', '--serf', serf.binary, '--serf-version', serf.version, ...argv], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise((resolve) => child.once('exit', (...status) => resolve(status)));
  process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
}

/** Polls stand-ins the way the harness polls nodes: what the accounting self-check sends. */
async function harnessPollsOnStandIns() {
  const server = await startFakeServer();
  const agent = await startFakeAgent(HARNESS_HOST);
  const http = newAgent();
  try {
    for (let k = 0; k < 5; k++) await pollList(server.port, 'self-check', 2_000, http);
    const rpc = await SerfRpc.open(HARNESS_HOST, agent.port, 2_000);
    for (let k = 0; k < 5; k++) await rpc.members(2_000);
    rpc.close();
  } finally {
    http.destroy();
    await server.close();
    await agent.close();
  }
}

/** Inside the namespace: the network, the self-check, every run, the report. */
async function inside(options) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      log(`${signal}: stopping every process`);
      killEverything('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  await setUpLoopback(findExecutable('ip'));
  const counter = new TrafficCounter(findExecutable('nft'));
  await counter.create();
  const check = await verifyAccounting(counter, harnessPollsOnStandIns);
  log(`network: own namespace, lo only; self-check: harness polls counted ${check.polled.toHarnessHost.packets + check.polled.fromHarnessHost.packets} packets via ${HARNESS_HOST} and 0 between nodes; a 127.0.0.1 exchange counted ${check.node.nodes.packets} packets`);
  if (options.restS < 60) log(`rest window ${options.restS} s: shorter than two 30-s anti-entropy periods, bytes and CPU at rest are not representative`);
  const ports = await PortAllocator.create();

  const results = new Map(options.nodes.map((n) => [n, {}]));
  for (const n of options.nodes) {
    for (let run = 1; run <= options.runs; run++) {
      const order = run % 2 === 1 ? ['shazbot', 'serf'] : ['serf', 'shazbot'];
      for (const system of order.filter((s) => options.systems.includes(s))) {
        const prefix = `${system} N=${n} run ${run}/${options.runs}`;
        const runLog = (message) => log(`[${prefix}] ${message}`);
        const dist = system === 'shazbot' ? await waitForBuild(runLog) : undefined;
        runLog(system === 'shazbot' ? `starting (dist/esm ${dist})` : `starting (serf ${options['serf-version']})`);
        const fleet = system === 'shazbot' ? new ShazbotFleet(n, ports) : new SerfFleet(n, ports, options.serf);
        const result = await measureRun(fleet, { restS: options.restS, counter, log: runLog });
        result.dist = dist;
        (results.get(n)[system] ??= []).push(result);
      }
    }
  }

  const sizes = [...options.nodes].sort((a, b) => a - b);
  const targetN = 30;
  for (const n of sizes) console.log(`${markdownTable(n, results.get(n), { restS: options.restS, targetN })}\n`);
  for (const n of sizes) console.log(jsonLine(n, results.get(n), { restS: options.restS, serfVersion: options['serf-version'] }));
}

const argv = process.argv.slice(2);
const options = parseOptions(argv);
if (options.help) {
  console.log(USAGE);
} else {
  const passOn = argv.filter((a) => a !== '--inside');
  let finished = false;
  // A promise left pending with nothing left to run would otherwise end the process with 0, silently.
  process.once('exit', (code) => {
    if (!finished && code === 0) {
      console.error('bench:peers: stopped before finishing (a wait with nothing left to run)');
      process.exitCode = 1;
    }
  });
  (options.inside ? inside(options) : outside(options, passOn)).then(() => {
    finished = true;
  }, (error) => {
    console.error(`bench:peers failed: ${error instanceof Error ? error.stack : String(error)}`);
    killEverything('SIGKILL');
    process.exit(1);
  });
}
