// The Redis pub/sub side of bench:state: N processes of
// bench/state/redis-worker.mjs against the Redis already running on this
// machine (the host's network, not the benchmark's namespace). One channel
// named after a random run id; no key is written, nothing is flushed, and
// the server itself is never stopped, paused or cut off: a replica is cut
// off by closing its own subscriber connection.
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { Child, now, pause } from '../peers/children.mjs';
import { PortAllocator } from '../peers/netns.mjs';
import { WorkerClient, newAgent, waitReady } from './phases.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORKER = join(HERE, 'redis-worker.mjs');
const HOST = '127.0.0.1';

/**
 * Resolves to the server's version if Redis answers PING at `url` within
 * 3 s, to undefined otherwise (with the reason in `problem`).
 */
export async function probeRedis(url) {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    const info = await client.info('server');
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  } finally {
    client.disconnect();
  }
}

export class RedisFleet {
  label = 'Redis pub/sub';
  /** How long a replica may stay unchanged before it counts as settled: nothing in pub/sub repairs a replica later. */
  repairQuietMs = 3_000;
  /** @type {WorkerClient[]} */
  workers = [];
  /** @type {Child[]} */
  children = [];
  #agent = newAgent();

  /** @param {number} size @param {{ url: string, log: (m: string) => void, nodeArgs?: string[] }} options */
  constructor(size, { url, log, nodeArgs = [] }) {
    this.size = size;
    this.nodeArgs = nodeArgs;
    this.url = url;
    this.log = log;
    this.channel = `clustershazbot-bench-state:${randomBytes(8).toString('hex')}`;
  }

  /** Starts the workers and waits until each one's subscription delivers. */
  async start() {
    const ports = await PortAllocator.create();
    for (let i = 0; i < this.size; i++) {
      const port = await ports.take();
      this.children.push(new Child(`redis n${i}`, process.execPath, [...this.nodeArgs, WORKER], {
        cwd: HERE,
        env: {
          PATH: process.env.PATH, PORT: String(port), BENCH_WRITER: String(i), BENCH_WORKERS: String(this.size),
          BENCH_REDIS_URL: this.url, BENCH_CHANNEL: this.channel,
        },
      }));
      this.workers.push(new WorkerClient(HOST, port, this.#agent));
    }
    const start = now();
    await waitReady(this, { timeoutMs: 60_000 });
    this.log(`${this.size} Redis pub/sub workers subscribed to ${this.channel} in ${((now() - start) / 1000).toFixed(1)} s`);
  }

  /** Throws (with its output) if a worker has exited. */
  checkAlive() {
    const dead = this.children.find((c) => !c.running);
    if (dead !== undefined) throw new Error(`${dead.name} exited (${JSON.stringify(dead.status)}); its last output:\n${dead.output().slice(-3000)}`);
  }

  pids() {
    return this.children.map((c) => c.pid);
  }

  /** Closes worker `i`'s subscriber connection (its publisher stays: it is not writing). */
  async cut(i) {
    const answer = await this.workers[i].ok('POST', '/bench/cut');
    return { how: `its subscriber connection closed (ioredis disconnect(); status ${answer.status})` };
  }

  /** Reconnects it; resolves once ioredis has resubscribed and a probe came through. */
  async heal(i) {
    return await this.workers[i].ok('POST', '/bench/heal', undefined, 60_000);
  }

  async stop() {
    this.#agent.destroy();
    for (const child of this.children) child.signal('SIGTERM');
    await Promise.race([Promise.all(this.children.map((c) => c.exited)), pause(3_000)]);
    await Promise.all(this.children.map((c) => c.kill()));
  }
}
