#!/usr/bin/env node
// `npm run bench:sim -- --nodes N [--json] [--seed S] [--skip a,b] [--cold-spread-ms MS]`
//
// Runs the real engine in the simulator (clustershazbot/testing) with the
// default configuration (30 s anti-entropy, 2.5 s probe period, 5 ms ± 2 ms
// one-way latency) and measures dissemination, anti-entropy, bandwidth at
// rest, a cold start (N servers started one after another over 10 s, up to
// N = 1,000), failure detection and false positives. Prints a table, then one JSON
// object on the last line. Every figure comes from virtual time except wall_s.
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../dist/esm/core/random.js';
import { DEFAULTS } from '../dist/esm/config.js';
import { SIM_MASTER_LIST_URL, Simulation } from '../dist/esm/testing/index.js';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const N = Number(arg('nodes', '100'));
const SEED = Number(arg('seed', '1'));
const JSON_ONLY = args.includes('--json');
const SKIP = new Set(String(arg('skip', '')).split(',').filter(Boolean));
if (!Number.isInteger(N) || N < 4) {
  console.error('--nodes must be an integer >= 4');
  process.exit(2);
}

const P = DEFAULTS.probeIntervalMs;
/** Cold start: servers started over this many ms, at sizes up to COLD_MAX. */
const COLD_SPREAD_MS = Number(arg('cold-spread-ms', '10000'));
const COLD_MAX = 1_000;
const AE = DEFAULTS.gossipIntervalMs;
const wall0 = performance.now();
const log = (...a) => { if (!JSON_ONLY) console.error(...a); };
/** After each section, the figures so far go to stderr, so a long run shows progress even with --json. */
const progress = (o) => {
  globalThis.gc?.(); // what the finished sections left alive (with --expose-gc, as npm run bench:sim runs)
  console.error(`[bench:sim] partial ${JSON.stringify(o)} (live heap ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB, ${Math.round((performance.now() - wall0) / 1000)} s)`);
};

/** Percentile (0..100) of a list of numbers, nearest-rank. */
function pct(xs, p) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Time for a new server's join to reach fraction f of the others, and bandwidth at rest. */
async function reachAndSteady() {
  const sim = await Simulation.create({ seed: SEED, nodes: N });
  await sim.run(3 * P); // let probe timers settle
  const b0 = sim.net.bytesSent;
  const steadyMs = 4 * AE; // several anti-entropy rounds, no changes
  await sim.run(steadyMs);
  const steady = (sim.net.bytesSent - b0) / N / (steadyMs / 1000);
  // A join: the new server reads the master list and starts gossiping.
  const seenAt = new Map();
  let joinUrl;
  const t0 = sim.now();
  const off = sim.onEvent((e) => {
    if (e.type === 'server:up' && e.url === joinUrl && !seenAt.has(e.node)) seenAt.set(e.node, e.at - t0);
  });
  joinUrl = `http://n${N}.sim/`;
  const joiner = await sim.addNode();
  if (joiner.baseUrl !== joinUrl) throw new Error(`unexpected joiner URL ${joiner.baseUrl}`);
  await sim.runUntil(() => seenAt.size >= N, 30_000, 50);
  off();
  const times = [...seenAt.values()].sort((a, b) => a - b);
  const at = (f) => (times.length >= Math.ceil(f * N) ? times[Math.ceil(f * N) - 1] : null);
  return { steady, reach50: at(0.5), reach9999: at(0.9999), reached: times.length };
}

/**
 * A fleet that starts together (a deploy restarting every instance, an
 * autoscaling burst): N servers started one after another over SPREAD ms,
 * each bootstrapping from the master list and announcing itself to it, at
 * the default configuration. Returns, per trial, the time from the last
 * start until every server lists every other as up (null if not within
 * 2 anti-entropy periods).
 */
async function coldStart(trials, spreadMs) {
  const out = [];
  for (let t = 0; t < trials; t++) {
    const sim = await Simulation.create({
      seed: SEED + 20 + t, nodes: 0, warmStart: false,
      options: () => ({ masterListUpdateUrl: SIM_MASTER_LIST_URL, masterListUpdateAuth: 'sim-store-auth' }),
    });
    // Who each server lists as up, from its own events: an O(1) check per event.
    const up = Array.from({ length: N }, () => new Set());
    let complete = 0;
    sim.onEvent((e) => {
      const s = up[e.node];
      const before = s.size;
      if (e.type === 'server:up') s.add(e.url);
      else if (e.type === 'server:down') s.delete(e.url);
      if (before < N - 1 && s.size === N - 1) complete++;
      else if (before === N - 1 && s.size < N - 1) complete--;
    });
    const t0 = sim.now();
    for (let i = 0; i < N; i++) {
      const wait = t0 + Math.round((i * spreadMs) / (N - 1)) - sim.now();
      if (wait > 0) await sim.run(wait);
      sim.launchNode();
    }
    out.push(await sim.runUntil(() => complete === N, 2 * AE, 10) ?? null);
  }
  return out;
}

