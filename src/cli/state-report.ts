/**
 * The replicated state in `status` and `watch`: read from the info view's
 * `extensions.state` (src/state/state-info.ts), validated field by field
 * (a server's answer is untrusted), and shown as a short table per map.
 */
import { sanitizeText } from './sanitize.js';

/** One map as `status` shows it. */
export interface StateMapRow {
  /** The map's name, with control characters removed. */
  readonly name: string;
  readonly keys: number;
  readonly bytes: number;
  readonly tombstones: number;
  /** Writes refused for passing a limit. */
  readonly rejected: number;
}

/** The replicated state of the queried server, as `status` shows it and `--json` prints it. */
export interface StateSummary {
  /** Whether its initial sync is verified. */
  readonly ready: boolean;
  /** The initial sync's outcome (pending, synced, alone, timed out). */
  readonly sync: string;
  /** Its maps, sorted by name. */
  readonly maps: readonly StateMapRow[];
}

/** Longest map name accepted from a server (the state allows 64). */
const MAX_NAME_CHARS = 256;
/** Most maps shown. */
const MAX_MAPS = 1_000;

type Fields = Record<string, unknown>;

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The state summary of an info answer's body, or undefined when it has
 * none, or one this CLI cannot read (it is optional: the servers are shown
 * anyway). Maps with a malformed field are left out.
 */
export function parseStateSummary(body: unknown): StateSummary | undefined {
  if (!isObject(body) || !isObject(body.extensions)) return undefined;
  const s = body.extensions.state;
  if (!isObject(s) || typeof s.ready !== 'boolean' || !Array.isArray(s.maps)) return undefined;
  const sync = isObject(s.sync) && typeof s.sync.outcome === 'string' ? sanitizeText(s.sync.outcome).slice(0, 32) : '?';
  const maps = s.maps.slice(0, MAX_MAPS).flatMap((m): StateMapRow[] => {
    if (!isObject(m) || typeof m.name !== 'string' || m.name.length === 0 || m.name.length > MAX_NAME_CHARS) return [];
    const { keys, bytes, tombstones, rejectedWrites } = m;
    if (!isCount(keys) || !isCount(bytes) || !isCount(tombstones) || !isCount(rejectedWrites)) return [];
    return [{ name: sanitizeText(m.name), keys, bytes, tombstones, rejected: rejectedWrites }];
  });
  maps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ready: s.ready, sync, maps };
}

/** 1,234 B, 12.3 KiB, 4.5 MiB, 1.2 GiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const HEADER = ['MAP', 'KEYS', 'BYTES', 'TOMBSTONES', 'REJECTED'] as const;

/**
 * The state as text: a line saying whether it is ready and how its sync
 * ended, then a table of its maps (names left-aligned, numbers right-aligned),
 * no trailing newline. Empty when it holds no map.
 */
export function formatStateTable(state: StateSummary): string {
  if (state.maps.length === 0) return '';
  const count = (n: number): string => n.toLocaleString('en');
  const cells = state.maps.map((m) => [m.name, count(m.keys), formatBytes(m.bytes), count(m.tombstones), count(m.rejected)]);
  const all = [[...HEADER], ...cells];
  const widths = HEADER.map((_, i) => Math.max(...all.map((line) => line[i]!.length)));
  const table = all.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
  const maps = `${state.maps.length} map${state.maps.length === 1 ? '' : 's'}`;
  return [`replicated state: ${state.ready ? 'ready' : 'not ready'} (initial sync: ${state.sync}), ${maps}`, ...table].join('\n');
}
