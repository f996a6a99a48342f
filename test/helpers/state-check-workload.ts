/**
 * The workload of `npm run check:state`: on every instance at once, writers
 * doing set, create, update and delete on a small key space (so that they
 * collide) and counter increments and decrements, all with
 * `consistency: 'majority'`, each operation recorded with its outcome.
 * Seeded: the same seed draws the same sequence of operations per writer
 * (what the faults then do to them is not reproducible to the millisecond).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { randomInt, seededRandom, type Random } from '../../src/core/random.js';
import { call, type Notes, type StateServer } from './state-check-fleet.js';
import type { CounterOp, KvOp, OpRecord, Version } from './state-check-verdict.js';

/** Shape of the workload. */
export interface WorkloadOptions {
  /** Keys `k0` … `k<keys-1>`. */
  readonly keys: number;
  /** Map writers per instance. */
  readonly kvWriters: number;
  /** Counter writers per instance. */
  readonly counterWriters: number;
  /** `timeoutMs` of each majority write. */
  readonly writeTimeoutMs: number;
  /** Pause after each operation, ms: leaves the two cores some room for the servers' own work. */
  readonly thinkMs: number;
}

/** Share of each map operation, in this order: set, update, create, delete. */
const KV_MIX: readonly [KvOp, number][] = [['set', 0.35], ['update', 0.25], ['create', 0.15], ['delete', 0.25]];
/** Extra time the client waits for an answer beyond the write's own timeout, ms. */
const ANSWER_SLACK_MS = 3_000;
/** Pause after an operation that found its instance down, ms (no busy loop against a dead port). */
const DOWN_PAUSE_MS = 250;

/** A running workload. */
export interface Workload {
  /** Every operation finished so far. */
  readonly history: readonly OpRecord[];
  /** Operations sent and not finished yet. */
  inFlight(): number;
  /** Stops every writer after its current operation; resolves once all have. */
  stop(): Promise<void>;
}

function pickKvOp(random: Random): KvOp {
  let x = random.float();
  for (const [op, share] of KV_MIX) {
    if (x < share) return op;
    x -= share;
  }
  return 'set';
}

const asVersion = (v: unknown): Version | undefined =>
  typeof v === 'object' && v !== null && typeof (v as Version).t === 'number' && typeof (v as Version).replica === 'string' ? (v as Version) : undefined;
const asSeen = (v: unknown): Version | null | undefined => (v === null ? null : asVersion(v));

/** Starts the writers on every one of `servers`. */
export function startWorkload(servers: readonly StateServer[], seed: number, options: WorkloadOptions): Workload {
  const history: OpRecord[] = [];
  let stopping = false;
  let inFlight = 0;
  const timeoutMs = options.writeTimeoutMs + ANSWER_SLACK_MS;
  const writeOptions = { consistency: 'majority', timeoutMs: options.writeTimeoutMs };

  const kvWriter = async (server: StateServer, w: number, random: Random): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      const id = `${server.name}.w${w}.${seq}`;
      const op = pickKvOp(random);
      const key = `k${randomInt(random, options.keys)}`;
      const start = Date.now();
      inFlight++;
      const r = await call(server, 'test/kv', { id, op, key, value: id, ...writeOptions }, timeoutMs);
      inFlight--;
      const body = r.body ?? {};
      const created = typeof body.created === 'boolean' ? body.created : undefined;
      history.push({
        id, node: server.name, op, key, start, end: Date.now(), outcome: r.outcome,
        ...(r.code === undefined ? {} : { code: r.code }),
        ...(asVersion(body.version) === undefined ? {} : { version: asVersion(body.version) }),
        ...(created === undefined ? {} : { created }),
        ...(asSeen(body.observed) === undefined ? {} : { observed: asSeen(body.observed) }),
        ...(asSeen(body.based) === undefined ? {} : { based: asSeen(body.based) }),
      });
      await delay(r.code === 'ECONNREFUSED' ? DOWN_PAUSE_MS : options.thinkMs);
    }
  };

  const counterWriter = async (server: StateServer, w: number, random: Random): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      const id = `${server.name}.c${w}.${seq}`;
      const op: CounterOp = random.float() < 0.75 ? 'increment' : 'decrement';
      const by = 1 + randomInt(random, 3);
      const start = Date.now();
      inFlight++;
      const r = await call(server, 'test/counter', { id, op, by, ...writeOptions }, timeoutMs);
      inFlight--;
      history.push({ id, node: server.name, op, by, start, end: Date.now(), outcome: r.outcome, ...(r.code === undefined ? {} : { code: r.code }) });
      await delay(r.code === 'ECONNREFUSED' ? DOWN_PAUSE_MS : options.thinkMs);
    }
  };

  // One independent stream of draws per writer, all derived from the seed.
  const writers = servers.flatMap((server, i) => [
    ...Array.from({ length: options.kvWriters }, (_, w) => kvWriter(server, w, seededRandom(seed + 1_000 * i + w + 1))),
    ...Array.from({ length: options.counterWriters }, (_, w) => counterWriter(server, w, seededRandom(seed + 1_000 * i + 500 + w))),
  ]);
  const all = Promise.all(writers);
  return {
    history,
    inFlight: () => inFlight,
    async stop() {
      stopping = true;
      await all;
    },
  };
}

/**
 * Completes the history with what the instances printed (`notes`): the
 * version a delete observed or an update was based on, for the operations
 * whose answer never came (the instance was killed or paused).
 */
export function withNotes(history: readonly OpRecord[], notes: Notes): OpRecord[] {
  return history.map((op) => {
    const note = notes.get(op.id);
    if (note === undefined) return op;
    if (op.op === 'delete' && op.observed === undefined && note.observed !== undefined) return { ...op, observed: note.observed };
    if (op.op === 'update' && op.based === undefined && note.based !== undefined) return { ...op, based: note.based };
    return op;
  });
}
