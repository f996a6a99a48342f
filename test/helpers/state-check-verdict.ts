/**
 * The verdict of `npm run check:state`: from the history of every operation
 * the workload sent and the replicas' dumps after the heal, what was lost.
 * Pure (no I/O, no clock): state-check-verdict.test.ts proves it with
 * synthetic histories, including ones that must be flagged.
 *
 * What it holds the replicated state to (src/state/types.ts):
 * - versions are totally ordered (`t`, then `replica`), and a key holds the
 *   highest version written to it that no delete removed;
 * - a delete removes what it observed: every version up to the one it read
 *   just before deleting (`observed`); a newer concurrent write survives it
 *   (add-wins);
 * - an update carries the version it read (`based`): a delete that had seen
 *   that version wins over the update, however late it arrives;
 * - a write acknowledged by a majority is never rolled back.
 *
 * The checks, each sound against histories with unknown outcomes (a write
 * that timed out may or may not have spread):
 * - lost acknowledged write: an acked set, create (that created) or update W
 *   whose key is absent, or present with a version older than W's, although
 *   no delete at all (acked or not) observed a version ≥ W's cover (W's
 *   version; for an update, the version it was based on);
 * - resurrection: a key present with a version ≤ what an acknowledged delete
 *   of it observed, or present through an update based on a version ≤ that;
 * - value mismatch: a key whose value is not what the operation named by the
 *   value wrote with that version (every value written is its operation's id);
 * - blind delete: a delete that resolved with a version (so it removed
 *   something) although the key was absent when it was called: it acted on
 *   a state its caller was never shown;
 * - counter violation: a replica's final value outside
 *   [acked increments − attempted decrements, attempted increments − acked
 *   decrements], where attempted means acked or indeterminate;
 * - diverged replica: a dump that differs from the one most replicas agree on.
 */

/** A write's version, as the API reports it: ordered by `t`, then `replica`. */
export interface Version {
  readonly t: number;
  readonly replica: string;
}

/** Orders two versions: negative if `a` is older, 0 if equal, positive if newer. */
export function compareVersions(a: Version, b: Version): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  return a.replica === b.replica ? 0 : a.replica < b.replica ? -1 : 1;
}

/** Operations of the workload on the map. */
export type KvOp = 'set' | 'create' | 'update' | 'delete';
/** Operations of the workload on the counter. */
export type CounterOp = 'increment' | 'decrement';

/**
 * How an operation ended, as the client saw it:
 * - `acked`: it resolved (for 'majority', a majority holds it);
 * - `failed`: it certainly had no effect (connection refused, a 4xx answer
 *   such as NOT_FOUND);
 * - `indeterminate`: it may or may not have taken effect (WRITE_TIMEOUT,
 *   which is not rolled back; no answer in time; connection reset; 5xx).
 */
export type Outcome = 'acked' | 'failed' | 'indeterminate';

/** One operation of the history. */
export interface OpRecord {
  /** Unique; also the value a map write stores, so a final value names its writer. */
  readonly id: string;
  /** The instance it was sent to. */
  readonly node: string;
  readonly op: KvOp | CounterOp;
  /** Map operations: the key. */
  readonly key?: string;
  /** Counter operations: the amount. */
  readonly by?: number;
  /** When it was sent and when its outcome was known, ms since the epoch. */
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
  /** The error's `code` (or the transport error's) when not acked. */
  readonly code?: string;
  /** The version it created, when the answer carried one. */
  readonly version?: Version;
  /** `create`: whether this call made the entry (false: it existed, nothing was written). */
  readonly created?: boolean;
  /**
   * `delete`: the version the instance held just before deleting (null: the
   * key was absent, the delete did nothing). Undefined: the delete never
   * reached the map (no log line, no answer).
   */
  readonly observed?: Version | null;
  /** `update`: the version its function was applied to (undefined: unknown). */
  readonly based?: Version | null;
}

