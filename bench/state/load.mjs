// What both kinds of bench:state worker share (bench/state/worker.mjs for
// clustershazbot, bench/state/redis-worker.mjs for Redis pub/sub): the
// workload (keys, 256-byte values carrying their write's wall time), the
// write loop, histograms, the replica's own bookkeeping, and the control
// routes the harness drives over HTTP (`/bench/...` on the worker's port).
//
// Keys: `k00000` … `k09999`. Worker w owns the keys whose number is
// ≡ w (mod its fleet size) and is their only writer, so every key's final
// value is the last one its owner wrote: what the owner's record says.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** Keys of the map. */
export const KEYS = 10_000;
/** Bytes (ASCII characters) of every value. */
export const VALUE_BYTES = 256;

/** The name of key number `i`. */
export const keyName = (i) => `k${String(i).padStart(5, '0')}`;

/**
 * A 256-character value: `<wall time ms>|<writer>|<seq>|` padded with dots.
 * `time` is the write's `Date.now()`.
 */
export function makeValue(time, writer, seq) {
  const head = `${time}|${writer}|${seq}|`;
  return head + '.'.repeat(VALUE_BYTES - head.length);
}

/** `{ time, writer, seq }` of a value made by {@link makeValue}, or undefined for anything else. */
export function parseValue(value) {
  if (typeof value !== 'string') return undefined;
  const [time, writer, seq] = value.split('|', 3);
  const parsed = { time: Number(time), writer: Number(writer), seq: Number(seq) };
  return Number.isFinite(parsed.time) && Number.isInteger(parsed.writer) && Number.isInteger(parsed.seq) ? parsed : undefined;
}

/**
 * Milliseconds in logarithmic buckets 1 % wide (values up to 0.01 ms in the
 * first). Mergeable: the harness adds up every worker's buckets.
 */
export class Histogram {
  static #GROWTH = Math.log(1.01);
  static #FLOOR = 0.01;
  static #SIZE = 2_400;
  #counts = new Float64Array(Histogram.#SIZE);
  count = 0;
  max = 0;

  add(ms) {
    const v = Math.max(0, ms);
    const index = v <= Histogram.#FLOOR ? 0 : Math.min(Histogram.#SIZE - 1, 1 + Math.floor(Math.log(v / Histogram.#FLOOR) / Histogram.#GROWTH));
    this.#counts[index]++;
    this.count++;
    if (v > this.max) this.max = v;
  }

  /** The upper bound of bucket `index`, ms. */
  static bound(index) {
    return index === 0 ? Histogram.#FLOOR : Histogram.#FLOOR * Math.exp(index * Histogram.#GROWTH);
  }

  /** Sparse form for JSON: `{ buckets: [[index, count], …], count, max }`. */
  toJSON() {
    const buckets = [];
    this.#counts.forEach((c, i) => {
      if (c > 0) buckets.push([i, c]);
    });
    return { buckets, count: this.count, max: this.max };
  }

  /** A histogram holding every sample of the given sparse forms. */
  static merge(forms) {
    const h = new Histogram();
    for (const form of forms) {
      for (const [i, c] of form.buckets) h.#counts[i] += c;
      h.count += form.count;
      h.max = Math.max(h.max, form.max);
    }
    return h;
  }

  /** The `q`-quantile (0 < q ≤ 1), ms: the upper bound of its bucket (never above the largest sample); undefined when empty. */
  quantile(q) {
    if (this.count === 0) return undefined;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(Histogram.bound(i), this.max);
    }
    return this.max;
  }
}

/**
 * The replica side of one worker: the lag of every change that came from
 * another replica, how many there were, and the record of its own writes.
 */
export class Replica {
  /** @param {number} writer this worker's number @param {number} workers the fleet's size */
  constructor(writer, workers) {
    this.writer = writer;
    this.workers = workers;
    this.lag = new Histogram();
    /** The same lags by the change's origin ('remote', 'sync', …). */
    this.lagByOrigin = {};
    /** Changes from elsewhere by origin. */
    this.origins = {};
    /** Changes from elsewhere in all (never reset): the harness watches it to see the replica settle. */
    this.changes = 0;
    /** Changes from elsewhere whose value the benchmark did not write (should stay 0). */
    this.foreign = 0;
    /** Key → seq of the last write this worker made to it. */
    this.record = new Map();
    this.seq = 0;
    this.ownKeys = [];
    for (let i = writer; i < KEYS; i += workers) this.ownKeys.push(keyName(i));
  }

