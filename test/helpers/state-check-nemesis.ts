/**
 * The nemesis of `npm run check:state`: one fault at a time, drawn from a
 * seeded random source, each healed before the next:
 * - `partition`: a random 3/2 split (majority and minority);
 * - `bridge`: one instance sees both sides, which cannot see each other;
 * - `kill-keep` / `kill-wipe`: SIGKILL one instance and restart it with its
 *   state directory kept, or emptied (it comes back as a new replica), then
 *   wait until it reports ready;
 * - `pause`: SIGSTOP one instance for longer than the failure detector
 *   needs to declare it failed, then SIGCONT;
 * - `skew`: shift one instance's clock by a few seconds, then back.
 * Kinds are dealt from a shuffled bag, refilled when empty, so every kind
 * comes up about as often as the others.
 */
import { mkdir, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { randomBetween, randomInt, sample, type Random } from '../../src/core/random.js';
import type { StateNetwork } from './state-check-net.js';
import { setSkew, signal, startStateServer, untilReady, type Notes, type StateServer } from './state-check-fleet.js';

/** The kinds of fault. */
export const FAULT_KINDS = ['partition', 'bridge', 'kill-keep', 'kill-wipe', 'pause', 'skew'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault, as it happened. */
export interface NemesisEvent {
  readonly kind: FaultKind;
  /** What was done, e.g. `s1 s4 | s2 s3 s5`. */
  detail: string;
  /** When it started and when it was healed, ms since the epoch. */
  readonly at: number;
  healedAt?: number;
  /** What went wrong while injecting or healing it (e.g. a restart not ready in time). */
  problem?: string;
}

/** Timing of the nemesis, ms. */
export interface NemesisOptions {
  /** No fault starts unless it can be healed by then (ms since the epoch). */
  readonly until: number;
  /** At most this many faults. */
  readonly maxEvents: number;
  /** Pause between a heal and the next fault. */
  readonly gapMs: readonly [number, number];
  /** How long a partition or a skew lasts. */
  readonly holdMs: readonly [number, number];
  /** How long a killed instance stays down before its restart. */
  readonly downMs: readonly [number, number];
  /** How long a paused instance stays stopped: past the failure detector's verdict. */
  readonly pauseMs: number;
  /** Clock shift of a skew, in absolute value. */
  readonly skewMs: readonly [number, number];
  /** A restarted instance must report ready within this. */
  readonly readyMs: number;
  /** The kinds drawn from. @default every kind of {@link FAULT_KINDS} */
  readonly kinds?: readonly FaultKind[];
}

/** What the nemesis acts on. */
export interface NemesisTarget {
  readonly servers: readonly StateServer[];
  readonly network: StateNetwork;
  readonly notes: Notes;
  /** Stops the nemesis early (the run's deadline passed). */
  readonly aborted: () => boolean;
}

/** Longest a fault of `kind` is expected to take, ms, for the `until` rule. */
function expectedMs(kind: FaultKind, o: NemesisOptions): number {
  if (kind === 'pause') return o.pauseMs;
  if (kind === 'kill-keep' || kind === 'kill-wipe') return o.downMs[1] + 5_000;
  return o.holdMs[1];
}

const names = (servers: readonly StateServer[]): string => servers.map((s) => s.name).join(' ');

/** Empties `server`'s state directory (the directory itself stays). */
async function wipe(server: StateServer): Promise<void> {
  await rm(server.stateDir, { recursive: true, force: true });
  await mkdir(server.stateDir, { recursive: true });
}

/** Injects and heals one fault of `kind`; resolves once healed. */
async function inject(kind: FaultKind, event: NemesisEvent, t: NemesisTarget, random: Random, o: NemesisOptions): Promise<void> {
  const n = t.servers.length;
  const hold = (): Promise<void> => delay(randomBetween(random, o.holdMs[0], o.holdMs[1]));
  const victim = t.servers[randomInt(random, n)] as StateServer;
  switch (kind) {
    case 'partition':
    case 'bridge': {
      const order = sample(random, t.servers.map((_, i) => i), n);
      // partition: minority of ⌊n/2⌋, majority of the rest; bridge: order[0] sees both halves of the others.
      const groups = kind === 'partition'
        ? [order.slice(0, Math.floor(n / 2)), order.slice(Math.floor(n / 2))]
        : [order.slice(1, 1 + Math.floor((n - 1) / 2)), order.slice(1 + Math.floor((n - 1) / 2))];
      const label = groups.map((g) => names(g.map((i) => t.servers[i] as StateServer))).join(' | ');
      event.detail = kind === 'partition' ? label : `${t.servers[order[0] as number]?.name} bridges ${label}`;
      await t.network.split(groups);
      await hold();
      await t.network.heal();
      return;
    }
    case 'kill-keep':
    case 'kill-wipe': {
      event.detail = `${victim.name}${kind === 'kill-wipe' ? ', state directory emptied' : ', state directory kept'}`;
      const handle = victim.handle;
      if (handle === undefined || !handle.running) throw new Error(`${victim.name} was not running`);
      victim.killing = true;
      signal(victim, 'SIGKILL');
      await handle.exited;
      victim.killing = false;
      if (kind === 'kill-wipe') await wipe(victim);
      await delay(randomBetween(random, o.downMs[0], o.downMs[1]));
      startStateServer(victim, t.notes);
      try {
        const readyMs = await untilReady([victim], o.readyMs);
        event.detail += `; ready ${readyMs} ms after the restart`;
      } catch (e) {
        event.problem = `not ready after its restart: ${e instanceof Error ? e.message : String(e)}`;
      }
      return;
    }
    case 'pause':
      event.detail = `${victim.name} stopped for ${o.pauseMs} ms`;
      signal(victim, 'SIGSTOP');
      try {
        await delay(o.pauseMs);
      } finally {
        signal(victim, 'SIGCONT');
      }
      return;
    case 'skew': {
      const ms = Math.round(randomBetween(random, o.skewMs[0], o.skewMs[1])) * (random.float() < 0.5 ? -1 : 1);
      event.detail = `${victim.name} clock ${ms > 0 ? '+' : ''}${ms} ms`;
      await setSkew(victim, ms);
      try {
        await hold();
      } finally {
        await setSkew(victim, 0);
      }
      return;
    }
  }
}

/** Runs faults until `o.until` or `o.maxEvents`; resolves with every event once the last is healed. */
export async function runNemesis(t: NemesisTarget, random: Random, o: NemesisOptions): Promise<NemesisEvent[]> {
  const events: NemesisEvent[] = [];
  let bag: FaultKind[] = [];
  while (events.length < o.maxEvents && !t.aborted()) {
    await delay(randomBetween(random, o.gapMs[0], o.gapMs[1]));
    const kinds = o.kinds ?? FAULT_KINDS;
    if (bag.length === 0) bag = sample(random, kinds, kinds.length);
    const kind = bag.pop() as FaultKind;
    if (t.aborted() || Date.now() + expectedMs(kind, o) > o.until) break;
    const event: NemesisEvent = { kind, detail: '', at: Date.now() };
    events.push(event);
    try {
      await inject(kind, event, t, random, o);
    } catch (e) {
      event.problem = e instanceof Error ? e.message : String(e);
    }
    event.healedAt = Date.now();
  }
  return events;
}