/** One entry of a dump. */
export interface DumpEntry {
  readonly key: string;
  readonly value: unknown;
  readonly version: Version;
  readonly writer?: string;
  readonly time?: number;
}

/** What one instance holds: every entry, the map's size and the counter's value. */
export interface Dump {
  readonly size: number;
  readonly counter: number;
  readonly entries: readonly DumpEntry[];
}

/** The outcome of {@link judge}. */
export interface Verdict {
  /** Acknowledged set, create (that created) and update operations. */
  readonly ackedWrites: number;
  readonly ackedDeletes: number;
  readonly ackedCounterOps: number;
  readonly lostAckedWrites: number;
  /** Keys whose deleted value came back. */
  readonly resurrections: number;
  readonly valueMismatches: number;
  /** Deletes that removed something although the key was absent when they were called. */
  readonly blindDeletes: number;
  /** Replicas whose final counter is out of bounds. */
  readonly counterViolations: number;
  /** Replicas whose dump differs from the majority's (or that gave none). */
  readonly divergedReplicas: number;
  readonly counter: { readonly lower: number; readonly upper: number; readonly final: number | undefined };
  /** Names of the replicas that agree with the reference dump. */
  readonly agreeing: readonly string[];
  /** One line per violation (the first few of each kind), with the operations involved. */
  readonly details: readonly string[];
}

/** At most this many detail lines per kind of violation. */
const DETAILS_PER_KIND = 10;

/** A dump in a canonical form: two replicas agree if and only if these are equal. */
export function canonicalDump(dump: Dump): string {
  const entries = [...dump.entries]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => [e.key, e.value, e.version.t, e.version.replica, e.writer ?? null, e.time ?? null]);
  return JSON.stringify({ size: dump.size, counter: dump.counter, entries });
}

/** What a write covers: a delete that observed at least this version removes it. */
function coverOf(op: OpRecord): Version | undefined {
  if (op.op === 'update' && op.based !== undefined && op.based !== null) return op.based;
  return op.version;
}

/** Whether `op` wrote something when acked. */
function isAckedWrite(op: OpRecord): boolean {
  if (op.outcome !== 'acked' || op.version === undefined) return false;
  if (op.op === 'set' || op.op === 'update') return true;
  return op.op === 'create' && op.created === true;
}

const showVersion = (v: Version | null | undefined): string => (v === undefined ? '?' : v === null ? 'absent' : `${v.t}/${v.replica}`);

/** One operation, for a detail line; times relative to `origin` in seconds. */
export function describeOp(op: OpRecord, origin: number): string {
  const at = `${((op.start - origin) / 1000).toFixed(3)}–${((op.end - origin) / 1000).toFixed(3)} s`;
  const extra = [
    op.version === undefined ? '' : ` v=${showVersion(op.version)}`,
    op.op === 'delete' ? ` observed=${showVersion(op.observed)}` : '',
    op.op === 'update' ? ` based=${showVersion(op.based)}` : '',
    op.op === 'create' && op.created !== undefined ? ` created=${op.created}` : '',
    op.code === undefined ? '' : ` ${op.code}`,
  ].join('');
  return `${op.id} ${op.op}${op.key === undefined ? '' : ` ${op.key}`}${op.by === undefined ? '' : ` ${op.by}`} on ${op.node} ${op.outcome}${extra} (${at})`;
}

/**
 * Judges a history against the replicas' dumps (`dumps`: name → dump, or
 * why there was none). The reference state is the dump most replicas agree
 * on (ties: the first replica's group in name order).
 */