  /** Records a change that came from another replica: `value` is the new value, `origin` where it came from. */
  remoteChange(value, origin) {
    const now = Date.now();
    this.changes++;
    this.origins[origin] = (this.origins[origin] ?? 0) + 1;
    const parsed = parseValue(value);
    if (parsed === undefined) {
      this.foreign++;
      return;
    }
    this.lag.add(now - parsed.time);
    (this.lagByOrigin[origin] ??= new Histogram()).add(now - parsed.time);
  }

  /** The next write of this worker: `{ key, value }`, its keys in turn; recorded as what the key should hold. */
  nextWrite() {
    const seq = ++this.seq;
    const key = this.ownKeys[seq % this.ownKeys.length];
    this.record.set(key, seq);
    return { key, value: makeValue(Date.now(), this.writer, seq) };
  }

  /**
   * Compares what this replica holds (`read(key)` → value) with `expected`
   * (key → `[writer, seq]`): keys whose value is not exactly the expected
   * write. Resolves to `{ missing, older, newer, sample }`.
   */
  compare(expected, read) {
    let missing = 0;
    let older = 0;
    let newer = 0;
    const sample = [];
    for (const [key, [writer, seq]] of Object.entries(expected)) {
      const held = parseValue(read(key));
      if (held !== undefined && held.writer === writer && held.seq === seq) continue;
      missing++;
      if (held === undefined || held.seq < seq) older++;
      else newer++;
      if (sample.length < 5) sample.push({ key, expected: `${writer}:${seq}`, held: held === undefined ? null : `${held.writer}:${held.seq}` });
    }
    return { missing, older, newer, sample };
  }
}

/**
 * The write loop: writes through `write(key, value)` (a promise) for
 * `durationMs`, keeping at most `maxInFlight` writes pending. With
 * `ratePerS` > 0 it issues writes on a schedule (open loop: a write is due
 * every 1/rate s whatever the acknowledgements do, bounded by the pending
 * cap); with 0 it issues as many as the cap allows on every turn of the
 * event loop, yielding to I/O in between (`setImmediate`), so the
 * replication traffic of the same process is served between batches.
 * Resolves once every issued write has settled (or `settleMs` after the
 * end), to `{ issued, acked, failed, errors, elapsedMs, ack, pendingAtEnd }`.
 */
export async function writeLoop({ durationMs, ratePerS, maxInFlight, settleMs }, next, write) {
  const ack = new Histogram();
  const errors = {};
  let issued = 0;
  let acked = 0;
  let failed = 0;
  let pending = 0;
  let idle;
  const start = performance.now();
  const end = start + durationMs;
  const issue = () => {
    const { key, value } = next();
    const t0 = performance.now();
    issued++;
    pending++;
    let promise;
    try {
      promise = Promise.resolve(write(key, value));
    } catch (e) {
      promise = Promise.reject(e);
    }
    promise.then(() => {
      acked++;
      ack.add(performance.now() - t0);
    }, (e) => {
      failed++;
      const code = e?.code ?? e?.name ?? 'Error';
      errors[code] = (errors[code] ?? 0) + 1;
      if (errors[code] === 1) errors[`${code}_first_message`] = String(e?.message ?? e).slice(0, 300);
    }).finally(() => {
      pending--;
      if (pending === 0) idle?.();
    });
  };
  await new Promise((resolve) => {
    const turn = () => {
      const t = performance.now();
      if (t >= end) return resolve();
      let room = maxInFlight - pending;
      if (ratePerS > 0) room = Math.min(room, Math.floor(((t - start) / 1000) * ratePerS) - issued);
      for (let k = 0; k < room; k++) issue();
      if (ratePerS > 0) setTimeout(turn, 1);
      else setImmediate(turn);
    };
    turn();
  });
  const elapsedMs = performance.now() - start;
  const pendingAtEnd = pending;
  if (pending > 0) {
    await new Promise((resolve) => {
      idle = resolve;
      setTimeout(resolve, settleMs).unref();
    });
  }
  return { issued, acked, failed, errors, elapsedMs, ack: ack.toJSON(), pendingAtEnd, unsettled: pending };
}

