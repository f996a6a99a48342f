// The harness side of bench:state's real-process sections: talking to the
// workers over HTTP, and the phases both systems go through in exactly the
// same way (a load, the drain after it, the cut-off replica). A fleet
// (bench/state/shazbot.mjs, bench/state/redis.mjs) only differs in how it
// starts its processes and how it cuts one off.
import { Agent, request } from 'node:http';
import { cpuSeconds, machineCpu, now, pause } from '../peers/children.mjs';
import { Histogram } from './load.mjs';

/** A worker's control routes (bench/state/load.mjs), over one keep-alive agent per fleet. */
export class WorkerClient {
  /** @param {string} host @param {number} port @param {Agent} agent */
  constructor(host, port, agent) {
    this.host = host;
    this.port = port;
    this.agent = agent;
  }

  /** Resolves to `{ status, body }` (body parsed as JSON). */
  call(method, path, body, timeoutMs = 10_000) {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request({
        host: this.host, port: this.port, method, path, agent: this.agent, timeout: timeoutMs,
        headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.once('error', reject);
        res.once('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode, body: raw === '' ? undefined : JSON.parse(raw) });
          } catch {
            reject(new Error(`${method} ${path} on port ${this.port}: answered ${res.statusCode} with non-JSON ${raw.slice(0, 200)}`));
          }
        });
      });
      req.once('timeout', () => req.destroy(new Error(`${method} ${path} on port ${this.port}: no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end(text);
    });
  }

  /** Like {@link call}, throwing unless the status is 200; resolves to the body. */
  async ok(method, path, body, timeoutMs) {
    const { status, body: answer } = await this.call(method, path, body, timeoutMs);
    if (status !== 200) throw new Error(`${method} ${path} on port ${this.port}: ${status} ${JSON.stringify(answer).slice(0, 500)}`);
    return answer;
  }
}

/** A keep-alive agent for a fleet's control connections. */
export const newAgent = () => new Agent({ keepAlive: true, maxSockets: 8 });

/** Rounds to `digits` decimals (undefined stays undefined). */
export const round = (x, digits = 1) => (x === undefined || !Number.isFinite(x) ? x : Math.round(x * 10 ** digits) / 10 ** digits);

/**
 * Waits until every worker answers `/bench/ready` with `ready: true` (and,
 * when `online` is given, lists that many servers online). Throws with the
 * last answers after `timeoutMs`.
 */
export async function waitReady(fleet, { timeoutMs, online }) {
  const deadline = now() + timeoutMs;
  const last = new Map();
  for (;;) {
    fleet.checkAlive();
    const answers = await Promise.all(fleet.workers.map((w, i) => w.call('GET', '/bench/ready', undefined, 3_000).then(
      ({ body }) => {
        last.set(i, body);
        return body?.ready === true && (online === undefined || body.online === online);
      },
      (e) => {
        last.set(i, e.message);
        return false;
      },
    )));
    if (answers.every(Boolean)) return;
    if (now() > deadline) throw new Error(`${fleet.label}: not ready after ${timeoutMs / 1000} s: ${JSON.stringify(Object.fromEntries(last))}`);
    await pause(200);
  }
}

/** Every worker's record of its own writes, merged: key → [writer, seq] (each key has one writer). */
export async function expectedState(fleet) {
  const records = await Promise.all(fleet.workers.map((w) => w.ok('GET', '/bench/record', undefined, 10_000)));
  return Object.assign({}, ...records);
}

/**
 * Polls `indices`' comparison with `expected` every `intervalMs` until each
 * holds exactly it, or none of them has taken a change from elsewhere for
 * `quietMs`, or `deadlineMs` has passed. Resolves to `{ missing: [per
 * index], sample, ms, lastChangeMs, reason }` (ms from the call; lastChangeMs:
 * when the last change was seen, from the call).
 */
export async function settle(fleet, indices, expected, { quietMs, deadlineMs, intervalMs = 500 }) {
  const start = now();
  let lastChanges;
  let lastChangeAt = start;
  for (;;) {
    fleet.checkAlive();
    const answers = await Promise.all(indices.map((i) => fleet.workers[i].ok('POST', '/bench/compare', expected, 30_000)));
    const changes = answers.map((a) => a.changes);
    if (lastChanges === undefined || changes.some((c, k) => c !== lastChanges[k])) lastChangeAt = now();
    lastChanges = changes;
    const t = now();
    const reason = answers.every((a) => a.missing === 0) ? 'complete'
      : t - lastChangeAt >= quietMs ? `no change for ${quietMs / 1000} s`
        : t - start >= deadlineMs ? `deadline of ${deadlineMs / 1000} s` : undefined;
    if (reason !== undefined) {
      return {
        missing: answers.map((a) => a.missing),
        sample: answers.flatMap((a) => a.sample).slice(0, 5),
        samples: answers.map((a) => a.sample),
        ms: t - start,
        lastChangeMs: lastChangeAt - start,
        reason,
      };
    }
    await pause(intervalMs);
  }
}

/**
 * One load: every worker runs its write loop for `durationMs` at once
 * (`consistency`, at most `maxInFlight` pending, `ratePerS` per worker or 0
 * for as fast as it goes), then the harness waits for the replicas to drain
 * (every replica holds every write, or no change arrived anywhere for
 * `drainQuietMs`), then reads every replica's lag histogram.
 * Resolves to the figures of the load (see the fields below).
 */
export async function loadPhase(fleet, { durationMs, consistency, maxInFlight, ratePerS = 0, timeoutMs = 5_000, drainQuietMs = 2_000, drainDeadlineMs = 120_000, log }) {
  const all = fleet.workers.map((_, i) => i);
  await Promise.all(fleet.workers.map((w) => w.ok('POST', '/bench/lag/reset')));
  const pids = fleet.pids();
  const readCounters = () => Promise.all(fleet.workers.map((w) => w.ok('GET', '/bench/counters')));
  const counters0 = await readCounters();
  const [cpu0, machine0] = await Promise.all([Promise.all(pids.map(cpuSeconds)), machineCpu()]);
  const loads = await Promise.all(fleet.workers.map((w) => w.ok('POST', '/bench/load', { durationMs, consistency, maxInFlight, ratePerS, timeoutMs }, durationMs + timeoutMs + 30_000)));
  const [cpu1, machine1] = await Promise.all([Promise.all(pids.map(cpuSeconds)), machineCpu()]);
  const acked = loads.reduce((s, l) => s + l.acked, 0);
  const seconds = Math.max(...loads.map((l) => l.elapsedMs)) / 1000;
  const errors = {};
  for (const l of loads) {
    for (const [code, n] of Object.entries(l.errors)) {
      if (typeof n === 'number') errors[code] = (errors[code] ?? 0) + n;
      else errors[code] ??= n;
    }
  }
  log(`${consistency} writes: ${acked} acknowledged in ${seconds.toFixed(1)} s (${Math.round(acked / seconds)}/s), ${loads.reduce((s, l) => s + l.failed, 0)} failed ${JSON.stringify(errors)}; per worker ${loads.map((l) => l.acked).join(', ')}`);
  const drainStart = now();
  const expected = await expectedState(fleet);
  const drained = await settle(fleet, all, expected, { quietMs: drainQuietMs, deadlineMs: drainDeadlineMs });
  log(`drain: ${drained.reason} after ${(drained.ms / 1000).toFixed(1)} s; keys not holding their last write per replica: ${drained.missing.join(', ')}${drained.sample.length > 0 ? ` (e.g. ${JSON.stringify(drained.sample)})` : ''}`);
  const lags = await Promise.all(fleet.workers.map((w) => w.ok('GET', '/bench/lag')));
  const counters1 = await readCounters();
  // The system's own counters over the load and its drain, summed over processes.
  const traffic = {};
  counters1.forEach((c, i) => {
    for (const [name, v] of Object.entries(c)) {
      if (typeof v === 'number' && typeof counters0[i][name] === 'number') traffic[name] = (traffic[name] ?? 0) + v - counters0[i][name];
    }
  });
  const lag = Histogram.merge(lags.map((l) => l.lag));
  const ack = Histogram.merge(loads.map((l) => l.ack));
  const origins = {};
  for (const l of lags) for (const [o, n] of Object.entries(l.origins)) origins[o] = (origins[o] ?? 0) + n;
  // Lag p50 / p99 / max by where the change came from (clustershazbot: 'remote' = a push, 'sync' = a repair).
  const byOrigin = {};
  for (const o of Object.keys(origins)) {
    const h = Histogram.merge(lags.map((l) => l.lagByOrigin[o]).filter(Boolean));
    byOrigin[o] = { changes: h.count, p50: round(h.quantile(0.5), 1), p99: round(h.quantile(0.99), 1), max: round(h.max, 1) };
  }
  const result = {
    writes_per_s: Math.round(acked / seconds),
    acked,
    issued: loads.reduce((s, l) => s + l.issued, 0),
    failed: loads.reduce((s, l) => s + l.failed, 0),
    errors,
    unsettled: loads.reduce((s, l) => s + l.unsettled, 0),
    load_s: round(seconds, 2),
    ack_ms_p50: round(ack.quantile(0.5), 2),
    ack_ms_p99: round(ack.quantile(0.99), 2),
    ack_ms_max: round(ack.max, 1),
    lag_ms_p50: round(lag.quantile(0.5), 1),
    lag_ms_p99: round(lag.quantile(0.99), 1),
    lag_ms_max: round(lag.max, 1),
    lag_samples: lag.count,
    lag_origins: origins,
    lag_by_origin: byOrigin,
    foreign_changes: lags.reduce((s, l) => s + l.foreign, 0),
    // The worst process's event-loop delay p99 and max (ms): how long it could not serve anything else.
    loop_delay_ms_p99: round(Math.max(...lags.map((l) => l.loop.p99)), 1),
    loop_delay_ms_max: round(Math.max(...lags.map((l) => l.loop.max)), 1),
    drain_s: round((now() - drainStart) / 1000, 1),
    drain_end: drained.reason,
    missing_after_drain: drained.missing.reduce((a, b) => a + b, 0),
    traffic,
    exchanges_per_write: traffic.exchanges === undefined ? undefined : round(traffic.exchanges / acked, 2),
    bytes_out_per_write: traffic.bytes_out === undefined ? undefined : Math.round(traffic.bytes_out / acked),
    // Changes sent per write (a change reaches n − 1 others; more is redundancy).
    pushes_per_write: traffic.pushes_sent === undefined ? undefined : round(traffic.pushes_sent / acked, 1),
    cpu_cores: round(cpu1.reduce((s, c, i) => s + c - cpu0[i], 0) / seconds, 2),
    machine_busy_pct: round(((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100, 1),
  };
  log(`lag p50 ${result.lag_ms_p50} ms, p99 ${result.lag_ms_p99} ms, max ${result.lag_ms_max} ms over ${result.lag_samples} changes, by origin ${JSON.stringify(byOrigin)}; ack p99 ${result.ack_ms_p99} ms; event-loop delay p99 ${result.loop_delay_ms_p99} ms (worst process); workers used ${result.cpu_cores} cores, machine ${result.machine_busy_pct} % busy${result.exchanges_per_write === undefined ? '' : `; per acknowledged write: ${result.exchanges_per_write} signed exchanges, ${result.pushes_per_write} changes pushed, ${result.bytes_out_per_write} payload bytes sent (${JSON.stringify(traffic)})`}`);
  return result;
}

/**
 * The cut-off replica. Waits until every replica holds every write so far
 * (`preDeadlineMs`), then every worker but `victim` writes at `ratePerS`
 * (in all) for `leadMs + cutMs + tailMs`; `leadMs` in, the victim is cut off
 * (`fleet.cut`), `cutMs` later reconnected (`fleet.heal`). Once the writers
 * are done, every replica is polled until each holds every write of this
 * phase, or none changes for `quietMs`, or `deadlineMs` has passed; what the
 * victim then lacks is the figure (and what the others lack is reported). Resolves to the figures (see the fields below).
 */
export async function lossPhase(fleet, { victim, ratePerS, cutMs, leadMs = 1_000, tailMs = 1_000, quietMs, deadlineMs, preDeadlineMs = 60_000, log }) {
  const all = fleet.workers.map((_, i) => i);
  const writers = all.filter((i) => i !== victim);
  const before = await expectedState(fleet);
  const pre = await settle(fleet, all, before, { quietMs, deadlineMs: preDeadlineMs });
  log(`before the cut: ${pre.reason}; keys not holding their last write per replica: ${pre.missing.join(', ')}`);
  const counters = async () => Promise.all(fleet.workers.map((w) => w.ok('GET', '/bench/changes')));
  const perWorker = Math.round(ratePerS / writers.length);
  const durationMs = leadMs + cutMs + tailMs;
  const loads = Promise.all(writers.map((i) => fleet.workers[i].ok('POST', '/bench/load', { durationMs, consistency: 'local', maxInFlight: 64, ratePerS: perWorker }, durationMs + 30_000)));
  await pause(leadMs);
  const cutInfo = await fleet.cut(victim);
  const cutAt = now();
  // Read once the cut holds: what reaches the victim from here on came through it.
  const atCut = await counters();
  log(`n${victim} cut off (${cutInfo.how}); ${writers.length} writers at ${perWorker}/s each`);
  await pause(Math.max(0, cutMs - (now() - cutAt) - 50));
  const atHeal = await counters();
  const healInfo = await fleet.heal(victim);
  const healAt = now();
  log(`n${victim} reconnected after ${((healAt - cutAt) / 1000).toFixed(2)} s (${JSON.stringify(healInfo)})`);
  const done = await loads;
  const written = done.reduce((s, l) => s + l.acked, 0);
  const after = await expectedState(fleet);
  // What the loss phase wrote: the keys whose last write changed during it.
  const phase = Object.fromEntries(Object.entries(after).filter(([key, [, seq]]) => before[key]?.[1] !== seq));
  const settleStart = now();
  // Every replica, the victim first: the others may lack writes too (pushes aimed at the victim while it was away).
  const settled = await settle(fleet, [victim, ...writers], phase, { quietMs, deadlineMs });
  const whole = await fleet.workers[victim].ok('POST', '/bench/compare', after, 30_000);
  const cutWrites = writers.reduce((s, i) => s + atHeal[i].seq - atCut[i].seq, 0);
  const result = {
    lost_writes: settled.missing[0],
    lost_sample: settled.samples[0],
    others_sample: settled.samples.slice(1).flat().slice(0, 5),
    phase_writes: written,
    phase_keys: Object.keys(phase).length,
    cut_writes: cutWrites,
    cut_s: round((healAt - cutAt) / 1000, 2),
    victim_changes_during_cut: atHeal[victim].changes - atCut[victim].changes,
    settle_end: settled.reason,
    // From the reconnection to every replica complete (or, when not all got there, to the last change any took).
    settle_s: round((settleStart + (settled.reason === 'complete' ? settled.ms : settled.lastChangeMs) - healAt) / 1000, 2),
    others_missing: settled.missing.slice(1).reduce((a, b) => a + b, 0),
    stale_keys_whole_map: whole.missing,
    pre_missing: pre.missing.reduce((a, b) => a + b, 0),
    cut: cutInfo,
    heal: healInfo,
  };
  log(`n${victim} lacks ${result.lost_writes} of the ${result.phase_keys} keys written in this phase (${result.cut_writes} writes while it was cut off; ${result.victim_changes_during_cut} changes reached it meanwhile); ${settled.reason}, last change ${result.settle_s} s after the reconnection; the other replicas lack ${result.others_missing}`);
  return result;
}