/** Crash servers one at a time; time until every live server lists each offline. */
async function detection(trials) {
  const sim = await Simulation.create({ seed: SEED + 1, nodes: N });
  await sim.run(3 * P);
  const rng = seededRandom(SEED + 2);
  const detect = [];
  const firstSuspect = [];
  const crashed = new Set();
  for (let t = 0; t < trials; t++) {
    let victim;
    do victim = Math.floor(rng.float() * N); while (crashed.has(victim));
    crashed.add(victim);
    const url = sim.nodes[victim].baseUrl;
    const downs = new Set();
    let suspectAt;
    const t0 = sim.now();
    const off = sim.onEvent((e) => {
      if (e.url !== url) return;
      if (e.type === 'server:suspect' && suspectAt === undefined) suspectAt = e.at - t0;
      if (e.type === 'server:down') downs.add(e.node);
    });
    sim.crash(victim);
    const live = () => sim.nodes.filter((n) => n.status === 'up').length;
    const took = await sim.runUntil(() => downs.size >= live(), 120_000, 50);
    off();
    if (took !== undefined) detect.push(took);
    if (suspectAt !== undefined) firstSuspect.push(suspectAt);
    await sim.run(2 * P);
  }
  return { detect, firstSuspect };
}

/** Live servers declared offline under 10 % loss and 200 ms jitter, per 1e5 server-rounds (probe periods). */
async function falsePositives() {
  // At least 10^5 server-rounds (and at least 10 rounds): 1,000 rounds at N = 100, 10 at N = 10,000.
  const rounds = Math.max(10, Math.ceil(1e5 / N));
  const sim = await Simulation.create({ seed: SEED + 3, nodes: N, loss: 0.1, latencyMs: 105, jitterMs: 100 });
  let falseDown = 0;
  let suspicions = 0;
  sim.onEvent((e) => {
    if (e.type === 'server:down') falseDown++;
    if (e.type === 'server:suspect') suspicions++;
  });
  const step = Math.max(1, Math.floor(rounds / 10));
  for (let done = 0; done < rounds; done += step) {
    await sim.run(Math.min(step, rounds - done) * P);
    console.error(`[bench:sim] false positives: ${Math.min(done + step, rounds)}/${rounds} periods, ${suspicions} suspicions, ${falseDown} false offline, ${Math.round((performance.now() - wall0) / 1000)} s`);
  }
  const serverRounds = N * rounds;
  return { per1e5: (falseDown / serverRounds) * 1e5, falseDown, suspicions, serverRounds };
}

/** Rounds of anti-entropy alone (push off) until every server knows a change, and the ideal push-pull yardstick. */
async function antiEntropy(trials) {
  const rounds = [];
  for (let t = 0; t < trials; t++) {
    const sim = await Simulation.create({ seed: SEED + 10 + t, nodes: N, options: () => ({ pushChanges: false }) });
    await sim.run(AE);
    const seen = new Set();
    const joinUrl = `http://n${N}.sim/`;
    sim.onEvent((e) => { if (e.type === 'server:up' && e.url === joinUrl) seen.add(e.node); });
    await sim.addNode({ pushChanges: false, fanout: 0 });
    const took = await sim.runUntil(() => seen.size >= N, 60 * AE, AE / 10);
    rounds.push(took === undefined ? Infinity : took / AE);
  }
  return rounds;
}

/** Ideal synchronous push-pull: each round every server exchanges with one random server. */
function pushPullLimit(trials) {
  const rng = seededRandom(SEED + 99);
  const rounds = [];
  const n = N + 1;
  for (let t = 0; t < trials; t++) {
    let informed = new Uint8Array(n);
    informed[n - 1] = 1;
    let count = 1;
    let r = 0;
    while (count < n) {
      r++;
      const next = informed.slice();
      for (let i = 0; i < n; i++) {
        let j = Math.floor(rng.float() * (n - 1));
        if (j >= i) j++;
        if (informed[i] || informed[j]) { next[i] = 1; next[j] = 1; }
      }
      informed = next;
      count = informed.reduce((a, b) => a + b, 0);
    }
    rounds.push(r);
  }
  return rounds;
}

/** Wall time of the simulator itself: start N servers, then (after 10 warm-up rounds) 100 protocol periods (probe rounds) at rest. */
async function speed() {
  const t0 = performance.now();
  const sim = await Simulation.create({ seed: SEED + 4, nodes: N });
  const t1w = performance.now();
  await sim.run(10 * P); // warm-up: JIT compilation, and every server's first probe rounds
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  await sim.run(100 * P);
  const t2 = performance.now();
  const cpu = process.cpuUsage(c1);
  // Live heap of this simulation, without the garbage of earlier sections (with --expose-gc, as npm run bench:sim runs).
  globalThis.gc?.();
  return {
    create: (t1w - t0) / 1000, rounds: (t2 - t1) / 1000, cpu: (cpu.user + cpu.system) / 1e6,
    timers: sim.clock.firedTimers, messages: sim.net.messagesSent, heapMb: process.memoryUsage().heapUsed / 1e6,
  };
}