/** Reads a request's JSON body (empty: undefined). */
async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * The control routes, for a worker's HTTP server. `system` gives what
 * differs between systems: `ready()` → `{ ready, … }`, `write(key, value,
 * consistency, timeoutMs)` → promise, `read(key)` → value, `size()`, and
 * optionally `cut()` / `heal()` (Redis: the subscriber's connection) and
 * `counters()` (cumulative numbers, e.g. messages sent).
 * Resolves whether it answered `req`.
 *
 * - `GET /bench/ready` → 200 `{ ready: true, … }` once the replica is ready (503 before);
 * - `POST /bench/load` `{ durationMs, ratePerS, maxInFlight, consistency, timeoutMs }` → the write loop's result, when it is over;
 * - `POST /bench/lag/reset`, `GET /bench/lag` → `{ lag, lagByOrigin, origins, changes, foreign, loop }` (loop: event-loop delay p50/p99/max, ms);
 * - `GET /bench/record` → `{ key: [writer, seq] }` of this worker's writes;
 * - `POST /bench/compare` `{ key: [writer, seq] }` → `{ missing, older, newer, sample, changes, size }`;
 * - `GET /bench/changes` → `{ changes, seq, size }` (seq: writes this worker has made);
 * - `GET /bench/counters` → the system's own cumulative counters (`system.counters()`, if any: numbers);
 * - `POST /bench/cut`, `POST /bench/heal` (where the system has them).
 */
export function controlRoutes(replica, system) {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const routes = {
    'GET /bench/ready': async () => {
      const state = await system.ready();
      return [state.ready ? 200 : 503, state];
    },
    'POST /bench/load': async (body) => {
      const { durationMs, ratePerS = 0, maxInFlight = 64, consistency = 'local', timeoutMs = 5_000 } = body;
      const result = await writeLoop(
        { durationMs, ratePerS, maxInFlight, settleMs: timeoutMs + 2_000 },
        () => replica.nextWrite(),
        (key, value) => system.write(key, value, consistency, timeoutMs),
      );
      return [200, result];
    },
    'POST /bench/lag/reset': async () => {
      replica.lag = new Histogram();
      replica.lagByOrigin = {};
      replica.origins = {};
      loop.reset();
      return [200, {}];
    },
    'GET /bench/lag': async () => [200, {
      lag: replica.lag.toJSON(), origins: replica.origins, changes: replica.changes, foreign: replica.foreign,
      lagByOrigin: Object.fromEntries(Object.entries(replica.lagByOrigin).map(([o, h]) => [o, h.toJSON()])),
      // How late this process's event loop ran its timers since the reset (ms): time it could not serve anything.
      loop: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    }],
    'GET /bench/record': async () => [200, Object.fromEntries([...replica.record].map(([key, seq]) => [key, [replica.writer, seq]]))],
    'POST /bench/compare': async (body) => [200, { ...replica.compare(body, (key) => system.read(key)), changes: replica.changes, size: system.size() }],
    'GET /bench/counters': async () => [200, system.counters?.() ?? {}],
    'GET /bench/changes': async () => [200, { changes: replica.changes, seq: replica.seq, size: system.size() }],
    'POST /bench/cut': async () => {
      if (system.cut === undefined) return [404, { error: 'no cut here' }];
      return [200, (await system.cut()) ?? {}];
    },
    'POST /bench/heal': async () => {
      if (system.heal === undefined) return [404, { error: 'no heal here' }];
      return [200, (await system.heal()) ?? {}];
    },
  };
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (!path.startsWith('/bench/')) return false;
    const route = routes[`${req.method} ${path}`];
    let status;
    let body;
    try {
      if (route === undefined) [status, body] = [404, { error: `no route ${req.method} ${path}` }];
      else [status, body] = await route(await readJson(req));
    } catch (e) {
      [status, body] = [500, { error: e instanceof Error ? e.stack : String(e) }];
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  };
}
