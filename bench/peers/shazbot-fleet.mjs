// clustershazbot's side: the README's Express example (test/fixtures/
// express-example, compiled against the repository's dist/) run as N
// processes with the required configuration only, against the embedded
// master-list store run as its CLI runs it (`clustershazbot master-list serve`).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, fingerprint, now, pause } from './children.mjs';
import { HARNESS_HOST, NODE_HOST } from './netns.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURE = join(ROOT, 'test', 'fixtures', 'express-example');
/** The compiled example server. */
export const SERVER = join(FIXTURE, 'dist', 'server.js');
/** What the fixture imports through its `file:../../..` dependency, and the CLI. */
export const BUILT = join(ROOT, 'dist', 'esm', 'index.js');
const CLI = join(ROOT, 'dist', 'esm', 'cli', 'main.js');

/**
 * One list poll as the harness makes it: `GET /clustershazbot/list` on
 * 127.0.0.2 with the control bearer, through `agent` (keep-alive). Resolves
 * to Map(baseUrl → status): 'alive' for every `online` entry (suspects
 * included), the offline entry's `reason` (or 'offline') for the others.
 * @param {number} port
 * @param {string} controlSecret
 * @param {number} timeoutMs
 * @param {Agent} agent
 */
export function pollList(port, controlSecret, timeoutMs, agent) {
  return new Promise((resolve, reject) => {
    const req = request({
      host: HARNESS_HOST, port, path: '/clustershazbot/list', agent, timeout: timeoutMs,
      headers: { authorization: `Bearer ${controlSecret}` },
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          if (res.statusCode !== 200) throw new Error(`list answered ${res.statusCode}: ${text.slice(0, 200)}`);
          resolve(listView(JSON.parse(text)));
        } catch (e) {
          reject(new Error(`port ${port}: ${e.message}`));
        }
      });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** A list route's answer as Map(baseUrl → 'alive' | offline reason). */
function listView(body) {
  if (!Array.isArray(body?.online)) throw new Error(`list without an online array: ${JSON.stringify(body).slice(0, 200)}`);
  const view = new Map();
  for (const entry of body.offline ?? []) view.set(String(entry.baseUrl), String(entry.reason ?? 'offline'));
  for (const entry of body.online) view.set(String(entry.baseUrl), 'alive');
  return view;
}

/** The harness's connections to the nodes: kept alive between polls, closed before a rest window. */
export const newAgent = () => new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * A stand-in answering the list route on every address, for the accounting
 * self-check. Resolves to `{ port, close() }`.
 */
export async function startFakeServer() {
  const server = createServer((req, res) => res.end('{"online":[],"offline":[]}'));
  await new Promise((done) => server.listen(0, done));
  return {
    port: server.address().port,
    close: () => new Promise((done) => {
      server.close(() => done());
      server.closeAllConnections();
    }),
  };
}

/**
 * Waits (bounded) until the built package and the compiled example exist,
 * since another build may be replacing them right now, and resolves to a
 * fingerprint of the build the servers will run (all of dist/esm/*.js).
 */
export async function waitForBuild(log, timeoutMs = 120_000) {
  const deadline = now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      if (![BUILT, SERVER, CLI].every((file) => existsSync(file))) throw new Error('missing');
      const dir = join(ROOT, 'dist', 'esm');
      const files = readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => join(dir, f));
      return fingerprint(files);
    } catch (e) {
      if (now() > deadline) throw new Error(`${BUILT}, ${CLI} or ${SERVER} still missing or changing after ${timeoutMs / 1000} s: ${e.message}`);
      if (!told) log('dist/ or the compiled example is missing (a build in progress?); waiting for it');
      told = true;
      await pause(1_000);
    }
  }
}

/** N copies of the README's Express example and their master-list store. */
export class ShazbotFleet {
  name = 'shazbot';
  /** The Serf side needs its seed up before the others join; this one has the store. */
  seedFirst = false;
  /** @type {Child[]} */
  children = [];
  /** Base URL of each node: how the lists name them. */
  ids = [];
  #ports = [];
  #env;
  #store;
  #dir;
  #controlSecret = randomBytes(24).toString('base64url');
  #agent = newAgent();

  /** @param {number} size @param {import('./netns.mjs').PortAllocator} ports */
  constructor(size, ports) {
    this.size = size;
    this.portAllocator = ports;
  }

  /** Allocates ports and starts a fresh store on 127.0.0.1 in a fresh folder. */
  async prepare() {
    this.#dir = await mkdtemp(join(tmpdir(), 'clustershazbot-bench-peers-'));
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
    for (let i = 0; i < this.size; i++) {
      this.#ports.push(await this.portAllocator.take());
      this.ids.push(`http://${NODE_HOST}:${this.#ports[i]}/`);
    }
    this.#env = {
      PATH: process.env.PATH,
      SHAZBOT_SECRET: randomBytes(24).toString('base64url'),
      SHAZBOT_CONTROL_SECRET: this.#controlSecret,
      SHAZBOT_MASTER_LIST: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE: storeUrl,
      SHAZBOT_MASTER_LIST_UPDATE_AUTH: storeAuth,
    };
  }

  /** Starts node `i`. */
  spawn(i) {
    this.children[i] = new Child(`shazbot n${i}`, process.execPath, [SERVER], {
      cwd: FIXTURE,
      env: { ...this.#env, PORT: String(this.#ports[i]), SHAZBOT_BASE_URL: this.ids[i] },
    });
  }

  /** Resolves if node `i` is up (its list route answers 200), throws otherwise. */
  async up(i, timeoutMs) {
    await pollList(this.#ports[i], this.#controlSecret, timeoutMs, this.#agent);
  }

  /** Node `i`'s view: Map(id → status), 'alive' meaning listed online. */
  async view(i, timeoutMs) {
    return await pollList(this.#ports[i], this.#controlSecret, timeoutMs, this.#agent);
  }

  /** Closes the harness's idle connections to the nodes (before a rest window: no harness packets in it). */
  quiet() {
    this.#agent.destroy();
    this.#agent = newAgent();
  }

  /** SIGKILLs every process (nodes and store), waits for them, removes the folder. */
  async stop() {
    this.#agent.destroy();
    await Promise.all([...this.children, this.#store].filter(Boolean).map((c) => c.kill()));
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }
}
