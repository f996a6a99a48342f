// Section `sim` of `npm run bench:state`: the replicated state in the
// simulator (the real engine and replica on virtual time), at N = 1,000
// (N = 100 with --quick): how fast a write reaches every replica, the bytes
// one change costs, and the bytes per server at rest with 10,000 keys in
// every replica. The work runs in a child process (bench/state/sim-run.mjs,
// which says how each figure is measured) with the heap bench:sim uses.
//
// Loading the 10,000 keys: every replica's map gets the same key states
// (one immutable object per key, shared) through its own slot
// (MapSlot.apply: the map's real state, digest and key index) before it
// starts; what travels at rest is then the real replica's. Restoring them
// from a StateStore (the replica's own restore path, opener.ts) gives the
// same figure (checked at N = 100: 261.1 B/s either way) but decodes every
// key in every replica: about 10 times the wall time and twice the heap
// (460 MB against about 200 MB at N = 100, 10,000 keys).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addSection, figure, verdict } from './sections.mjs';
import { waitForBuilt } from './shazbot.mjs';

const RUN = join(dirname(fileURLToPath(import.meta.url)), 'sim-run.mjs');

/** Parameters of the simulator runs: full and --quick. */
const FULL = { nodes: 1000, writes: 100, 'gap-ms': 2000, 'ratio-writes': 5, 'window-ms': 15000, 'idle-keys': 10000 };
const QUICK = { nodes: 100, writes: 20, 'gap-ms': 1000, 'ratio-writes': 2, 'window-ms': 10000, 'idle-keys': 2000 };

/** Runs sim-run.mjs with `params`; its stderr goes to the log; resolves to its JSON line. */
function runChild(params, log) {
  const args = ['--max-old-space-size=16384', '--max-semi-space-size=512', '--expose-gc', RUN];
  for (const [k, v] of Object.entries(params)) args.push(`--${k}`, String(v));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let partial = '';
    let tail = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => {
      tail = (tail + d).slice(-4000);
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      for (const line of lines) if (line.trim() !== '') log(line.replace(/^\[bench:state sim +[\d.]+ s\] /, 'sim: '));
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`sim-run.mjs exited with ${code ?? signal}: ${tail}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)));
      } catch (e) {
        reject(new Error(`sim-run.mjs printed no JSON line: ${e.message}`));
      }
    });
  });
}

addSection({
  name: 'sim',
  title: 'simulator: the real engine and replica on virtual time',
  outside: async (ctx) => {
    await waitForBuilt(ctx.log);
    // With --quick the *_n1000 fields hold the figures of N = 100: sim_n says which, and so do the rows.
    return runChild(ctx.options.quick ? QUICK : FULL, ctx.log);
  },
  rows: (f) => f.sim_n === undefined ? [] : [
    { figure: `write reach p99: a write on one server until every replica holds it, N = ${figure(f.sim_n)}, 5 ms per hop, 1 % loss (ms; ${f.write_reach_writes} writes ${figure(f.write_reach_gap_ms)} ms apart)`, shazbot: figure(f.write_reach_ms_p99_n1000), redis: 'n/a', target: verdict('target ≤ 1,000 ms (Serf\'s model: 2,200 ms to 99.99 %; Akka DData ≈ 20–40 s)', f.write_reach_ms_p99_n1000 === null ? false : f.write_reach_ms_p99_n1000 <= 1_000) },
    { figure: '… p50 / max (ms)', shazbot: `${figure(f.write_reach_ms_p50)} / ${figure(f.write_reach_ms_max)}`, redis: 'n/a', target: f.write_reach_incomplete > 0 ? `${f.write_reach_incomplete} writes never reached every replica` : '' },
    { figure: `bytes sent cluster-wide because of one change ÷ (N × delta), N = ${figure(f.sim_n)} (delta: the key's encoded state, ${figure(f.bytes_per_change_delta_bytes)} B for a 256-byte value; mean of ${f.bytes_per_change_writes} writes, ${figure(f.bytes_per_change_window_ms / 1000)}-s windows after minus before)`, shazbot: figure(f.bytes_per_change_ratio_n1000), redis: 'n/a', target: verdict('target ≤ 3', f.bytes_per_change_ratio_n1000 <= 3) },
    { figure: '… bytes of one change in all (after minus before); of them in pushes (requests and their replies); in repairs', shazbot: `${figure(f.bytes_per_change_extra_bytes)}; ${figure(f.bytes_per_change_push_bytes)}; ${figure(f.bytes_per_change_repair_bytes)}`, redis: 'n/a', target: '' },
    { figure: `bytes per server per second at rest, N = ${figure(f.sim_n)}, every replica holding the same ${figure(f.idle_keys)} keys (as bench:sim counts at rest)`, shazbot: figure(f.idle_bytes_per_server_per_s_n1000), redis: 'n/a', target: verdict(`target ≤ 260 B/s (membership alone, same run: ${figure(f.idle_membership_bytes_per_server_per_s)})`, f.idle_bytes_per_server_per_s_n1000 <= 260) },
  ],
});
