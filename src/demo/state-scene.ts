/**
 * The demo's replicated-state scene, after the membership scene: a value
 * written on one server appears on every live one (timed), then a server is
 * restarted gracefully while keys are written elsewhere, and its readiness
 * probe shows it reports ready only once it holds them all. Uses the demo
 * server's /demo/kv routes (demo-kv.ts) and GET clustershazbot/health/ready.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { DemoProcess } from './demo-processes.js';

/** What the scene needs of the demo. */
export interface StateSceneContext {
  /** The demo's servers; `restart` replaces an entry. */
  readonly servers: readonly DemoProcess[];
  /** Starts `server` again (same name, port, environment and state dir), in its place in `servers`; returns the new process. */
  restart(server: DemoProcess): DemoProcess;
  say(line?: string): void;
  /** Polls the servers and redraws the membership table. */
  show(): Promise<unknown>;
  /** Aborts when the demo stops: every wait and request of the scene ends. */
  readonly signal: AbortSignal;
}

/** Keys written while the restarted server is down. */
const KEYS_WHILE_DOWN = 200;
/** Period of the readiness probe of the restarted server. */
const PROBE_MS = 10;
/** Period of the polls that wait for the servers to hold something. */
const POLL_MS = 10;
const DEADLINE_MS = 60_000;
/** How long the restarted server gets to leave gracefully. */
const STOP_MS = 10_000;

interface KvSummary {
  size: number;
  ready: boolean;
  sizeWhenReady: number | null;
}

