// The clustershazbot side of bench:state: N processes of
// bench/state/worker.mjs (the built package) and the embedded master-list
// store run as its CLI runs it, all inside the benchmark's own network
// namespace (`unshare -n`, lo only; see bench/peers/netns.mjs). Workers
// are named http://127.0.0.1:<port>/ and listen on every address of the
// namespace; the harness reaches them on 127.0.0.2.
//
// Cutting worker i off: an nftables table of its own on the output hook
// drops every packet to or from its port (what peers send it, what its
// server answers) and every packet its own sockets send (its requests to
// the others: the worker runs with a group id of its own, matched by
// `meta skgid`), except the harness's traffic on 127.0.0.2. Healing deletes
// the table. The drop counters prove the cut was real.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, fingerprint, findExecutable, now, pause } from '../peers/children.mjs';
import { HARNESS_HOST, NODE_HOST } from '../peers/netns.mjs';
import { WorkerClient, newAgent, waitReady } from './phases.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..', '..');
const WORKER = join(HERE, 'worker.mjs');
/** What the worker imports (the package by its own name resolves here) and the CLI that serves the store. */
export const BUILT = [join(ROOT, 'dist', 'esm', 'index.js'), join(ROOT, 'dist', 'esm', 'adapters', 'node.js'), join(ROOT, 'dist', 'esm', 'cli', 'main.js')];
const CLI = BUILT[2];
/** Worker i runs with group id GID_BASE + i. */
const GID_BASE = 61_000;
const CUT_TABLE = 'clustershazbot_state_cut';

/**
 * Waits (bounded) until the built package exists (another build may be
 * replacing it right now) and resolves to a fingerprint of dist/esm/*.js.
 */
export async function waitForBuilt(log, timeoutMs = 120_000) {
  const deadline = now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      if (!BUILT.every((file) => existsSync(file))) throw new Error('missing');
      const dir = join(ROOT, 'dist', 'esm');
      return fingerprint(readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => join(dir, f)));
    } catch (e) {
      if (now() > deadline) throw new Error(`${BUILT.join(', ')} still missing or changing after ${timeoutMs / 1000} s (build the package: node scripts/build.mjs): ${e.message}`);
      if (!told) log('dist/ is missing (a build in progress?); waiting for it');
      told = true;
      await pause(1_000);
    }
  }
}

