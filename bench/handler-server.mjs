#!/usr/bin/env node
// The server process of `npm run bench:handler` (bench/handler.mjs starts it).
//
// One Express 5 app on 127.0.0.1 with, side by side:
//   - clustershazbotRouter() from dist/esm/adapters/express.js, serving one
//     cluster instance whose table already holds ENTRIES servers (restored
//     from a snapshot, the same list its master-list file names);
//   - POST /echo: express.json({ limit: 4 MiB }) then res.json(req.body),
//     the same 4 MiB limit as the router's default maxBodyBytes.
// The gossip and control secrets come from the environment
// (SHAZBOT_BENCH_SECRET, SHAZBOT_BENCH_CONTROL_SECRET). Timers are pushed
// beyond the run (probe and anti-entropy periods of 1e9 ms), and outbound
// gossip is refused at once and counted, so only the measured requests use
// the CPU. Prints one JSON line when ready ({ baseUrl, digest, entries,
// outbound }), one per `cpu` line on stdin, and one when stdin closes
// ({ digest, stats, outbound }); then it exits without telling anyone (which
// also writes a --cpu-prof profile).
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { clustershazbotRouter } from '../dist/esm/adapters/express.js';
import { createHttpTransport, createCluster, DEFAULTS, TransportError } from '../dist/esm/index.js';
import { parseServerList } from '../dist/esm/protocol/validate.js';

const ENTRIES = Number(process.env.SHAZBOT_BENCH_ENTRIES ?? '1000');
const secret = process.env.SHAZBOT_BENCH_SECRET;
const controlSecret = process.env.SHAZBOT_BENCH_CONTROL_SECRET;
if (!secret || !controlSecret || !Number.isInteger(ENTRIES) || ENTRIES < 30) {
  console.error('handler-server: set SHAZBOT_BENCH_SECRET, SHAZBOT_BENCH_CONTROL_SECRET and SHAZBOT_BENCH_ENTRIES (>= 30)');
  process.exit(2);
}
/** Far beyond any run, below setTimeout's limit even with 20 % jitter: no probe or anti-entropy round fires. */
const NEVER_MS = 1e9;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * A realistic list of `n` servers, this one first: 10 servers that left, 5
 * taken offline by an operator, 5 declared failed (with the claimant and its
 * clock), the rest online, one in 200 of them a monitor; versions spread
 * over the last hours, as in a long-running cluster.
 */
function serverList(self, n, now) {
  const online = [{ baseUrl: self, monitor: false, lastUpdate: now - 60_000 }];
  const offline = [];
  for (let i = 1; i < n; i++) {
    const baseUrl = `http://10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:3000/`;
    const lastUpdate = now - 3_600_000 - i * 7_919;
    if (i <= 10) offline.push({ baseUrl, monitor: false, lastUpdate, reason: 'left' });
    else if (i <= 15) offline.push({ baseUrl, monitor: false, lastUpdate, reason: 'admin' });
    else if (i <= 20) offline.push({ baseUrl, monitor: false, lastUpdate, reason: 'failed', by: self, downAt: lastUpdate + 30_000 });
    else online.push({ baseUrl, monitor: i % 200 === 0, lastUpdate });
  }
  return { online, offline };
}

/** The real transport for the master-list file; every gossip exchange refused at once, and counted. */
let outbound = 0;
const real = createHttpTransport();
const transport = {
  request(req) {
    if (req.url.startsWith('file:')) return real.request(req);
    outbound++;
    return Promise.reject(new TransportError('network', 'the benchmark server sends no gossip'));
  },
};

let cluster;
const app = express();
app.use(clustershazbotRouter({ cluster: () => cluster, maxBodyBytes: MAX_BODY_BYTES }));
app.post('/echo', express.json({ limit: MAX_BODY_BYTES }), (req, res) => {
  res.json(req.body);
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const baseUrl = `http://127.0.0.1:${server.address().port}/`;

const dir = mkdtempSync(join(tmpdir(), 'shazbot-bench-handler-'));
const now = Date.now();
const list = serverList(baseUrl, ENTRIES, now);
const listFile = join(dir, 'master-list.json');
writeFileSync(listFile, JSON.stringify(list));
cluster = createCluster({
  baseUrl, secret, controlSecret, masterListUrl: pathToFileURL(listFile).href,
  probeIntervalMs: NEVER_MS, gossipIntervalMs: NEVER_MS,
}, { transport, snapshot: parseServerList(list, now, DEFAULTS) });
await cluster.start();
console.log(JSON.stringify({ baseUrl, digest: cluster.digest(), entries: cluster.members().length, outbound }));

// Each line `cpu` on stdin is answered with this process's CPU time so far (µs, process.cpuUsage()).
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line === 'cpu') console.log(JSON.stringify(process.cpuUsage()));
});
commands.on('close', () => {
  console.log(JSON.stringify({ digest: cluster.digest(), stats: cluster.stats(), outbound }));
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
