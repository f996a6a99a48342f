// The real-process sections of `npm run bench:state`: writes
// (clustershazbot, 5 processes, local then majority writes), redis (the
// same workload over Redis pub/sub) and loss (one replica cut off for a
// while on each system). See bench/state.mjs for the whole picture.
import { cpuSeconds } from '../peers/children.mjs';
import { PortAllocator } from '../peers/netns.mjs';
import { KEYS, VALUE_BYTES } from './load.mjs';
import { loadPhase, lossPhase } from './phases.mjs';
import { RedisFleet, probeRedis } from './redis.mjs';
import { addSection, figure, verdict } from './sections.mjs';
import { ShazbotFleet } from './shazbot.mjs';

/** `part` as a percentage of every change in `byOrigin`. */
const percent = (part, byOrigin) => `${(Math.round((1000 * part) / Object.values(byOrigin).reduce((sum, o) => sum + o.changes, 0)) / 10).toFixed(1)} %`;

/** The cut-off replica: the last worker. */
const victimOf = (n) => n - 1;
/** How long after the reconnection a replica may take to settle at most. */
const SETTLE_DEADLINE_MS = 120_000;

const shazbotFleet = (ctx) => ctx.once('shazbot', async () => {
  const fleet = new ShazbotFleet(ctx.options.nodes, { ports: await PortAllocator.create(), log: ctx.log, nodeArgs: ctx.options.nodeArgs });
  try {
    await fleet.start();
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  return fleet;
});

/** The Redis fleet, or undefined (with a note) when there is no Redis outside CI. */
const redisFleet = (ctx) => ctx.once('redis', async () => {
  const { version, problem } = await probeRedis(ctx.options.redisUrl);
  if (version === undefined) {
    const message = `no Redis at ${ctx.options.redisUrl} (${problem})`;
    if (process.env.CI === 'true') throw new Error(`${message}: CI must run the Redis pub/sub side`);
    ctx.note(`${message}: the Redis pub/sub side was skipped`);
    return undefined;
  }
  const fleet = new RedisFleet(ctx.options.nodes, { url: ctx.options.redisUrl, log: ctx.log, nodeArgs: ctx.options.nodeArgs });
  fleet.version = version;
  try {
    await fleet.start();
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  return fleet;
});

/** The load options of the command line, for `consistency`, at `rate` writes/s in all (0: as fast as it goes). */
function loadOptions(ctx, consistency, rate = ctx.options.rate) {
  const { durationS, maxInFlight, nodes } = ctx.options;
  return { durationMs: durationS * 1000, consistency, maxInFlight, ratePerS: rate / nodes, timeoutMs: 5_000, log: ctx.log };
}

/**
 * Local writes at the target rate (when --target-rate is not 0): the
 * figures of that run, prefixed. A process whose local writes resolve at
 * once can take writes faster than it replicates them; this run says
 * whether the lag holds at the rate the target names.
 */
async function targetRateRun(ctx, fleet, prefix) {
  const rate = ctx.options.targetRate;
  if (rate === 0) return {};
  ctx.log(`local writes at ${rate}/s offered in all`);
  const r = await loadPhase(fleet, loadOptions(ctx, 'local', rate));
  return {
    [`${prefix}target_rate_offered`]: rate,
    [`${prefix}target_rate_lag_by_origin`]: r.lag_by_origin,
    [`${prefix}target_rate_writes_per_s`]: r.writes_per_s,
    [`${prefix}target_rate_lag_ms_p50`]: r.lag_ms_p50,
    [`${prefix}target_rate_lag_ms_p99`]: r.lag_ms_p99,
    [`${prefix}target_rate_lag_ms_max`]: r.lag_ms_max,
    [`${prefix}target_rate_write_errors`]: r.failed,
    [`${prefix}target_rate_cpu_cores`]: r.cpu_cores,
    [`${prefix}target_rate_loop_delay_ms_p99`]: r.loop_delay_ms_p99,
    [`${prefix}target_rate_exchanges_per_write`]: r.exchanges_per_write,
    [`${prefix}target_rate_machine_busy_pct`]: r.machine_busy_pct,
  };
}

/** Redis's own process id and CPU seconds so far (same machine), if it says. */
async function redisServerCpu(url) {
  const { default: Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    return { pid, cpu: await cpuSeconds(pid) };
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

const lossFields = (prefix, r) => ({
  [`${prefix}lost_writes`]: r.lost_writes,
  [`${prefix}loss_phase_writes`]: r.phase_writes,
  [`${prefix}loss_phase_keys`]: r.phase_keys,
  [`${prefix}loss_cut_writes`]: r.cut_writes,
  [`${prefix}loss_cut_s`]: r.cut_s,
  [`${prefix}loss_victim_changes_during_cut`]: r.victim_changes_during_cut,
  [`${prefix}loss_settle_s`]: r.settle_s,
  [`${prefix}loss_settle_end`]: r.settle_end,
  [`${prefix}loss_others_missing`]: r.others_missing,
  [`${prefix}loss_stale_keys_whole_map`]: r.stale_keys_whole_map,
  [`${prefix}loss_pre_missing`]: r.pre_missing,
  [`${prefix}loss_lost_sample`]: r.lost_sample,
  [`${prefix}loss_others_sample`]: r.others_sample,
});

const lossOptions = (ctx, fleet) => ({
  victim: victimOf(ctx.options.nodes), ratePerS: ctx.options.lossRate, cutMs: ctx.options.cutS * 1000,
  quietMs: fleet.repairQuietMs, deadlineMs: SETTLE_DEADLINE_MS, log: ctx.log,
});

addSection({
  name: 'writes',
  title: 'writes: clustershazbot, 5 processes',
  inside: async (ctx) => {
    const fleet = await shazbotFleet(ctx);
    const atTarget = await targetRateRun(ctx, fleet, '');
    const local = await loadPhase(fleet, loadOptions(ctx, 'local'));
    const majorityRate = ctx.options.majorityTargetRate;
    let majorityAtTarget = {};
    if (majorityRate > 0) {
      ctx.log(`majority writes at ${majorityRate}/s offered in all`);
      const m = await loadPhase(fleet, loadOptions(ctx, 'majority', majorityRate));
      majorityAtTarget = {
        majority_target_rate_offered: majorityRate,
        majority_target_rate_writes_per_s: m.writes_per_s,
        majority_target_rate_ack_ms_p50: m.ack_ms_p50,
        majority_target_rate_ack_ms_p99: m.ack_ms_p99,
        majority_target_rate_ack_ms_max: m.ack_ms_max,
        majority_target_rate_write_errors: m.failed,
        majority_target_rate_write_timeouts: m.errors.WRITE_TIMEOUT ?? 0,
        majority_target_rate_lag_ms_p99: m.lag_ms_p99,
        majority_target_rate_loop_delay_ms_p99: m.loop_delay_ms_p99,
        majority_target_rate_cpu_cores: m.cpu_cores,
      };
    }
    const majority = await loadPhase(fleet, loadOptions(ctx, 'majority'));
    return {
      ...atTarget,
      ...majorityAtTarget,
      lag_by_origin_5proc: local.lag_by_origin,
      majority_lag_by_origin: majority.lag_by_origin,
      writes_per_s_5proc: local.writes_per_s,
      lag_ms_p50_5proc: local.lag_ms_p50,
      lag_ms_p99_5proc: local.lag_ms_p99,
      lag_ms_max_5proc: local.lag_ms_max,
      lag_changes_5proc: local.lag_samples,
      lag_origins_5proc: local.lag_origins,
      ack_ms_p99_5proc: local.ack_ms_p99,
      write_errors_5proc: local.failed,
      write_errors_detail_5proc: local.errors,
      missing_after_drain_5proc: local.missing_after_drain,
      drain_s_5proc: local.drain_s,
      cpu_cores_5proc: local.cpu_cores,
      loop_delay_ms_p99_5proc: local.loop_delay_ms_p99,
      exchanges_per_write_5proc: local.exchanges_per_write,
      bytes_out_per_write_5proc: local.bytes_out_per_write,
      pushes_per_write_5proc: local.pushes_per_write,
      traffic_5proc: local.traffic,
      loop_delay_ms_max_5proc: local.loop_delay_ms_max,
      machine_busy_pct_5proc: local.machine_busy_pct,
      majority_writes_per_s: majority.writes_per_s,
      majority_ack_ms_p50: majority.ack_ms_p50,
      majority_ack_ms_p99: majority.ack_ms_p99,
      majority_ack_ms_max: majority.ack_ms_max,
      majority_write_timeouts: majority.errors.WRITE_TIMEOUT ?? 0,
      majority_write_errors: majority.failed,
      majority_write_errors_detail: majority.errors,
      majority_unsettled: majority.unsettled,
      majority_lag_ms_p99: majority.lag_ms_p99,
      majority_missing_after_drain: majority.missing_after_drain,
      majority_cpu_cores: majority.cpu_cores,
      majority_loop_delay_ms_p99: majority.loop_delay_ms_p99,
      majority_pushes_per_write: majority.pushes_per_write,
      majority_machine_busy_pct: majority.machine_busy_pct,
    };
  },
  rows: (f, options) => f.writes_per_s_5proc === undefined ? [] : [
    ...(f.target_rate_offered === undefined ? [] : [
      { figure: `local writes at ${figure(f.target_rate_offered)}/s offered: acknowledged per second`, shazbot: figure(f.target_rate_writes_per_s), redis: figure(f.redis_pubsub_target_rate_writes_per_s), target: verdict(`target ≥ 5,000/s`, f.target_rate_offered < 5_000 ? undefined : f.target_rate_writes_per_s >= 0.99 * 5_000) },
      { figure: `… replication lag p50 / p99 / max (ms)`, shazbot: `${figure(f.target_rate_lag_ms_p50)} / ${figure(f.target_rate_lag_ms_p99)} / ${figure(f.target_rate_lag_ms_max)}`, redis: f.redis_pubsub_target_rate_lag_ms_p99 === undefined ? '—' : `${figure(f.redis_pubsub_target_rate_lag_ms_p50)} / ${figure(f.redis_pubsub_target_rate_lag_ms_p99)} / ${figure(f.redis_pubsub_target_rate_lag_ms_max)}`, target: verdict('target p99 ≤ 500 ms', f.target_rate_lag_ms_p99 === undefined ? undefined : f.target_rate_lag_ms_p99 <= 500) },
    ]),
    ...(f.target_rate_lag_by_origin?.sync === undefined ? [] : [
      { figure: '… changes that arrived by repair (anti-entropy), not by push: share, and their lag p99 (ms)', shazbot: `${percent(f.target_rate_lag_by_origin.sync.changes, f.target_rate_lag_by_origin)}, ${figure(f.target_rate_lag_by_origin.sync.p99)}`, redis: 'n/a', target: '' },
    ]),
    { figure: `local writes as fast as they go (≤ ${options.maxInFlight} pending per process): acknowledged per second, all ${options.nodes} processes`, shazbot: figure(f.writes_per_s_5proc), redis: figure(f.redis_pubsub_writes_per_s), target: verdict('target ≥ 5,000/s (with lag p99 ≤ 500 ms)', f.writes_per_s_5proc >= 5_000 && f.lag_ms_p99_5proc <= 500) },
    { figure: '… replication lag p50 (ms)', shazbot: figure(f.lag_ms_p50_5proc), redis: figure(f.redis_pubsub_lag_ms_p50), target: '' },
    { figure: '… replication lag p99 (ms)', shazbot: figure(f.lag_ms_p99_5proc), redis: figure(f.redis_pubsub_lag_ms_p99), target: verdict('target ≤ 500 ms', f.lag_ms_p99_5proc <= 500) },
    { figure: '… replication lag max (ms)', shazbot: figure(f.lag_ms_max_5proc), redis: figure(f.redis_pubsub_lag_ms_max), target: '' },
    { figure: '… write acknowledged p99 (ms; Redis: PUBLISH answered)', shazbot: figure(f.ack_ms_p99_5proc), redis: figure(f.redis_pubsub_ack_ms_p99), target: '' },
    { figure: '… failed writes', shazbot: figure(f.write_errors_5proc), redis: figure(f.redis_pubsub_write_errors), target: 'expected 0' },
    { figure: `… keys not holding their last write 2 s after the load, summed over replicas (of ${figure(KEYS)} per replica)`, shazbot: figure(f.missing_after_drain_5proc), redis: figure(f.redis_pubsub_missing_after_drain), target: '' },
    ...(f.lag_by_origin_5proc?.sync === undefined ? [] : [
      { figure: '… changes that arrived by repair (anti-entropy), not by push: share, and their lag p99 (ms)', shazbot: `${percent(f.lag_by_origin_5proc.sync.changes, f.lag_by_origin_5proc)}, ${figure(f.lag_by_origin_5proc.sync.p99)}`, redis: 'n/a', target: '' },
    ]),
    { figure: '… event-loop delay p99 / max of the worst process (ms)', shazbot: `${figure(f.loop_delay_ms_p99_5proc)} / ${figure(f.loop_delay_ms_max_5proc)}`, redis: f.redis_pubsub_loop_delay_ms_p99 === undefined ? '—' : `${figure(f.redis_pubsub_loop_delay_ms_p99)} / ${figure(f.redis_pubsub_loop_delay_ms_max)}`, target: '' },
    { figure: `… per write, all processes: changes pushed (${options.nodes - 1} reach everyone), signed exchanges started, payload bytes sent (Redis: one PUBLISH, delivered ${options.nodes} times)`, shazbot: f.exchanges_per_write_5proc === undefined ? '—' : `${f.pushes_per_write_5proc}, ${f.exchanges_per_write_5proc}, ${figure(f.bytes_out_per_write_5proc)} B`, redis: f.redis_pubsub_writes_per_s === undefined ? '—' : '1', target: '' },
    { figure: '… CPU of the worker processes (cores; Redis: + its server)', shazbot: figure(f.cpu_cores_5proc), redis: f.redis_pubsub_cpu_cores === undefined ? '—' : `${f.redis_pubsub_cpu_cores} + ${figure(f.redis_server_cpu_cores)}`, target: '' },
    ...(f.majority_target_rate_offered === undefined ? [] : [
      { figure: `majority writes at ${figure(f.majority_target_rate_offered)}/s offered: acknowledged per second`, shazbot: figure(f.majority_target_rate_writes_per_s), redis: 'n/a', target: verdict('target ≥ 500/s', f.majority_target_rate_offered < 500 ? undefined : f.majority_target_rate_writes_per_s >= 0.99 * 500) },
      { figure: '… write acknowledged p50 / p99 / max (ms)', shazbot: `${figure(f.majority_target_rate_ack_ms_p50)} / ${figure(f.majority_target_rate_ack_ms_p99)} / ${figure(f.majority_target_rate_ack_ms_max)}`, redis: 'n/a', target: verdict('target p99 ≤ 50 ms', f.majority_target_rate_ack_ms_p99 === undefined ? undefined : f.majority_target_rate_ack_ms_p99 <= 50) },
      { figure: '… writes failed (of which WRITE_TIMEOUT)', shazbot: `${figure(f.majority_target_rate_write_errors)} (${figure(f.majority_target_rate_write_timeouts)})`, redis: 'n/a', target: 'expected 0' },
    ]),
    { figure: `majority writes as fast as they go (≤ ${options.maxInFlight} pending per process): acknowledged per second`, shazbot: figure(f.majority_writes_per_s), redis: 'n/a', target: verdict('target ≥ 500/s', f.majority_writes_per_s >= 500) },
    { figure: '… write acknowledged p50 (ms)', shazbot: figure(f.majority_ack_ms_p50), redis: 'n/a', target: '' },
    { figure: '… write acknowledged p99 (ms)', shazbot: figure(f.majority_ack_ms_p99), redis: 'n/a', target: verdict('target ≤ 50 ms', f.majority_ack_ms_p99 <= 50) },
    { figure: '… writes failed (of which WRITE_TIMEOUT)', shazbot: `${figure(f.majority_write_errors)} (${figure(f.majority_write_timeouts)})`, redis: 'n/a', target: 'expected 0' },
  ],
});

addSection({
  name: 'redis',
  title: 'redis: the same workload over Redis pub/sub',
  outside: async (ctx) => {
    const fleet = await redisFleet(ctx);
    if (fleet === undefined) return { redis_skipped: true };
    const atTarget = await targetRateRun(ctx, fleet, 'redis_pubsub_');
    const before = await redisServerCpu(ctx.options.redisUrl);
    const r = await loadPhase(fleet, loadOptions(ctx, 'local'));
    const after = await redisServerCpu(ctx.options.redisUrl);
    return {
      ...atTarget,
      redis_version: fleet.version,
      redis_pubsub_writes_per_s: r.writes_per_s,
      redis_pubsub_lag_ms_p50: r.lag_ms_p50,
      redis_pubsub_lag_ms_p99: r.lag_ms_p99,
      redis_pubsub_lag_ms_max: r.lag_ms_max,
      redis_pubsub_lag_changes: r.lag_samples,
      redis_pubsub_ack_ms_p99: r.ack_ms_p99,
      redis_pubsub_write_errors: r.failed,
      redis_pubsub_write_errors_detail: r.errors,
      redis_pubsub_missing_after_drain: r.missing_after_drain,
      redis_pubsub_drain_s: r.drain_s,
      redis_pubsub_cpu_cores: r.cpu_cores,
      redis_pubsub_lag_by_origin: r.lag_by_origin,
      redis_pubsub_loop_delay_ms_p99: r.loop_delay_ms_p99,
      redis_pubsub_loop_delay_ms_max: r.loop_delay_ms_max,
      redis_server_cpu_cores: before && after && after.pid === before.pid ? Math.round(((after.cpu - before.cpu) / (r.load_s + r.drain_s)) * 100) / 100 : undefined,
      redis_pubsub_machine_busy_pct: r.machine_busy_pct,
    };
  },
  // Its figures sit beside clustershazbot's in the writes rows; alone, they get rows of their own.
  rows: (f, options) => f.writes_per_s_5proc !== undefined || f.redis_pubsub_writes_per_s === undefined ? [] : [
    ...(f.redis_pubsub_target_rate_offered === undefined ? [] : [
      { figure: `local writes at ${figure(f.redis_pubsub_target_rate_offered)}/s offered: acknowledged per second`, redis: figure(f.redis_pubsub_target_rate_writes_per_s), target: '' },
      { figure: '… replication lag p50 / p99 / max (ms)', redis: `${figure(f.redis_pubsub_target_rate_lag_ms_p50)} / ${figure(f.redis_pubsub_target_rate_lag_ms_p99)} / ${figure(f.redis_pubsub_target_rate_lag_ms_max)}`, target: '' },
    ]),
    { figure: `local writes as fast as they go (≤ ${options.maxInFlight} pending per process): acknowledged per second`, redis: figure(f.redis_pubsub_writes_per_s), target: '' },
    { figure: '… replication lag p50 / p99 / max (ms)', redis: `${figure(f.redis_pubsub_lag_ms_p50)} / ${figure(f.redis_pubsub_lag_ms_p99)} / ${figure(f.redis_pubsub_lag_ms_max)}`, target: '' },
    { figure: '… PUBLISH answered p99 (ms)', redis: figure(f.redis_pubsub_ack_ms_p99), target: '' },
    { figure: '… keys not holding their last write 2 s after the load, summed over replicas', redis: figure(f.redis_pubsub_missing_after_drain), target: '' },
  ],
});

addSection({
  name: 'loss',
  title: 'loss: one replica cut off',
  inside: async (ctx) => {
    const fleet = await shazbotFleet(ctx);
    const r = await lossPhase(fleet, lossOptions(ctx, fleet));
    return { ...lossFields('', r), loss_dropped_packets: r.heal.dropped_packets };
  },
  outside: async (ctx) => {
    const fleet = await redisFleet(ctx);
    if (fleet === undefined) return {};
    const r = await lossPhase(fleet, lossOptions(ctx, fleet));
    return { ...lossFields('redis_pubsub_', r), redis_pubsub_loss_resubscribed_ms: r.heal.resubscribedMs };
  },
  rows: (f, options) => f.lost_writes === undefined && f.redis_pubsub_lost_writes === undefined ? [] : [
    { figure: `writes the cut-off replica lacks after the settle (keys whose last write it does not hold)`, shazbot: figure(f.lost_writes), redis: figure(f.redis_pubsub_lost_writes), target: verdict('clustershazbot: expected 0 (anti-entropy repairs it)', f.lost_writes === undefined ? undefined : f.lost_writes === 0) },
    { figure: `writes by the others while it was cut off (${options.lossRate}/s in all)`, shazbot: figure(f.loss_cut_writes), redis: figure(f.redis_pubsub_loss_cut_writes), target: '' },
    { figure: 'keys written in the whole phase', shazbot: figure(f.loss_phase_keys), redis: figure(f.redis_pubsub_loss_phase_keys), target: '' },
    { figure: 'changes that reached it while cut off', shazbot: figure(f.loss_victim_changes_during_cut), redis: figure(f.redis_pubsub_loss_victim_changes_during_cut), target: 'expected 0 (the cut is real)' },
    { figure: 'settled: seconds after the reconnection, and how', shazbot: f.loss_settle_s === undefined ? '—' : `${f.loss_settle_s} (${f.loss_settle_end})`, redis: f.redis_pubsub_loss_settle_s === undefined ? '—' : `${f.redis_pubsub_loss_settle_s} (${f.redis_pubsub_loss_settle_end})`, target: '' },
    { figure: 'keys the other replicas lack after the same settle', shazbot: figure(f.loss_others_missing), redis: figure(f.redis_pubsub_loss_others_missing), target: 'expected 0' },
  ],
});

/** What the real-process sections measure, for the notes under the table. */
export const WORKLOAD = `a map of ${figure(KEYS)} keys, ${VALUE_BYTES}-byte values`;