export function judge(history: readonly OpRecord[], dumps: ReadonlyMap<string, Dump | string>): Verdict {
  const origin = history.reduce((min, op) => Math.min(min, op.start), Infinity);
  const show = (op: OpRecord): string => describeOp(op, Number.isFinite(origin) ? origin : op.start);
  const details: string[] = [];

  // The reference: the largest group of identical dumps.
  const groups = new Map<string, { names: string[]; dump: Dump }>();
  for (const name of [...dumps.keys()].sort()) {
    const dump = dumps.get(name);
    if (dump === undefined || typeof dump === 'string') continue;
    const canonical = canonicalDump(dump);
    const group = groups.get(canonical) ?? { names: [], dump };
    group.names.push(name);
    groups.set(canonical, group);
  }
  const reference = [...groups.values()].reduce<{ names: string[]; dump: Dump } | undefined>(
    (best, g) => (best === undefined || g.names.length > best.names.length ? g : best), undefined);
  const agreeing = reference?.names ?? [];
  const diverged = [...dumps.keys()].filter((name) => !agreeing.includes(name)).sort();
  for (const name of diverged) {
    const dump = dumps.get(name);
    if (details.length < DETAILS_PER_KIND) {
      details.push(typeof dump === 'string' || dump === undefined
        ? `diverged: ${name} gave no dump (${dump ?? 'missing'})`
        : `diverged: ${name} differs from ${agreeing.join(', ')}: ${differences(dump, reference?.dump)}`);
    }
  }

  const final = new Map((reference?.dump.entries ?? []).map((e) => [e.key, e]));
  const byId = new Map(history.map((op) => [op.id, op]));
  const deletesOf = new Map<string, OpRecord[]>();
  for (const op of history) {
    if (op.op !== 'delete' || op.key === undefined || op.observed === undefined || op.observed === null) continue;
    const list = deletesOf.get(op.key) ?? [];
    list.push(op);
    deletesOf.set(op.key, list);
  }

  // Blind deletes: a version means the delete found the key, `observed: null` that its caller did not.
  const blind = history.filter((op) => op.op === 'delete' && op.observed === null && op.version !== undefined);
  for (const d of blind.slice(0, DETAILS_PER_KIND)) details.push(`blind delete: ${show(d)} removed something (it has a version) although ${d.key} was absent when it was called`);
  const blindOf = (key: string): OpRecord[] => blind.filter((d) => d.key === key);

  // Lost acknowledged writes.
  const writes = history.filter(isAckedWrite);
  let lost = 0;
  for (const w of writes) {
    const key = w.key as string;
    const version = w.version as Version;
    const cover = coverOf(w) as Version;
    const removedBy = (deletesOf.get(key) ?? []).find((d) => compareVersions(d.observed as Version, cover) >= 0);
    if (removedBy !== undefined) continue;
    const entry = final.get(key);
    if (entry !== undefined && compareVersions(entry.version, version) >= 0) continue;
    lost++;
    if (details.filter((d) => d.startsWith('lost')).length < DETAILS_PER_KIND) {
      const holder = entry === undefined ? undefined : byId.get(String(entry.value));
      const deletes = (deletesOf.get(key) ?? []).slice(-3).map(show);
      const blinds = blindOf(key).slice(-3).map(show);
      details.push(`lost acked write: ${show(w)}; final: ${entry === undefined ? 'absent' : `v=${showVersion(entry.version)} by ${holder === undefined ? `unknown op ${JSON.stringify(entry.value)}` : show(holder)}`}` +
        `; deletes of ${key} (none observed ≥ ${showVersion(cover)}): ${deletes.length === 0 ? 'none' : deletes.join(' | ')}` +
        (blinds.length === 0 ? '' : `; blind deletes of ${key}: ${blinds.join(' | ')}`));
    }
  }

  // Resurrections and value mismatches.
  const ackedDeletes = history.filter((op) => op.op === 'delete' && op.outcome === 'acked');
  let resurrections = 0;
  let mismatches = 0;
  for (const entry of final.values()) {
    const writer = byId.get(String(entry.value));
    const killers = (deletesOf.get(entry.key) ?? []).filter((d) => d.outcome === 'acked');
    const byVersion = killers.find((d) => compareVersions(entry.version, d.observed as Version) <= 0);
    const basedOnDeleted = writer?.op === 'update' && writer.based !== undefined && writer.based !== null
      ? killers.find((d) => compareVersions(writer.based as Version, d.observed as Version) <= 0)
      : undefined;
    const killer = byVersion ?? basedOnDeleted;
    if (killer !== undefined) {
      resurrections++;
      if (details.filter((d) => d.startsWith('resurrection')).length < DETAILS_PER_KIND) {
        details.push(`resurrection: ${entry.key} present with v=${showVersion(entry.version)} (written by ${writer === undefined ? 'an unknown op' : show(writer)}) ` +
          `${byVersion !== undefined ? 'although' : 'through an update based on a version'} the acked delete ${show(killer)} observed ${showVersion(killer.observed)}`);
      }
    }
    const wrongVersion = writer?.version !== undefined && compareVersions(writer.version, entry.version) !== 0;
    if (writer === undefined || writer.key !== entry.key || wrongVersion) {
      mismatches++;
      if (details.filter((d) => d.startsWith('value mismatch')).length < DETAILS_PER_KIND) {
        details.push(`value mismatch: ${entry.key} = ${JSON.stringify(entry.value)} v=${showVersion(entry.version)}, but ${writer === undefined ? 'no operation wrote that value' : `that is ${show(writer)}`}`);
      }
    }
  }

  // The counter.
  const sum = (op: CounterOp, keep: (o: OpRecord) => boolean): number =>
    history.filter((o) => o.op === op && keep(o)).reduce((s, o) => s + (o.by ?? 1), 0);
  const acked = (o: OpRecord): boolean => o.outcome === 'acked';
  const attempted = (o: OpRecord): boolean => o.outcome !== 'failed';
  const lower = sum('increment', acked) - sum('decrement', attempted);
  const upper = sum('increment', attempted) - sum('decrement', acked);
  let counterViolations = 0;
  for (const [name, dump] of [...dumps.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (typeof dump === 'string' || (dump.counter >= lower && dump.counter <= upper)) continue;
    counterViolations++;
    details.push(`counter violation: ${name} holds ${dump.counter}, outside [${lower}, ${upper}]`);
  }

  return {
    ackedWrites: writes.length,
    ackedDeletes: ackedDeletes.length,
    ackedCounterOps: history.filter((o) => (o.op === 'increment' || o.op === 'decrement') && acked(o)).length,
    lostAckedWrites: lost,
    resurrections,
    valueMismatches: mismatches,
    blindDeletes: blind.length,
    counterViolations,
    divergedReplicas: diverged.length,
    counter: { lower, upper, final: reference?.dump.counter },
    agreeing,
    details,
  };
}

/** How `dump` differs from `reference`, briefly: size, counter and the first differing keys. */
function differences(dump: Dump, reference: Dump | undefined): string {
  if (reference === undefined) return 'no reference';
  const parts: string[] = [];
  if (dump.size !== reference.size) parts.push(`size ${dump.size} vs ${reference.size}`);
  if (dump.counter !== reference.counter) parts.push(`counter ${dump.counter} vs ${reference.counter}`);
  const theirs = new Map(dump.entries.map((e) => [e.key, e]));
  const ours = new Map(reference.entries.map((e) => [e.key, e]));
  const keys = [...new Set([...theirs.keys(), ...ours.keys()])].sort();
  const differing = keys.filter((k) => {
    const a = theirs.get(k);
    const b = ours.get(k);
    return a === undefined || b === undefined || canonicalDump({ size: 0, counter: 0, entries: [a] }) !== canonicalDump({ size: 0, counter: 0, entries: [b] });
  });
  if (differing.length > 0) {
    const one = (e: DumpEntry | undefined): string => (e === undefined ? 'absent' : `${JSON.stringify(e.value)}@${showVersion(e.version)}`);
    parts.push(`${differing.length} keys differ, e.g. ${differing.slice(0, 3).map((k) => `${k}: ${one(theirs.get(k))} vs ${one(ours.get(k))}`).join(', ')}`);
  }
  return parts.join('; ') || 'entry details (writer or time) differ';
}
