#!/usr/bin/env node
// The simulator figures of `npm run bench:state` (section `sim`, see
// bench/state/sim.mjs, which runs this file in a child process with a large
// heap): the real engine and the real replica (`cluster.state`) on virtual
// time (clustershazbot/testing), bytes counted as HTTP/1.1 text as
// `npm run bench:sim` counts them (src/testing/http-bytes.ts).
//
//   node bench/state/sim-run.mjs [--nodes 1000] [--writes 100] [--gap-ms 2000]
//        [--ratio-writes 5] [--window-ms 15000] [--idle-keys 10000] [--seed 1]
//
// 1. Reach: N servers, 5 ms ± 2 ms per hop, 1 % loss (each request and reply
//    drawn apart), one map. `--writes` writes of a 256-byte value, each on a
//    random server, `--gap-ms` apart; for each, the virtual time from the
//    write until every replica holds it (each replica's own change event).
// 2. Bytes per change, same simulation once every write has landed:
//    `--ratio-writes` times, the bytes of a window of `--window-ms` at rest,
//    then a write and the bytes of the same window after it; the difference
//    over N × the delta's size (the key's state as the wire encodes it
//    alone, `encodeKeyStates`: key, dictionary, base time, value).
// 3. At rest with data: N servers, every replica holding the same
//    `--idle-keys` keys (256-byte values), no loss, the bench:sim
//    configuration; bytes per server per second over 4 anti-entropy
//    periods (120 s) after 3 probe periods, as bench:sim's steady figure,
//    and the same without the state (membership alone) for comparison.
//
// Progress goes to stderr; the last line on stdout is one JSON object.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULTS } from '../../dist/esm/config.js';
import { seededRandom } from '../../dist/esm/core/random.js';
import { encodeKeyStates } from '../../dist/esm/state/codec.js';
import { SIM_START_MS, Simulation } from '../../dist/esm/testing/index.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '100' },
    'gap-ms': { type: 'string', default: '2000' },
    'ratio-writes': { type: 'string', default: '5' },
    'window-ms': { type: 'string', default: '15000' },
    'idle-keys': { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    // For trying tunables (not used by bench:state): JSON of StateOptions.settings and of cluster options.
    settings: { type: 'string', default: '{}' },
    cluster: { type: 'string', default: '{}' },
    phases: { type: 'string', default: 'reach,idle' },
  },
});
const PHASES = new Set(values.phases.split(','));
const SETTINGS = JSON.parse(values.settings);
const CLUSTER = JSON.parse(values.cluster);
const stateOn = Object.keys(SETTINGS).length === 0 ? true : { settings: SETTINGS };
const clusterOptions = Object.keys(CLUSTER).length === 0 ? {} : { options: () => CLUSTER };
const N = Number(values.nodes);
const WRITES = Number(values.writes);
const GAP_MS = Number(values['gap-ms']);
const RATIO_WRITES = Number(values['ratio-writes']);
const WINDOW_MS = Number(values['window-ms']);
const IDLE_KEYS = Number(values['idle-keys']);
const SEED = Number(values.seed);
for (const [name, v] of Object.entries({ nodes: N, writes: WRITES, 'gap-ms': GAP_MS, 'ratio-writes': RATIO_WRITES, 'window-ms': WINDOW_MS, 'idle-keys': IDLE_KEYS, seed: SEED })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
}
if (N < 4) throw new Error('--nodes must be at least 4');

const P = DEFAULTS.probeIntervalMs;
const AE = DEFAULTS.gossipIntervalMs;
const MAP = 'bench';
const VALUE_BYTES = 256;
const LOSS = 0.01;
const LATENCY_MS = 5;
const wall0 = performance.now();
const log = (m) => console.error(`[bench:state sim ${((performance.now() - wall0) / 1000).toFixed(1).padStart(6)} s] ${m}`);

/** A value of exactly VALUE_BYTES ASCII characters, different for each n. */
const valueOf = (n) => `${n}:`.padEnd(VALUE_BYTES, 'abcdefghijklmnopqrstuvwxyz0123456789');

/** Nearest-rank percentile. */
function pct(xs, p) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? x : Math.round(x * 10 ** d) / 10 ** d);

/**
 * What a message is, for the breakdown of the bytes: `<request|reply>
 * <kind> <state fields>` from its body (`ext.k` is the kind of exchange,
 * `ext.s.state` the replica's section), or `... -` without a state section.
 */
