// Section `join` of `npm run bench:state`: a new server joining a cluster
// that holds a map, in real processes (`node`, the built package) on
// 127.0.0.1: 4 servers (bench/state/join-worker.mjs) hold a map of K keys
// with 256-byte values (each writes a quarter locally, consistency local,
// and the state spreads them), then a 5th server process is spawned; the
// figure is the time from its spawn until its
// `GET /clustershazbot/health/ready` answers 200 (polled every 10 ms, so
// its own process start is included), and the bytes it received until
// then over the raw state (keys + values bytes). K = 10,000 and 100,000
// (--quick: 10,000 only).
//
// Bytes received: at the TCP level (every byte the joiner's process read
// from its sockets, HTTP headers included, the harness's polls excluded:
// the harness connects from 127.0.0.2), and its own count of JSON bodies
// (`cluster.stats().bytesIn`). The master list is a file (file:// URL);
// the 4 servers start one after another so that each announce sees the
// previous ones.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Child, now, pause } from '../peers/children.mjs';
import { PortAllocator } from '../peers/netns.mjs';
import { addSection, figure, verdict } from './sections.mjs';
import { ROOT, waitForBuilt } from './shazbot.mjs';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'join-worker.mjs');
const HOST = '127.0.0.1';
/** The harness's own address: the joiner leaves its connections out of its byte count. */
const HARNESS_ADDR = '127.0.0.2';
const HOLDERS = 4;
const VALUE_BYTES = 256;
const POLL_MS = 10;

/** One HTTP call from HARNESS_ADDR; resolves to `{ status, body }`, rejects on a connection error or timeout. */
function call(agent, port, method, path, body, timeoutMs = 10_000) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      host: HOST, port, method, path, agent, localAddress: HARNESS_ADDR, timeout: timeoutMs,
      headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = raw === '' ? undefined : JSON.parse(raw);
        } catch {
          parsed = raw;
        }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${path} on port ${port}: no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end(text);
  });
}

/** Polls until `check()` resolves truthy; throws with `what` after `timeoutMs`. */
async function until(check, what, timeoutMs, everyMs = 200) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await pause(everyMs);
  }
}

/** The cluster of one run: the master-list file, ports, secrets, the children. */
class JoinCluster {
  children = [];
  ports = [];
  agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(keys, log) {
    this.keys = keys;
    this.log = log;
  }

  async setUp() {
    this.dir = await mkdtemp(join(tmpdir(), 'clustershazbot-bench-join-'));
    const allocator = await PortAllocator.create();
    for (let i = 0; i <= HOLDERS; i++) this.ports.push(await allocator.take());
    const list = pathToFileURL(join(this.dir, 'master-list.json')).href;
    this.env = {
      PATH: process.env.PATH,
      SHAZBOT_SECRET: randomBytes(24).toString('base64url'),
      SHAZBOT_CONTROL_SECRET: randomBytes(24).toString('base64url'),
      SHAZBOT_MASTER_LIST: list,
      SHAZBOT_MASTER_LIST_UPDATE: list,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: 'Bearer unused-for-files',
      SHAZBOT_LOG_LEVEL: 'warn',
      JOIN_MAX_KEYS: String(Math.max(200_000, 2 * this.keys)),
      HARNESS_ADDR,
    };
  }

  spawn(i) {
    const port = this.ports[i];
    const child = new Child(`join n${i}`, process.execPath, [WORKER], {
      cwd: ROOT, env: { ...this.env, PORT: String(port), SHAZBOT_BASE_URL: `http://${HOST}:${port}/` },
    });
    this.children.push(child);
    return child;
  }

  checkAlive() {
    const dead = this.children.find((c) => !c.running);
    if (dead !== undefined) throw new Error(`${dead.name} exited (${JSON.stringify(dead.status)}): ${dead.output().slice(-3000)}`);
  }

