// One clustershazbot process of `npm run bench:state`: plain node:http with
// the built package (configured by SHAZBOT_* variables, as
// test/helpers/chaos-server.mjs is), one replicated map `bench`, and the
// benchmark's control routes (bench/state/load.mjs): the harness tells it
// over HTTP to run its own write loop through `kv.set`, so the writes are
// made inside the process and HTTP is not in their path.
//
// Environment besides SHAZBOT_*: PORT (listens on every address of its
// network namespace), BENCH_WRITER (its number), BENCH_WORKERS (the fleet's
// size), BENCH_GID (optional: the group it switches to before opening any
// socket, so the harness can drop its packets with `meta skgid`).
import { createServer } from 'node:http';
import { createCluster, optionsFromEnv } from 'clustershazbot';
import { createRequestHandler } from 'clustershazbot/node';
import { Replica, controlRoutes } from './load.mjs';

if (process.env.BENCH_GID !== undefined) {
  process.setgroups?.([]);
  process.setgid(Number(process.env.BENCH_GID));
}

const replica = new Replica(Number(process.env.BENCH_WRITER), Number(process.env.BENCH_WORKERS));
const { options } = optionsFromEnv(process.env);
const cluster = createCluster(options);
const kv = cluster.state.map('bench', { maxKeys: 200_000 });
kv.on('change', (batch) => {
  for (const change of batch) {
    if (change.origin !== 'local') replica.remoteChange(change.value, change.origin);
  }
});

let started = false;
const control = controlRoutes(replica, {
  ready: async () => {
    const online = started ? cluster.online().length : 0;
    const ready = started && cluster.state.isReady();
    return { ready, online, size: kv.size };
  },
  write: (key, value, consistency, timeoutMs) => kv.set(key, value, { consistency, timeoutMs }),
  read: (key) => kv.get(key),
  size: () => kv.size,
  // The cluster's traffic so far: signed exchanges this process started, payload bytes, state pushes and repairs.
  counters: () => {
    const stats = cluster.stats();
    const state = cluster.info().extensions?.state;
    return {
      exchanges: stats.exchanges, exchange_failures: stats.exchangeFailures, bytes_out: stats.bytesOut, bytes_in: stats.bytesIn,
      pushes_sent: state?.pushes?.sent, repairs: state?.repairs?.repairs, repair_keys_received: state?.repairs?.keysReceived,
    };
  },
});
const routes = createRequestHandler({ cluster });
const server = createServer((req, res) => {
  control(req, res).then((answered) => (answered ? true : routes(req, res))).then(
    (handled) => {
      if (!handled) res.writeHead(404).end();
    },
    (e) => {
      console.error(e instanceof Error ? e.stack : String(e));
      if (!res.headersSent) res.writeHead(500).end();
    },
  );
});

server.listen(Number(process.env.PORT), () => {
  cluster.start().then(
    () => {
      started = true;
      return cluster.state.ready();
    },
  ).then(
    () => console.log(`bench-state worker ${replica.writer} ready`),
    (e) => {
      console.error(e instanceof Error ? e.stack : String(e));
      process.exit(1);
    },
  );
});

process.once('SIGTERM', () => {
  void cluster.shutdown().finally(() => process.exit(0));
});
