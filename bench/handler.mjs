#!/usr/bin/env node
// `npm run bench:handler [-- --entries 1000 --duration 10 --rounds 3 --warmup 3 --connections 8 --json]`
// Profiling: `-- --routes push --cpu-prof DIR` runs only the listed routes
// (echo, push, seed) and has the server write a V8 CPU profile into DIR.
//
// Throughput of a signed gossip exchange through Express against a bare
// Express route that parses and echoes the same body, in one run. The server
// (bench/handler-server.mjs, built code from dist/) runs in a child process;
// autocannon generates the load from this process over loopback.
//
// Two exchanges, each carrying the server's whole list (`--entries`, the
// very entries its table holds), signed per request with a fresh nonce and
// the current time, as a peer sends them:
//   - push: an anti-entropy push of an unchanged list (`digest`, `ping`,
//     `full`); the server merges it, finds nothing new and answers with its
//     digest and empty lists;
//   - seed: a seed-format exchange (no optional fields); the server merges
//     it and answers with its whole list, signed: a reply as large as the echo's.
// The echo route gets the push body's bytes (the seed body is the same
// without the optional fields). Runs alternate (echo, push, seed) × rounds
// after a warm-up of each; a run with any non-2xx answer, error or timeout
// is invalid and fails the benchmark. Besides req/s, each run records the
// server's CPU time per request, which other load on the machine disturbs
// far less. Prints a table, then one JSON line.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cryptoRandom } from '../dist/esm/index.js';
import { canonicalJson } from '../dist/esm/protocol/canonical-json.js';
import { makeNonce, signRequestCanonical } from '../dist/esm/protocol/signature.js';

const { values: opts } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8' },
    routes: { type: 'string', default: 'echo,push,seed' },
    'cpu-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const [ENTRIES, DURATION_S, ROUNDS, WARMUP_S, CONNECTIONS] = ['entries', 'duration', 'rounds', 'warmup', 'connections'].map((k) => Number(opts[k]));
const KINDS = opts.routes.split(',');
if (![ENTRIES, DURATION_S, ROUNDS, WARMUP_S, CONNECTIONS].every((n) => Number.isInteger(n) && n > 0)
  || KINDS.some((k) => !['echo', 'push', 'seed'].includes(k))) {
  console.error('--entries, --duration, --rounds, --warmup and --connections take positive integers; --routes a subset of echo,push,seed');
  process.exit(2);
}
const log = (...a) => {
  if (!opts.json) console.error(...a);
};

