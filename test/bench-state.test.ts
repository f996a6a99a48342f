/**
 * `npm run bench:state` in its quick mode (5-s loads): clustershazbot's
 * replicated state in 5 real processes (inside `unshare -n`) and the same
 * workload over Redis pub/sub (the Redis of this machine). Checks that it
 * prints the table and, last, a JSON line with every figure present and
 * sane (positive rates, finite latencies, loss counts within what was
 * written). It does not check the targets: a 5-s run on a machine busy with
 * other tests says little about them.
 *
 * Needs root (unshare -n, nftables), unshare, nft, ip, and Redis on
 * 127.0.0.1:6379. Under CI=true a missing prerequisite fails the test (the
 * benchmark itself fails without Redis there); elsewhere it is skipped
 * only when not running as root.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_MS = 420_000;

/** Runs the benchmark to its end; resolves to its exit code and output. */
function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bench', 'state.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

describe('npm run bench:state (quick mode)', () => {
  it('prints the table and a JSON line with every figure of both systems', async (ctx) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === 'true') throw new Error('bench:state needs root (unshare -n, nftables), and CI must run it');
      ctx.skip('bench:state needs root: clustershazbot\'s processes run inside `unshare -n` and are cut off with nftables');
    }
    const { code, stdout, stderr } = await runBench(['--quick']);
    expect(code, `exit code; stderr:\n${stderr.slice(-20_000)}`).toBe(0);

    expect(stdout).toMatch(/^\| figure \| clustershazbot \| Redis pub\/sub \(ioredis\) \| target \/ anchor \|$/m);
    for (const heading of ['writes: clustershazbot, 5 processes', 'loss: one replica cut off']) expect(stdout).toContain(`| **${heading}** |`);

    const line = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(line.quick).toBe(true);
    expect(line.duration_s).toBe(5);
    expect(line.n).toBe(5);
    expect(line.sections).toEqual(['writes', 'redis', 'loss', 'sim', 'join']);
    expect(typeof line.commit).toBe('string');
    expect(line.dist, 'fingerprint of dist/esm').toMatch(/^[0-9a-f]{12}$/);
    expect(line.notes, 'nothing skipped').toEqual([]);

    // Rates: positive. Latencies: finite, not negative.
    for (const key of ['writes_per_s_5proc', 'target_rate_writes_per_s', 'majority_writes_per_s', 'majority_target_rate_writes_per_s', 'redis_pubsub_writes_per_s', 'redis_pubsub_target_rate_writes_per_s']) {
      expect(isNumber(line[key]) && (line[key] as number) > 0, `${key} = ${String(line[key])}`).toBe(true);
    }
    for (const key of ['lag_ms_p50_5proc', 'lag_ms_p99_5proc', 'target_rate_lag_ms_p99', 'majority_ack_ms_p50', 'majority_ack_ms_p99', 'majority_target_rate_ack_ms_p99', 'redis_pubsub_lag_ms_p50', 'redis_pubsub_lag_ms_p99', 'redis_pubsub_target_rate_lag_ms_p99']) {
      expect(isNumber(line[key]) && (line[key] as number) >= 0, `${key} = ${String(line[key])}`).toBe(true);
    }
    expect(line.lag_ms_p99_5proc as number).toBeGreaterThanOrEqual(line.lag_ms_p50_5proc as number);
    expect(line.majority_ack_ms_p99 as number).toBeGreaterThanOrEqual(line.majority_ack_ms_p50 as number);
    expect(line.lag_changes_5proc as number, 'replicas saw changes from the others').toBeGreaterThan(0);
    expect(line.redis_pubsub_lag_changes as number).toBeGreaterThan(0);
    expect(line.majority_write_timeouts as number).toBeGreaterThanOrEqual(0);

    // Loss: counts within what the phase wrote; the cut was real on both sides.
    for (const prefix of ['', 'redis_pubsub_']) {
      const lost = line[`${prefix}lost_writes`];
      const keys = line[`${prefix}loss_phase_keys`];
      const cutWrites = line[`${prefix}loss_cut_writes`];
      expect(Number.isInteger(lost) && (lost as number) >= 0, `${prefix}lost_writes = ${String(lost)}`).toBe(true);
      expect(cutWrites as number, `${prefix}loss_cut_writes`).toBeGreaterThan(0);
      expect(lost as number).toBeLessThanOrEqual(keys as number);
      expect(line[`${prefix}loss_others_missing`], `${prefix}loss_others_missing`).toBe(0);
    }
    // Pub/sub keeps nothing for a subscriber that is away: it must lack writes, or the cut was not real.
    expect(line.redis_pubsub_lost_writes as number, 'Redis pub/sub lost what was published during the cut').toBeGreaterThan(0);
    const dropped = line.loss_dropped_packets as Record<string, number>;
    expect(Object.values(dropped).reduce((a, b) => a + b, 0), 'nftables dropped the cut-off process\'s packets').toBeGreaterThan(0);

    // The simulator (N = 100 in quick mode) and a 5th process joining (10,000 keys only in quick mode).
    expect(line.sim_n).toBe(100);
    for (const key of ['write_reach_ms_p99_n1000', 'bytes_per_change_ratio_n1000', 'idle_bytes_per_server_per_s_n1000', 'idle_membership_bytes_per_server_per_s', 'join_ready_s_10k', 'join_bytes_ratio_10k']) {
      expect(isNumber(line[key]) && (line[key] as number) > 0, `${key} = ${String(line[key])}`).toBe(true);
    }
    expect(line.idle_bytes_per_server_per_s_n1000 as number).toBeGreaterThanOrEqual(line.idle_membership_bytes_per_server_per_s as number);
    expect(line.join_ready_s_100k, 'no 100,000-key join in quick mode').toBeUndefined();

    expect(line.wall_s as number).toBeGreaterThan(0);
  }, TIMEOUT_MS);
});
