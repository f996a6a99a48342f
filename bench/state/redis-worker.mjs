// One Redis pub/sub process of `npm run bench:state`: what Node services
// do today to keep a map in sync without a replicated store of their own.
// A local `Map`; each write is applied locally, then published on one
// channel (ioredis, default options); every process subscribes on a second
// connection and applies what the others publish (its own messages are
// skipped: it has applied them already). The same control routes and write
// loop as the clustershazbot worker (bench/state/load.mjs).
//
// Environment: PORT (control routes on 127.0.0.1), BENCH_WRITER,
// BENCH_WORKERS, BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_CHANNEL
// (unique per run; the benchmark touches no key and no other channel).
import { createServer } from 'node:http';
import Redis from 'ioredis';
import { Replica, controlRoutes, parseValue } from './load.mjs';

const writer = Number(process.env.BENCH_WRITER);
const channel = process.env.BENCH_CHANNEL;
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const replica = new Replica(writer, Number(process.env.BENCH_WORKERS));
const map = new Map();

const publisher = new Redis(url, { connectionName: `bench-state-pub-${writer}` });
const subscriber = new Redis(url, { connectionName: `bench-state-sub-${writer}` });
for (const [name, connection] of [['publisher', publisher], ['subscriber', subscriber]]) {
  connection.on('error', (e) => console.error(`${name}: ${e.message}`));
}

/** Probe messages (`?<writer>:<n>`) prove a subscription delivers; resolvers by probe. */
const probes = new Map();
let probeCount = 0;

subscriber.on('message', (_channel, message) => {
  if (message.startsWith('?')) {
    probes.get(message)?.();
    probes.delete(message);
    return;
  }
  const space = message.indexOf(' ');
  const key = message.slice(0, space);
  const value = message.slice(space + 1);
  if (parseValue(value)?.writer === writer) return;
  map.set(key, value);
  replica.remoteChange(value, 'remote');
});

/** Publishes a probe and resolves once this process's subscriber has received it (rejects after `ms`). */
async function probe(ms = 5_000) {
  const id = `?${writer}:${++probeCount}`;
  const received = new Promise((resolve, reject) => {
    probes.set(id, resolve);
    setTimeout(() => reject(new Error(`probe ${id} not received within ${ms} ms`)), ms).unref();
  });
  await publisher.publish(channel, id);
  await received;
}

let subscribed = false;
/** Whether a subscription is up and delivering (proved by a probe since the last cut). */
let delivering = false;
const control = controlRoutes(replica, {
  ready: async () => {
    if (subscribed && !delivering) {
      await probe(2_000);
      delivering = true;
    }
    return { ready: delivering, size: map.size };
  },
  write: (key, value) => {
    map.set(key, value);
    return publisher.publish(channel, `${key} ${value}`);
  },
  read: (key) => map.get(key),
  size: () => map.size,
  // The subscriber's connection dropped (ioredis: closed by hand, no reconnection until heal).
  cut: async () => {
    delivering = false;
    const closed = new Promise((resolve) => subscriber.once('end', resolve));
    subscriber.disconnect();
    await closed;
    return { status: subscriber.status };
  },
  // Reconnects; ioredis resubscribes by itself (autoResubscribe); resolves once a probe has come through.
  heal: async () => {
    const start = Date.now();
    await subscriber.connect();
    for (;;) {
      try {
        await probe(1_000);
        break;
      } catch (e) {
        if (Date.now() - start > 30_000) throw e;
      }
    }
    delivering = true;
    return { resubscribedMs: Date.now() - start };
  },
});

const server = createServer((req, res) => {
  control(req, res).then(
    (handled) => {
      if (!handled) res.writeHead(404).end();
    },
    (e) => {
      console.error(e instanceof Error ? e.stack : String(e));
      if (!res.headersSent) res.writeHead(500).end();
    },
  );
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  subscriber.subscribe(channel).then(
    () => {
      subscribed = true;
      console.log(`bench-state redis worker ${writer} subscribed to ${channel}`);
    },
    (e) => {
      console.error(`subscribe: ${e.message}`);
      process.exit(1);
    },
  );
});

process.once('SIGTERM', () => {
  publisher.disconnect();
  subscriber.disconnect();
  server.close();
  process.exit(0);
});
