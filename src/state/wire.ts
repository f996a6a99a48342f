/**
 * The replicated state's section of a gossip message (`ext.s.state`), and
 * its strict parsing: a section is untrusted input, validated field by field
 * before anything is applied. Fields (all optional):
 *
 * - `c`: changes in full: `{ m: { <map>: <encoded key states> }, n: { <counter>: <encoded counter> } }`
 * - `a`: 1 — acknowledge once applied (a 'majority' or 'all' write); the reply carries `ok: 1`
 * - `d`: the sender's state digest: the reply says `eq: 1` if ours is equal, else carries ours in `d`
 * - `op`: a repair or sync request, with its arguments (see repair.ts, join-sync.ts)
 */
import { MalformedError } from '../errors.js';
import { decodeCounter, decodeKeyStates, encodeCounter, encodeKeyStates } from './codec.js';
import type { CounterState } from './counter-state.js';
import { MAP_NAME, type MapSlot } from './map-slot.js';
import type { KeyState } from './register.js';
import type { JsonValue } from './types.js';

/** Decoding limits of one section. */
export interface SectionLimits {
  readonly maxItems: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

/** Changes of a section, decoded. */
export interface Changes {
  readonly maps: Map<string, Array<[string, KeyState<JsonValue>]>>;
  readonly counters: Map<string, CounterState>;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Decodes `c`; throws MalformedError or TooLargeError. */
export function decodeChanges(raw: unknown, limits: SectionLimits): Changes {
  if (!isRecord(raw)) throw new MalformedError('state.c: must be an object');
  const maps = new Map<string, Array<[string, KeyState<JsonValue>]>>();
  const counters = new Map<string, CounterState>();
  let items = 0;
  if (raw['m'] !== undefined) {
    if (!isRecord(raw['m'])) throw new MalformedError('state.c.m: must be an object');
    for (const [name, wire] of Object.entries(raw['m'])) {
      if (!MAP_NAME.test(name)) throw new MalformedError('state.c.m: invalid map name');
      const decoded = decodeKeyStates(wire, { ...limits, maxItems: Math.max(0, limits.maxItems - items) }) as Array<[string, KeyState<JsonValue>]>;
      items += decoded.length;
      maps.set(name, decoded);
    }
  }
  if (raw['n'] !== undefined) {
    if (!isRecord(raw['n'])) throw new MalformedError('state.c.n: must be an object');
    for (const [name, wire] of Object.entries(raw['n'])) {
      if (!MAP_NAME.test(name)) throw new MalformedError('state.c.n: invalid counter name');
      counters.set(name, decodeCounter(wire, { maxReplicas: 100_000 }));
    }
  }
  return { maps, counters };
}

/** Encodes changes for `c`. */
export function encodeChanges(maps: ReadonlyMap<string, Iterable<[string, KeyState<JsonValue>]>>, counters: ReadonlyMap<string, CounterState>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (maps.size > 0) {
    const m: Record<string, unknown> = {};
    for (const [name, items] of maps) m[name] = encodeKeyStates(items);
    out['m'] = m;
  }
  if (counters.size > 0) {
    const n: Record<string, unknown> = {};
    for (const [name, s] of counters) n[name] = encodeCounter(s);
    out['n'] = n;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A string field of at most `max` characters, or undefined. */
export function optionalString(obj: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = obj[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new MalformedError(`state.${field}: must be a string of at most ${max} characters`);
  return v;
}

/** An array of integers in [0, below), at most `max` of them. */
export function intList(obj: Record<string, unknown>, field: string, below: number, max: number): number[] {
  const v = obj[field];
  if (!Array.isArray(v) || v.length > max || !v.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) < below)) {
    throw new MalformedError(`state.${field}: must be at most ${max} integers in [0, ${below})`);
  }
  return v as number[];
}

/** A rough upper bound of a key state's encoded size, for chunk budgets. */
export function approxBytes(key: string, s: KeyState<JsonValue>): number {
  let n = key.length + 16;
  for (const w of s.writes) n += w.bytes + 48;
  if (s.del !== undefined) n += 48;
  return n;
}

/**
 * The key states of `leaves`, in order, while they fit in `budget` bytes
 * (one leaf always goes, however large: a leaf is never split). `taken` is
 * how many leaves were used; the caller continues from there. Repairs, join
 * sync chunks and their answers all cut messages this way.
 */
export function collectLeaves(slot: MapSlot | undefined, leaves: Iterable<number>, budget: number): { items: Array<[string, KeyState<JsonValue>]>; taken: number } {
  const items: Array<[string, KeyState<JsonValue>]> = [];
  let bytes = 0;
  let taken = 0;
  for (const leaf of leaves) {
    const entries = slot?.state.leafEntries(leaf) ?? [];
    const size = entries.reduce((n, [k, s]) => n + approxBytes(k, s), 0);
    if (taken > 0 && bytes + size > budget) break;
    bytes += size;
    items.push(...entries);
    taken++;
  }
  return { items, taken };
}