const secret = randomBytes(32).toString('base64url');
const controlSecret = randomBytes(32).toString('base64url');
const child = spawn(process.execPath, [
  ...(opts['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`]),
  new URL('./handler-server.mjs', import.meta.url).pathname,
], {
  env: { ...process.env, SHAZBOT_BENCH_SECRET: secret, SHAZBOT_BENCH_CONTROL_SECRET: controlSecret, SHAZBOT_BENCH_ENTRIES: String(ENTRIES) },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();

/** The server's next JSON line; fails if it exits first. */
async function nextLine() {
  const next = await lines.next();
  if (next.done) throw new Error('the server stopped early (its messages are above)');
  return JSON.parse(next.value);
}

/** The server's CPU time so far, in ms. */
async function serverCpuMs() {
  child.stdin.write('cpu\n');
  const { user, system } = await nextLine();
  return (user + system) / 1000;
}

try {
  const ready = await nextLine();
  const { baseUrl } = ready;
  const gossipUrl = `${baseUrl}clustershazbot/gossip`;
  const listRes = await fetch(`${baseUrl}clustershazbot/list`, { headers: { authorization: `Bearer ${controlSecret}` } });
  if (listRes.status !== 200) throw new Error(`GET list answered ${listRes.status}`);
  const { online, offline } = await listRes.json();
  if (online.length + offline.length !== ENTRIES) throw new Error(`the server lists ${online.length + offline.length} entries, not ${ENTRIES}`);
  const bodies = {
    push: { message: 'gossip', online, offline, digest: ready.digest, ping: true, full: true },
    seed: { message: 'gossip', online, offline },
  };
  // As a clustershazbot peer sends them: the canonical text, signed as it is sent.
  const texts = { push: canonicalJson(bodies.push), seed: canonicalJson(bodies.seed) };
  const sign = (body) => signRequestCanonical(secret, gossipUrl, texts[body === bodies.seed ? 'seed' : 'push'], Date.now(), makeNonce(cryptoRandom));
  await checkAnswers(baseUrl, bodies, texts, sign, ready.digest);

  /** One run of `kind` for `seconds`: req/s (2xx answers only) and CPU ms per request of the server and of this process. */
  const run = async (kind, seconds) => {
    const isEcho = kind === 'echo';
    const server0 = await serverCpuMs();
    const own0 = process.cpuUsage();
    const result = await autocannon({
      url: baseUrl,
      connections: CONNECTIONS,
      duration: seconds,
      requests: [{
        method: 'POST',
        path: isEcho ? '/echo' : '/clustershazbot/gossip',
        headers: { 'content-type': 'application/json' },
        // A Buffer: autocannon would encode a string body again for every request it re-signs.
        body: Buffer.from(isEcho ? texts.push : texts[kind]),
        ...(isEcho ? {} : {
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: sign(bodies[kind]) } }),
        }),
      }],
    });
    const own = process.cpuUsage(own0);
    const serverMs = (await serverCpuMs()) - server0;
    const bad = result.non2xx + result.errors + result.timeouts;
    if (bad > 0) throw new Error(`${kind}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts: the run is invalid`);
    const ok = result['2xx'];
    return { rps: ok / result.duration, p99ms: result.latency.p99, cpuMs: serverMs / ok, loadgenMs: (own.user + own.system) / 1000 / ok };
  };

  log(`[bench:handler] ${ENTRIES} entries, request body ${Buffer.byteLength(texts.push)} bytes; warm-up ${WARMUP_S} s each`);
  for (const kind of KINDS) await run(kind, WARMUP_S);
  const runs = Object.fromEntries(KINDS.map((k) => [k, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const kind of KINDS) {
      const m = await run(kind, DURATION_S);
      runs[kind].push(m);
      log(`[bench:handler] round ${r} ${kind}: ${m.rps.toFixed(0)} req/s; CPU ms/request: server ${m.cpuMs.toFixed(3)}, load generator ${m.loadgenMs.toFixed(3)}`);
    }
  }

  child.stdin.end();
  const final = await nextLine();
  if (child.exitCode === null) await once(child, 'exit'); // it writes its CPU profile first
  if (final.digest !== ready.digest) throw new Error('the server table changed during the run');
  if (final.outbound !== ready.outbound) throw new Error('the server sent gossip during the run');
  if (final.stats.signatureRejections !== 1) throw new Error(`the server rejected ${final.stats.signatureRejections - 1} signed requests unexpectedly`);

  const out = { entries: ENTRIES, body_bytes: Buffer.byteLength(texts.push), connections: CONNECTIONS, duration_s: DURATION_S, rounds: ROUNDS };
  for (const k of KINDS) {
    out[`${k}_rps`] = Math.round(median(runs[k].map((m) => m.rps)));
    out[`${k}_cpu_ms`] = round(median(runs[k].map((m) => m.cpuMs)), 3);
    out[`${k}_loadgen_cpu_ms`] = round(median(runs[k].map((m) => m.loadgenMs)), 3);
    out[`${k}_p99_ms`] = median(runs[k].map((m) => m.p99ms));
  }
  // The throughput ratio, and the ratio server CPU per request implies.
  const ratio = (k) => (out.echo_rps === undefined ? undefined : round(out[`${k}_rps`] / out.echo_rps, 2));
  const cpuRatio = (k) => (out.echo_cpu_ms === undefined ? undefined : round(out.echo_cpu_ms / out[`${k}_cpu_ms`], 2));
  for (const k of KINDS) {
    if (k === 'echo' || out.echo_rps === undefined) continue;
    out[`${k}_over_echo`] = ratio(k);
    out[`${k}_over_echo_by_cpu`] = cpuRatio(k);
  }
  Object.assign(out, { cores: os.cpus().length, node: process.version });
  if (!opts.json) {
    const cell = (v) => (v === undefined ? 'n/a' : v.toFixed(2));
    console.log([
      '| route | req/s (median) | each round | × echo | server CPU ms/request | × echo by CPU | p99 latency (ms) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...KINDS.map((k) => `| ${k} | ${fmt(out[`${k}_rps`])} | ${runs[k].map((m) => fmt(m.rps)).join(' / ')} | ${cell(ratio(k))} | ${out[`${k}_cpu_ms`].toFixed(3)} | ${cell(cpuRatio(k))} | ${out[`${k}_p99_ms`]} |`),
    ].join('\n'));
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`[bench:handler] ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  if (child.exitCode === null) child.kill();
}

/**
 * Before measuring: a signed push and a seed exchange answer 200 with a
 * signed reply (the whole list for the seed one), the same header sent again
 * is refused as a replay (401: each request must be signed afresh), and the
 * echo returns the body as sent.
 */
async function checkAnswers(baseUrl, bodies, texts, sign, digest) {
  const post = async (path, text, authorization) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST', body: text, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    });
    return { status: res.status, body: await res.json() };
  };
  const header = sign(bodies.push);
  const push = await post('clustershazbot/gossip', texts.push, header);
  if (push.status !== 200 || push.body.digest !== digest || typeof push.body.signature !== 'string' || push.body.online.length !== 0) {
    throw new Error(`a signed push answered ${push.status} ${JSON.stringify(push.body).slice(0, 200)}`);
  }
  const replay = await post('clustershazbot/gossip', texts.push, header);
  if (replay.status !== 401) throw new Error(`a replayed push answered ${replay.status}, not 401`);
  const seed = await post('clustershazbot/gossip', texts.seed, sign(bodies.seed));
  if (seed.status !== 200 || seed.body.online.length + seed.body.offline.length !== ENTRIES || seed.body.full !== true) {
    throw new Error(`a signed seed-format exchange answered ${seed.status} ${JSON.stringify(seed.body).slice(0, 200)}`);
  }
  const echo = await post('echo', texts.push);
  if (echo.status !== 200 || JSON.stringify(echo.body) !== texts.push) throw new Error(`the echo answered ${echo.status} with another body`);
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

function round(v, digits) {
  return Math.round(v * 10 ** digits) / 10 ** digits;
}

function fmt(v) {
  return Math.round(v).toLocaleString('en-US');
}