  status(i) {
    this.checkAlive();
    return call(this.agent, this.ports[i], 'GET', '/bench/status').then((r) => r.body);
  }

  /** Starts the holders one after another, fills the map, waits until each holds every key and has nothing left to push. */
  async holders() {
    const t0 = now();
    for (let i = 0; i < HOLDERS; i++) {
      this.spawn(i);
      await until(async () => (await this.status(i)).ready, `holder ${i} ready`, 60_000, 50);
    }
    await until(async () => {
      const s = await Promise.all(this.ports.slice(0, HOLDERS).map((_, i) => this.status(i)));
      return s.every((x) => x.online === HOLDERS);
    }, `all ${HOLDERS} holders listing each other`, 60_000);
    const started = now();
    this.log(`join ${figure(this.keys)}: ${HOLDERS} holders up in ${((started - t0) / 1000).toFixed(1)} s; filling the map`);
    const quarter = Math.ceil(this.keys / HOLDERS);
    await Promise.all(Array.from({ length: HOLDERS }, (_, i) => {
      const from = i * quarter;
      const count = Math.max(0, Math.min(this.keys, from + quarter) - from);
      return call(this.agent, this.ports[i], 'POST', '/bench/fill', { from, count }, 600_000).then((r) => {
        if (r.status !== 200) throw new Error(`fill on holder ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      });
    }));
    await until(async () => {
      const s = await Promise.all(this.ports.slice(0, HOLDERS).map((_, i) => this.status(i)));
      return s.every((x) => x.size === this.keys && x.pending === 0);
    }, `every holder holding ${this.keys} keys`, 900_000, 250);
    const filled = (now() - started) / 1000;
    this.log(`join ${figure(this.keys)}: every holder holds ${figure(this.keys)} keys, ${filled.toFixed(1)} s after the writes started`);
    return filled;
  }

  /** Spawns the joiner and polls its readiness every POLL_MS; resolves to what it measured. */
  async joiner() {
    const port = this.ports[HOLDERS];
    const spawnedAt = Date.now();
    const t0 = now();
    const child = this.spawn(HOLDERS);
    let polls = 0;
    const deadline = t0 + 300_000;
    for (;;) {
      if (!child.running) throw new Error(`the joiner exited: ${child.output().slice(-3000)}`);
      polls++;
      const r = await call(this.agent, port, 'GET', '/clustershazbot/health/ready', undefined, 5_000).catch(() => undefined);
      if (r?.status === 200) break;
      if (now() > deadline) throw new Error('the joiner was not ready within 300 s');
      await pause(POLL_MS);
    }
    const readyS = (now() - t0) / 1000;
    const s = await this.status(HOLDERS);
    return { readyS, polls, spawnedAt, status: s };
  }

  async stop() {
    this.agent.destroy();
    for (const child of this.children) child.signal('SIGTERM');
    await Promise.race([Promise.all(this.children.map((c) => c.exited)), pause(3_000)]);
    await Promise.all(this.children.map((c) => c.kill()));
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Keys and values bytes of the map the holders hold (what the workers write: join:<i> and 256-byte ASCII values). */
function rawBytes(keys) {
  let n = 0;
  for (let i = 0; i < keys; i++) n += Buffer.byteLength(`join:${i}`) + VALUE_BYTES;
  return n;
}

/** One run at `keys`; resolves to its fields, suffixed with `tag`. */
async function joinRun(ctx, keys, tag) {
  const c = new JoinCluster(keys, ctx.log);
  try {
    await c.setUp();
    const fillS = await c.holders();
    const j = await c.joiner();
    const s = j.status;
    if (s.size !== keys) throw new Error(`the joiner holds ${s.size} keys when ready, not ${keys}`);
    const raw = rawBytes(keys);
    const t = s.times;
    const at = (x) => (x === undefined ? null : Math.round(x - j.spawnedAt) / 1000);
    ctx.log(`join ${figure(keys)}: ready ${j.readyS.toFixed(2)} s after the spawn; received ${figure(s.tcpIn)} B at the TCP level (${(s.tcpIn / raw).toFixed(2)} × the raw state), ${figure(s.bytesIn)} B of bodies`);
    return {
      [`join_ready_s_${tag}`]: Math.round(j.readyS * 100) / 100,
      [`join_bytes_ratio_${tag}`]: Math.round((s.tcpIn / raw) * 100) / 100,
      [`join_keys_${tag}`]: keys,
      [`join_raw_bytes_${tag}`]: raw,
      [`join_tcp_bytes_in_${tag}`]: s.tcpIn,
      [`join_body_bytes_in_${tag}`]: s.bytesIn,
      [`join_body_bytes_ratio_${tag}`]: Math.round((s.bytesIn / raw) * 100) / 100,
      [`join_body_bytes_out_${tag}`]: s.bytesOut,
      // Milestones of the joiner, seconds after its spawn: node and the package loaded, listening, membership joined, state ready.
      [`join_phases_s_${tag}`]: { imported: at(t.imported), listening: at(t.listening), started: at(t.started), state_ready: at(t.ready) },
      [`join_sync_${tag}`]: s.sync,
      [`join_polls_${tag}`]: j.polls,
      [`join_fill_s_${tag}`]: Math.round(fillS * 10) / 10,
    };
  } finally {
    await c.stop();
  }
}

addSection({
  name: 'join',
  title: 'join: a 5th server process joins 4 that hold a map (real processes, 127.0.0.1)',
  outside: async (ctx) => {
    await waitForBuilt(ctx.log);
    const fields = await joinRun(ctx, 10_000, '10k');
    // --quick: no 100,000-key run (its rows are then left out).
    if (ctx.options.quick) return fields;
    return { ...fields, ...(await joinRun(ctx, 100_000, '100k')) };
  },
  rows: (f) => f.join_ready_s_10k === undefined ? [] : [
    { figure: 'join, 10,000 keys × 256-byte values: spawn of the 5th process until its /clustershazbot/health/ready answers 200 (s)', shazbot: figure(f.join_ready_s_10k, 2), redis: 'n/a', target: verdict('target ≤ 2 s', f.join_ready_s_10k <= 2) },
    { figure: '… its milestones after the spawn: package loaded / listening / membership joined / state ready (s)', shazbot: phases(f.join_phases_s_10k), redis: 'n/a', target: '' },
    { figure: '… bytes it received until then (TCP, headers included) ÷ raw state (keys + values)', shazbot: figure(f.join_bytes_ratio_10k, 2), redis: 'n/a', target: verdict('target ≤ 1.5', f.join_bytes_ratio_10k <= 1.5) },
    { figure: '… the same counting JSON bodies only (cluster.stats().bytesIn)', shazbot: figure(f.join_body_bytes_ratio_10k, 2), redis: 'n/a', target: '' },
    ...(f.join_ready_s_100k === undefined ? [] : [
      { figure: 'join, 100,000 keys × 256-byte values (maxKeys raised): spawn until ready (s)', shazbot: figure(f.join_ready_s_100k, 2), redis: 'n/a', target: verdict('target ≤ 15 s (Akka: "tens of seconds")', f.join_ready_s_100k <= 15) },
      { figure: '… milestones: package loaded / listening / membership joined / state ready (s)', shazbot: phases(f.join_phases_s_100k), redis: 'n/a', target: '' },
      { figure: '… bytes received (TCP) ÷ raw state; JSON bodies only', shazbot: `${figure(f.join_bytes_ratio_100k, 2)}; ${figure(f.join_body_bytes_ratio_100k, 2)}`, redis: 'n/a', target: '' },
    ]),
  ],
});

function phases(p) {
  if (p === undefined) return '—';
  return [p.imported, p.listening, p.started, p.state_ready].map((x) => figure(x, 2)).join(' / ');
}