function classify(kind, body, requestBody) {
  if (kind === 'reply') return `reply to ${classify('request', requestBody)}${body !== undefined && body.includes('"ext":') ? ` with ${classify('state', body).slice(6)}` : ''}`;
  if (body === undefined || body === '' || body[0] !== '{') return `${kind} (no JSON body)`;
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `${kind} (not JSON)`;
  }
  const ext = parsed.ext;
  const state = ext?.s?.state;
  const k = ext?.k ?? (kind === 'request' ? 'no ext' : '');
  if (state === undefined) return `${kind} ${k} -`.replace(/ +/g, ' ');
  const fields = Object.keys(state).filter((f) => f !== 'op').sort().join(',');
  return `${kind} ${k} state{${state.op === undefined ? '' : `op:${state.op} `}${fields}}`.replace(/ +/g, ' ');
}

/**
 * The part of the protocol a message class belongs to (a reply goes with
 * its request): `push` (a push of changes), `repair` (repair and sync
 * operations), `piggyback` (changes riding on a probe or another message),
 * `digest` (only the state digest rides along) or `membership` (no state).
 */
function category(what) {
  const request = what.replace(/^reply to /, '').replace(/ with .*$/, '');
  if (/^request direct state\{c\}$/.test(request)) return 'push';
  if (/state\{op:/.test(request)) return 'repair';
  if (/state\{[^}]*\bc\b/.test(request)) return 'piggyback';
  if (/state\{/.test(request)) return 'digest';
  return 'membership';
}

/** Bytes by category (see {@link category}) of a mix. */
function byCategory(mix) {
  const out = { push: 0, repair: 0, piggyback: 0, digest: 0, membership: 0 };
  for (const m of mix) out[category(m.what)] += m.bytes;
  return out;
}

/** Bytes by class of message while `on`; `table()` sorted by bytes. */
function byClass(sim) {
  const classes = new Map();
  let on = false;
  sim.net.onMessage = (m) => {
    if (!on) return;
    const c = classify(m.kind, m.body, m.requestBody);
    const e = classes.get(c) ?? { messages: 0, bytes: 0 };
    e.messages++;
    e.bytes += m.bytes;
    classes.set(c, e);
  };
  return {
    start() {
      classes.clear();
      on = true;
    },
    stop() {
      on = false;
      return [...classes].map(([what, e]) => ({ what, ...e })).sort((a, b) => b.bytes - a.bytes);
    },
  };
}

/** Runs until every replica is ready; throws if not within 2 minutes of virtual time. */
async function allReady(sim) {
  const took = await sim.runUntil(() => sim.nodes.every((n) => n.cluster.state.isReady()), 120_000, 100);
  if (took === undefined) throw new Error('replicas not ready after 120 s of virtual time');
  return took;
}

/** Phases 1 and 2: reach of writes, then bytes per change, in one simulation with loss. */
async function reachAndBytes() {
  const sim = await Simulation.create({ seed: SEED, nodes: N, loss: LOSS, latencyMs: LATENCY_MS, ...clusterOptions, state: stateOn, setup: (node) => node.cluster.state.map(MAP) });
  const maps = sim.nodes.map((n) => n.cluster.state.map(MAP));
  const readyMs = await allReady(sim);
  log(`reach: ${N} replicas ready ${readyMs} ms (virtual) after the start`);
  await sim.run(2 * P);

  // For each write in flight: when it was made and how many replicas hold it.
  const pending = new Map();
  const reach = [];
  for (const m of maps) {
    m.on('change', (batch) => {
      for (const c of batch) {
        const p = pending.get(c.key);
        if (p === undefined) continue;
        if (++p.holders === N) {
          reach.push(sim.now() - p.at);
          pending.delete(c.key);
        }
      }
    });
  }
  const rng = seededRandom(SEED + 7);
  const classes = byClass(sim);
  classes.start();
  const bytes0 = sim.net.bytesSent;
  const t0 = sim.now();
  for (let w = 0; w < WRITES; w++) {
    const key = `reach:${w}`;
    pending.set(key, { at: sim.now(), holders: 0 });
    maps[Math.floor(rng.float() * N)].set(key, valueOf(w)).catch((e) => log(`write ${key} failed: ${e.message}`));
    await sim.run(GAP_MS);
    if ((w + 1) % 20 === 0) log(`reach: ${w + 1}/${WRITES} writes, ${reach.length} everywhere`);
  }
  await sim.runUntil(() => pending.size === 0, 120_000, 100);
  const reachMix = classes.stop();
  const reachBytes = sim.net.bytesSent - bytes0;
  const reachSpanMs = sim.now() - t0;
  const incomplete = pending.size;
  const reachTimes = [...reach];

  // Bytes per change: a window at rest, then the same window after one write.
  await sim.run(WINDOW_MS);
  const changes = [];
  let delta;
  let changeMix;
  /** Mean bytes per window after a write, by part of the protocol. */
  const changeParts = {};
  for (let w = 0; w < RATIO_WRITES; w++) {
    const r0 = sim.net.bytesSent;
    await sim.run(WINDOW_MS);
    const rest = sim.net.bytesSent - r0;
    const key = `change:${w}`;
    const writer = Math.floor(rng.float() * N);
    pending.set(key, { at: sim.now(), holders: 0 });
    const before = reach.length;
    classes.start();
    const a0 = sim.net.bytesSent;
    maps[writer].set(key, valueOf(1_000_000 + w)).catch((e) => log(`write ${key} failed: ${e.message}`));
    await sim.run(WINDOW_MS);
    const after = sim.net.bytesSent - a0;
    const mix = classes.stop();
    if (w === 0) changeMix = mix;
    const parts = byCategory(mix);
    for (const [part, b] of Object.entries(parts)) changeParts[part] = (changeParts[part] ?? 0) + b / RATIO_WRITES;
    const e = maps[writer].getEntry(key);
    const size = Buffer.byteLength(JSON.stringify(encodeKeyStates([[key, { writes: [{ v: e.version, value: e.value, bytes: VALUE_BYTES + 2 }] }]])));
    delta ??= size;
    changes.push({ rest, after, extra: after - rest, delta: size, reachedAll: reach.length > before, reachMs: reach.length > before ? reach.at(-1) : null });
    log(`bytes per change: write ${w + 1}/${RATIO_WRITES}: ${after} B in ${WINDOW_MS / 1000} s after it, ${rest} B at rest before (delta ${size} B)`);
  }
  const meanExtra = changes.reduce((s, c) => s + c.extra, 0) / Math.max(1, changes.length);
  const meanDelta = changes.reduce((s, c) => s + c.delta, 0) / Math.max(1, changes.length);
  const infos = sim.nodes.map((n) => n.cluster.info().extensions?.state);
  const repairs = infos.reduce((s, i) => s + (i?.repairs.repairs ?? 0), 0);
  return {
    readyMs,
    reach: reachTimes,
    incomplete,
    reachBytesPerWrite: reachBytes / WRITES,
    reachSpanMs,
    reachMix,
    changes,
    meanExtra,
    meanDelta,
    delta,
    changeMix,
    changeParts,
    repairs,
    heapMb: process.memoryUsage().heapUsed / 1e6,
  };
}

/**
 * Phase 3: at rest with data. Every replica gets the same key states
 * (one object per key, shared: the map's state is immutable), loaded
 * straight into its map before it starts, as a restore from a store would,
 * without the store's decoding per replica.
 */
async function idle(withState) {
  const writer = `http://n0.sim/#preload000`;
  const states = [];
  for (let k = 0; k < IDLE_KEYS; k++) {
    states.push([`key:${k}`, { writes: [{ v: { t: (SIM_START_MS - 3_600_000) * 1000 + k, replica: writer }, value: valueOf(k), bytes: VALUE_BYTES + 2 }] }]);
  }
  const setup = (node) => {
    // The map's own slot (MapSlot.apply: the map's state, its digest and its key index); see the note in sim.mjs.
    const slot = node.cluster.state.map(MAP).slot;
    for (const [key, s] of states) slot.apply(key, s, 'sync');
  };
  const sim = await Simulation.create({ seed: SEED, nodes: N, ...clusterOptions, ...(withState ? { state: stateOn, setup } : {}) });
  if (withState) {
    const sizes = new Set(sim.nodes.map((n) => n.cluster.state.map(MAP).size));
    if (sizes.size !== 1 || !sizes.has(IDLE_KEYS)) throw new Error(`idle: replicas hold ${[...sizes].join(', ')} keys, not ${IDLE_KEYS}`);
    await allReady(sim);
  }
  await sim.run(3 * P);
  const repairs = () => sim.nodes.reduce((n, node) => n + (withState ? node.cluster.info().extensions.state.repairs.repairs : 0), 0);
  const repairs0 = repairs();
  const classes = byClass(sim);
  classes.start();
  const b0 = sim.net.bytesSent;
  const m0 = sim.net.messagesSent;
  const ms = 4 * AE;
  await sim.run(ms);
  const mix = classes.stop();
  const out = {
    bytesPerServerPerS: (sim.net.bytesSent - b0) / N / (ms / 1000),
    messagesPerServerPerS: (sim.net.messagesSent - m0) / N / (ms / 1000),
    mix,
    heapMb: (globalThis.gc?.(), process.memoryUsage().heapUsed / 1e6),
  };
  if (withState) {
    if (sim.nodes.some((n) => n.cluster.state.map(MAP).size !== IDLE_KEYS)) throw new Error('idle: a replica lost keys at rest');
    out.repairs = repairs() - repairs0;
  }
  return out;
}

const out = { sim_n: N, sim_seed: SEED, ...(Object.keys(SETTINGS).length > 0 ? { sim_settings: SETTINGS } : {}), ...(Object.keys(CLUSTER).length > 0 ? { sim_cluster: CLUSTER } : {}) };

if (PHASES.has('reach')) {
  log(`N = ${N}: ${WRITES} writes ${GAP_MS} ms apart, ${LATENCY_MS} ms ± 2 ms per hop, ${LOSS * 100} % loss`);
  const r = await reachAndBytes();
  out.write_reach_ms_p99_n1000 = pct(r.reach.concat(Array(r.incomplete).fill(Infinity)), 99);
  out.write_reach_ms_p50 = pct(r.reach, 50);
  out.write_reach_ms_max = r.incomplete > 0 ? null : Math.max(...r.reach);
  out.write_reach_writes = WRITES;
  out.write_reach_incomplete = r.incomplete;
  out.write_reach_gap_ms = GAP_MS;
  out.write_reach_bytes_per_write = Math.round(r.reachBytesPerWrite);
  out.write_reach_ready_ms = r.readyMs;
  out.write_reach_bytes_by_part = byCategory(r.reachMix);
  out.write_reach_mix = r.reachMix.slice(0, 12);
  out.bytes_per_change_ratio_n1000 = round(r.meanExtra / (N * r.meanDelta), 2);
  out.bytes_per_change_delta_bytes = r.delta;
  out.bytes_per_change_extra_bytes = Math.round(r.meanExtra);
  out.bytes_per_change_writes = RATIO_WRITES;
  out.bytes_per_change_window_ms = WINDOW_MS;
  out.bytes_per_change_runs = r.changes;
  // Pushes and repairs happen only because of the change; the rest of a window (probes and their digests) happens at rest too.
  out.bytes_per_change_push_bytes = Math.round(r.changeParts.push);
  out.bytes_per_change_repair_bytes = Math.round(r.changeParts.repair + r.changeParts.piggyback);
  out.bytes_per_change_mix = r.changeMix.slice(0, 12);
  out.sim_repairs_total = r.repairs;
  out.sim_reach_heap_mb = Math.round(r.heapMb);
  out.wall_s_sim_reach = round((performance.now() - wall0) / 1000);
  log(`reach p99 ${out.write_reach_ms_p99_n1000} ms, bytes per change ratio ${out.bytes_per_change_ratio_n1000}`);
}

if (PHASES.has('idle')) {
  globalThis.gc?.();
  const w1 = performance.now();
  log(`idle: N = ${N}, every replica holding the same ${IDLE_KEYS} keys`);
  const withState = await idle(true);
  out.idle_bytes_per_server_per_s_n1000 = round(withState.bytesPerServerPerS);
  out.idle_messages_per_server_per_s = round(withState.messagesPerServerPerS, 2);
  out.idle_keys = IDLE_KEYS;
  out.idle_repairs = withState.repairs;
  out.idle_bytes_by_part = byCategory(withState.mix);
  out.idle_mix = withState.mix.slice(0, 8);
  out.sim_idle_heap_mb = Math.round(withState.heapMb);
  globalThis.gc?.();
  log('idle: the same without the state (membership alone)');
  const alone = await idle(false);
  out.idle_membership_bytes_per_server_per_s = round(alone.bytesPerServerPerS);
  out.idle_membership_mix = alone.mix.slice(0, 8);
  out.wall_s_sim_idle = round((performance.now() - w1) / 1000);
}
out.wall_s_sim = round((performance.now() - wall0) / 1000);
console.log(JSON.stringify(out));