const out = { nodes: N, seed: SEED, probe_interval_ms: P, antientropy_interval_ms: AE };
// The simulator's own speed is measured first, while the process is fresh,
// so that it measures the 100 rounds and nothing the other sections left
// behind. Measured last, it once gave 73.5 s at N = 10,000 with 1.5 GB of
// live heap, against 46-59 s and 237 MB alone: a leak since fixed
// (src/swim/probe-ring.ts), found through the heap figure `progress` prints.
let sp;
if (!SKIP.has('speed')) {
  log(`[bench:sim] N=${N}: simulator speed, 100 rounds ...`);
  sp = await speed();
  progress(out);
}
if (!SKIP.has('reach')) {
  log(`[bench:sim] N=${N}: join dissemination and bandwidth at rest ...`);
  const r = await reachAndSteady();
  out.change_reach_ms_p50 = r.reach50;
  out.change_reach_ms_p9999 = r.reach9999;
  out.steady_bytes_per_server_per_s = Math.round(r.steady * 10) / 10;
  progress(out);
}
if (!SKIP.has('ae')) {
  log(`[bench:sim] N=${N}: anti-entropy alone ...`);
  const trials = N >= 10_000 ? 1 : N >= 1_000 ? 3 : 10;
  const ae = await antiEntropy(trials);
  out.antientropy_rounds_p99 = pct(ae, 99);
  out.antientropy_trials = trials;
  progress(out);
}
if (!SKIP.has('pushpull')) {
  const pp = pushPullLimit(N >= 10_000 ? 100 : 1000);
  out.pushpull_limit_rounds_p99 = pct(pp, 99);
  progress(out);
}
if (!SKIP.has('cold')) {
  // Every server reads and writes the whole list and learns every other: O(N²) work, so measured up to 1,000.
  if (N <= COLD_MAX) {
    log(`[bench:sim] N=${N}: cold start over ${COLD_SPREAD_MS / 1000} s ...`);
    const trials = N >= 1_000 ? 1 : N >= 100 ? 3 : 10;
    const c = await coldStart(trials, COLD_SPREAD_MS);
    out.cold_start_spread_ms = COLD_SPREAD_MS;
    out.cold_start_converge_ms_max = c.includes(null) ? null : Math.max(...c);
    out.cold_start_converge_ms_p50 = c.includes(null) ? null : pct(c, 50);
    out.cold_start_trials = trials;
    progress(out);
  } else {
    log(`[bench:sim] N=${N}: cold start skipped (measured up to N = ${COLD_MAX})`);
  }
}
if (!SKIP.has('detect')) {
  log(`[bench:sim] N=${N}: failure detection ...`);
  const trials = N >= 10_000 ? 3 : N >= 1_000 ? 10 : 20;
  const d = await detection(trials);
  out.detect_ms_p50 = pct(d.detect, 50);
  out.detect_ms_p99 = pct(d.detect, 99);
  out.first_suspect_periods_p50 = d.firstSuspect.length ? Math.round((pct(d.firstSuspect, 50) / P) * 100) / 100 : null;
  out.detect_trials = trials;
  progress(out);
}
if (!SKIP.has('false')) {
  log(`[bench:sim] N=${N}: false positives at 10% loss, 200 ms jitter ...`);
  const f = await falsePositives();
  out.false_offline_per_1e5_server_rounds = f.per1e5;
  out.false_suspicions = f.suspicions;
  out.server_rounds = f.serverRounds;
  progress(out);
}
if (sp !== undefined) {
  out.sim_create_wall_s = Math.round(sp.create * 10) / 10;
  out.sim_100_rounds_wall_s = Math.round(sp.rounds * 10) / 10;
  out.sim_100_rounds_messages = sp.messages;
  // Per server and round: flat in N means total cost grows as N (times the log N of lookups).
  out.sim_us_per_server_round = Math.round((sp.rounds * 1e6) / (N * 100) * 10) / 10;
  out.sim_100_rounds_cpu_s = Math.round(sp.cpu * 10) / 10;
  out.sim_heap_mb = Math.round(sp.heapMb);
  progress(out);
}
out.wall_s = Math.round((performance.now() - wall0) / 100) / 10;

if (!JSON_ONLY) {
  const rows = Object.entries(out).map(([k, v]) => `${k.padEnd(38)} ${v}`);
  console.log(rows.join('\n'));
}
console.log(JSON.stringify(out));
