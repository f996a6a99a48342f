// One server of bench:state's `join` section (bench/state/join.mjs): plain
// node:http with the built package, configured by SHAZBOT_* variables, one
// replicated map `join`, listening on 127.0.0.1:PORT.
//
// Routes besides the package's own (/clustershazbot/...):
//   POST /bench/fill {from, count}  writes keys join:<from> .. join:<from+count-1>
//                                   (256-byte values) here, consistency local
//   GET  /bench/status              {ready, size, online, pending, bytesIn, bytesOut,
//                                   tcpIn, tcpInHarness, times, sync}
//
// tcpIn: bytes this process read from every TCP connection (its server's and
// its clients': requests it received, replies it read), headers included,
// except connections from the harness, which connects from HARNESS_ADDR
// (127.0.0.2) so that its polls are not counted. times: Date.now() when the
// process started, when the package was imported, when it listened, when
// the cluster had started and when the state was ready.
//
// Environment besides SHAZBOT_*: PORT, JOIN_MAX_KEYS (the map's maxKeys),
// HARNESS_ADDR.
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setInterval } from 'node:timers';

const times = { process: Math.round(performance.timeOrigin) };
const HARNESS = process.env.HARNESS_ADDR ?? '127.0.0.2';

// Every socket of the process, counted from the start (before the package loads).
const live = new Set();
let closedIn = 0;
let harnessIn = 0;
const track = (socket, fromHarness) => {
  if (fromHarness) {
    socket.once('close', () => (harnessIn += socket.bytesRead));
    return;
  }
  live.add(socket);
  socket.once('close', () => {
    live.delete(socket);
    closedIn += socket.bytesRead;
  });
};
subscribe('net.client.socket', ({ socket }) => track(socket, false));
subscribe('net.server.socket', ({ socket }) => track(socket, socket.remoteAddress === HARNESS || socket.remoteAddress === `::ffff:${HARNESS}`));
const tcpIn = () => closedIn + [...live].reduce((n, s) => n + s.bytesRead, 0);

const { createCluster, optionsFromEnv } = await import('clustershazbot');
const { createRequestHandler } = await import('clustershazbot/node');
times.imported = Date.now();

const VALUE_BYTES = 256;
/** A value of exactly VALUE_BYTES ASCII characters, different for each n (the harness computes the same). */
const valueOf = (n) => `${n}:`.padEnd(VALUE_BYTES, 'abcdefghijklmnopqrstuvwxyz0123456789');

const { options } = optionsFromEnv(process.env);
const cluster = createCluster(options);
const kv = cluster.state.map('join', { maxKeys: Number(process.env.JOIN_MAX_KEYS ?? 200_000) });
const routes = createRequestHandler({ cluster });

async function fill(from, count) {
  const started = Date.now();
  const BATCH = 1_000;
  for (let i = from; i < from + count; i += BATCH) {
    const writes = [];
    for (let j = i; j < Math.min(from + count, i + BATCH); j++) writes.push(kv.set(`join:${j}`, valueOf(j), { consistency: 'local' }));
    await Promise.all(writes);
    // Let the pushes of this batch go out before the next one.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { written: count, ms: Date.now() - started };
}

function status() {
  const info = cluster.info();
  const state = info.extensions?.state;
  const stats = cluster.stats();
  return {
    ready: cluster.ready(),
    size: kv.size,
    online: cluster.online().length,
    pending: state?.pushes.pending ?? null,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
    tcpIn: tcpIn(),
    tcpInHarness: harnessIn,
    times,
    sync: state?.sync ?? null,
  };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const send = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

async function handle(req, res) {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === '/bench/status') return send(res, 200, status());
  if (req.method === 'POST' && path === '/bench/fill') {
    const { from, count } = await readBody(req);
    return send(res, 200, await fill(from, count));
  }
  if (await routes(req, res)) return;
  send(res, 404, { error: `no route ${req.method} ${path}` });
}

const server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(e instanceof Error ? e.stack : String(e));
    if (!res.headersSent) send(res, 500, { error: String(e?.message ?? e) });
    else res.end();
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  times.listening = Date.now();
  cluster.start().then(() => {
    times.started = Date.now();
    return cluster.state.ready();
  }).then(() => {
    times.ready = Date.now();
  }, (e) => {
    console.error(e instanceof Error ? e.stack : String(e));
    process.exit(1);
  });
});

process.once('SIGTERM', () => {
  void cluster.shutdown().finally(() => process.exit(0));
});
// A harness that died without cleaning up leaves this process to init: exit.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1_000).unref();