/** Runs `nft` with `script` on its stdin (or `args`); resolves to stdout. */
async function nft(args, script) {
  const child = spawn(findExecutable('nft'), args, { stdio: [script === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin?.end(script);
  const code = await new Promise((done) => child.once('close', done));
  if (code !== 0) throw new Error(`nft ${args.join(' ')}: exit ${code}: ${err.trim()}`);
  return out;
}

export class ShazbotFleet {
  label = 'clustershazbot';
  /**
   * How long a replica may stay unchanged before it counts as settled: the
   * state's anti-entropy compares digests on every probe (docs/state.md:
   * every 2–2.5 s), and membership's own anti-entropy runs every 30 s ± 20 %;
   * 30 s of no change gives a repair many chances. A replica that holds
   * everything ends the wait at once.
   */
  repairQuietMs = 30_000;
  /** @type {WorkerClient[]} */
  workers = [];
  /** @type {Child[]} */
  children = [];
  ports = [];
  #agent = newAgent();
  #store;
  #dir;

  /**
   * @param {number} size
   * @param {{ ports: import('../peers/netns.mjs').PortAllocator, log: (m: string) => void, nodeArgs?: string[] }} options
   */
  constructor(size, { ports, log, nodeArgs = [] }) {
    this.size = size;
    this.nodeArgs = nodeArgs;
    this.portAllocator = ports;
    this.log = log;
  }

  /** Starts the store and the workers; resolves once every worker's state is ready and lists all N online. */
  async start() {
    this.#dir = await mkdtemp(join(tmpdir(), 'clustershazbot-bench-state-'));
    const storeAuth = `Bearer ${randomBytes(24).toString('base64url')}`;
    const storePort = await this.portAllocator.take();
    this.#store = new Child('master-list store', process.execPath, [
      CLI, 'master-list', 'serve', '--file', join(this.#dir, 'master-list.json'), '--port', String(storePort), '--host', NODE_HOST,
    ], { env: { PATH: process.env.PATH, SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth }, cwd: this.#dir });
    const storeUrl = `http://${NODE_HOST}:${storePort}/`;
    const deadline = now() + 30_000;
    while (!this.#store.output().includes(`listening on ${storeUrl}`)) {
      if (!this.#store.running || now() > deadline) throw new Error(`the master-list store did not start: ${this.#store.output()}`);
      await pause(20);
    }
    const env = {
      PATH: process.env.PATH,
      SHAZBOT_SECRET: randomBytes(24).toString('base64url'),
      SHAZBOT_CONTROL_SECRET: randomBytes(24).toString('base64url'),
      SHAZBOT_MASTER_LIST: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
      SHAZBOT_LOG_LEVEL: 'warn',
      BENCH_WORKERS: String(this.size),
    };
    for (let i = 0; i < this.size; i++) this.ports.push(await this.portAllocator.take());
    const start = now();
    for (let i = 0; i < this.size; i++) {
      this.children.push(new Child(`shazbot n${i}`, process.execPath, [...this.nodeArgs, WORKER], {
        cwd: ROOT,
        env: {
          ...env, PORT: String(this.ports[i]), SHAZBOT_BASE_URL: `http://${NODE_HOST}:${this.ports[i]}/`,
          BENCH_WRITER: String(i), BENCH_GID: String(GID_BASE + i),
        },
      }));
      this.workers.push(new WorkerClient(HARNESS_HOST, this.ports[i], this.#agent));
    }
    await waitReady(this, { timeoutMs: 120_000, online: this.size });
    this.log(`${this.size} clustershazbot workers ready (state ready, all ${this.size} online everywhere) in ${((now() - start) / 1000).toFixed(1)} s`);
  }

  /** Throws (with its output) if a worker or the store has exited. */
  checkAlive() {
    const dead = [...this.children, this.#store].find((c) => c !== undefined && !c.running);
    if (dead !== undefined) throw new Error(`${dead.name} exited (${JSON.stringify(dead.status)}); its last output:\n${dead.output().slice(-3000)}`);
  }

  pids() {
    return this.children.map((c) => c.pid);
  }

  /** Drops every packet between worker `i` and anything but the harness. */
  async cut(i) {
    const port = this.ports[i];
    await nft(['-f', '-'], [
      `table inet ${CUT_TABLE} {`,
      '  chain out {',
      '    type filter hook output priority -10; policy accept;',
      `    ip saddr ${HARNESS_HOST} accept`,
      `    ip daddr ${HARNESS_HOST} accept`,
      `    tcp dport ${port} counter drop comment "to its port"`,
      `    tcp sport ${port} counter drop comment "from its port"`,
      `    meta skgid ${GID_BASE + i} counter drop comment "from its sockets"`,
      '  }',
      '}',
      '',
    ].join('\n'));
    return { how: `nftables drop rules: tcp port ${port} both ways, and every packet of its sockets (meta skgid ${GID_BASE + i}); harness traffic on ${HARNESS_HOST} exempt` };
  }

  /** Deletes the drop rules; resolves to what they dropped. */
  async heal() {
    const listing = JSON.parse(await nft(['-j', 'list', 'table', 'inet', CUT_TABLE]));
    const dropped = {};
    for (const item of listing.nftables) {
      const counter = item.rule?.expr.find((e) => e.counter !== undefined)?.counter;
      if (counter !== undefined) dropped[item.rule.comment] = counter.packets;
    }
    await nft(['delete', 'table', 'inet', CUT_TABLE]);
    return { dropped_packets: dropped };
  }

  async stop() {
    this.#agent.destroy();
    await nft(['delete', 'table', 'inet', CUT_TABLE]).catch(() => undefined);
    for (const child of this.children) child.signal('SIGTERM');
    await Promise.race([Promise.all(this.children.map((c) => c.exited)), pause(3_000)]);
    await Promise.all([...this.children, this.#store].filter(Boolean).map((c) => c.kill()));
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }
}