/** Runs the scene; rejects once `ctx.signal` aborts, or if something does not happen in time. */
export async function stateScene(ctx: StateSceneContext): Promise<void> {
  const { say, signal } = ctx;
  const live = (): DemoProcess[] => ctx.servers.filter((s) => !s.exited);
  const checkNoneDied = (): void => {
    if (ctx.servers.some((s) => s.exited && s.stoppedBy === undefined)) throw new Error('a demo server exited unexpectedly (see its output above)');
  };
  const request = (url: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<Response> =>
    fetch(url, { ...init, signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) });
  const put = async (s: DemoProcess, key: string, value: unknown): Promise<{ version: { t: number; replica: string }; acks: number }> => {
    const res = await request(`${s.base}demo/kv/${encodeURIComponent(key)}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value),
    });
    if (!res.ok) throw new Error(`PUT ${s.name} /demo/kv/${key} answered HTTP ${res.status}: ${await res.text()}`);
    return (await res.json()) as { version: { t: number; replica: string }; acks: number };
  };
  const summary = async (s: DemoProcess): Promise<KvSummary> => {
    const res = await request(`${s.base}demo/kv`, {}, 1_000);
    if (!res.ok) throw new Error(`GET ${s.name} /demo/kv answered HTTP ${res.status}`);
    return (await res.json()) as KvSummary;
  };
  /** Polls `test` every POLL_MS until it holds; says `==> what (N ms)` timed from `start`. */
  const until = async (what: string, test: () => Promise<boolean>, start = performance.now()): Promise<void> => {
    for (;;) {
      checkNoneDied();
      const ok = await test().catch(() => {
        signal.throwIfAborted();
        return false;
      });
      if (ok) {
        say(`==> ${what} (${Math.round(performance.now() - start)} ms)`);
        return;
      }
      if (performance.now() - start > DEADLINE_MS) throw new Error(`timed out waiting for: ${what}`);
      await delay(POLL_MS, undefined, { signal });
    }
  };

  // 1. A write on s1 reaches every live server.
  const s1 = ctx.servers[0]!;
  say(`\nReplicated state: every server declares shazbotMap('demo') and serves it at PUT /demo/kv/<key>, GET /demo/kv.`);
  say(`Writing "greeting" on ${s1.name}: PUT ${s1.base}demo/kv/greeting ...`);
  const written = await put(s1, 'greeting', { text: `hello from ${s1.name}` });
  const writtenAt = performance.now();
  const acks = `${written.acks} ack${written.acks === 1 ? '' : 's'}`;
  say(`  ${s1.name} answered: version ${written.version.t} of ${written.version.replica}, ${acks} (a local write; gossip spreads it)`);
  const holdsGreeting = async (s: DemoProcess): Promise<boolean> => {
    const res = await request(`${s.base}demo/kv/greeting`, {}, 1_000);
    if (!res.ok) return false;
    const entry = (await res.json()) as { version: { t: number } };
    return entry.version.t >= written.version.t;
  };
  await until(`every live server holds "greeting"`, async () => (await Promise.all(live().map(holdsGreeting))).every(Boolean), writtenAt);

  // 2. A restart: writes made while a server is down reach it before it reports ready.
  const target = live().at(-1)!;
  const writer = live().find((s) => s !== s1 && s !== target) ?? s1;
  say(`\nRestarting ${target.name}: SIGINT (graceful departure), then the same port, environment and state dir ...`);
  target.stoppedBy = `stopped by the scenario to restart it`;
  const stopStarted = performance.now();
  target.child.kill('SIGINT');
  const waited = new AbortController();
  const gone = await Promise.race([target.gone.then(() => true), delay(STOP_MS, false, { signal: AbortSignal.any([signal, waited.signal]) })]);
  waited.abort();
  signal.throwIfAborted();
  if (!gone) throw new Error(`${target.name} did not exit within ${STOP_MS / 1000} s of SIGINT`);
  say(`  ${target.name} exited (${target.exit ?? 'unknown status'}, ${Math.round(performance.now() - stopStarted)} ms)`);
  await ctx.show();

  say(`Writing ${KEYS_WHILE_DOWN} keys through ${writer.name} while ${target.name} is down ...`);
  const writeStart = performance.now();
  let next = 1;
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = next++; i <= KEYS_WHILE_DOWN; i = next++) await put(writer, `key-${String(i).padStart(3, '0')}`, { n: i, via: writer.name });
  }));
  const writtenAll = performance.now();
  const expected = (await summary(writer)).size;
  say(`  ${writer.name} took them in ${Math.round(writtenAll - writeStart)} ms and holds ${expected} keys`);
  await until(`every live server holds ${expected} keys`, async () =>
    (await Promise.all(live().map(summary))).every((k) => k.size === expected), writtenAll);

  signal.throwIfAborted();
  const spawnedAt = performance.now();
  const restarted = ctx.restart(target);
  say(`started ${restarted.name} again at ${restarted.base}; probing GET ${restarted.base}clustershazbot/health/ready every ${PROBE_MS} ms ...`);
  const probes = { refused: 0, unready: 0, failed: 0 };
  for (;;) {
    checkNoneDied();
    const sent = performance.now();
    const status = await request(`${restarted.base}clustershazbot/health/ready`, {}, 1_000).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
      (e: unknown) => {
        signal.throwIfAborted();
        return (e as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED' ? 'refused' : 'failed';
      },
    );
    if (status === 200) break;
    if (status === 'refused') probes.refused++;
    else if (status === 503) probes.unready++;
    else probes.failed++;
    if (performance.now() - spawnedAt > DEADLINE_MS) throw new Error(`${restarted.name} was not ready after ${DEADLINE_MS / 1000} s (last probe: ${status})`);
    await delay(Math.max(0, PROBE_MS - (performance.now() - sent)), undefined, { signal });
  }
  const readyAfter = Math.round(performance.now() - spawnedAt);
  const held = await summary(restarted);
  const whenReady = held.sizeWhenReady;
  const before = [
    `${probes.unready} probes answered 503`,
    ...(probes.refused > 0 ? [`${probes.refused} found no server listening yet`] : []),
    ...(probes.failed > 0 ? [`${probes.failed} failed otherwise`] : []),
  ].join(', ');
  const holding = whenReady === expected ? `holding all ${expected} keys`
    : whenReady === null ? `(it did not say how many keys it held then; ${held.size} of ${expected} now)`
      : `holding only ${whenReady} of ${expected} keys (${held.size} now)`;
  say(`==> ${restarted.name} was not ready for ${readyAfter} ms (${before}), then ready ${holding}`);
  await ctx.show();
}
