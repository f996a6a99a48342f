/**
 * The state of a PN-counter: per replica, the total it has added (`p`) and
 * subtracted (`n`), each only ever growing. The join takes the per-replica
 * maximum of each, so it is commutative, associative and idempotent; the
 * value is Σp − Σn. A delta is a state holding one replica's new totals.
 */

/** One replica's totals: non-negative safe integers. */
export interface CounterEntry {
  readonly p: number;
  readonly n: number;
}

/** A PN-counter's state: replica → totals. */
export type CounterState = ReadonlyMap<string, CounterEntry>;

/** The state of a counter nothing was added to. */
export const EMPTY_COUNTER: CounterState = new Map();

/**
 * The join of two counter states: per replica, the maximum `p` and the
 * maximum `n`. Returns `a` itself when the result equals `a`, so callers
 * detect "no change" by identity.
 */
export function mergeCounter(a: CounterState, b: CounterState): CounterState {
  let out: Map<string, CounterEntry> | undefined;
  for (const [replica, theirs] of b) {
    const mine = a.get(replica);
    if (mine !== undefined && mine.p >= theirs.p && mine.n >= theirs.n) continue;
    out ??= new Map(a);
    if (mine === undefined) out.set(replica, { p: theirs.p, n: theirs.n });
    else out.set(replica, { p: Math.max(mine.p, theirs.p), n: Math.max(mine.n, theirs.n) });
  }
  return out ?? a;
}

/** The counter's value: Σp − Σn. */
export function counterValue(s: CounterState): number {
  let v = 0;
  for (const e of s.values()) v += e.p - e.n;
  return v;
}

/** Checks `by` and the new total; throws RangeError. */
function grown(total: number, by: number): number {
  if (!Number.isSafeInteger(by) || by <= 0) throw new RangeError('counter: the amount must be a positive safe integer');
  const next = total + by;
  if (!Number.isSafeInteger(next)) throw new RangeError('counter: a total would pass Number.MAX_SAFE_INTEGER');
  return next;
}

/**
 * The delta of adding `by` (a positive safe integer) on `replica`:
 * `{[replica]: {p: p + by, n}}`. Throws RangeError for another `by` or a
 * total past Number.MAX_SAFE_INTEGER.
 */
export function incrementDelta(s: CounterState, replica: string, by: number): CounterState {
  const e = s.get(replica);
  return new Map([[replica, { p: grown(e?.p ?? 0, by), n: e?.n ?? 0 }]]);
}

/** The delta of subtracting `by` (a positive safe integer) on `replica`; see {@link incrementDelta}. */
export function decrementDelta(s: CounterState, replica: string, by: number): CounterState {
  const e = s.get(replica);
  return new Map([[replica, { p: e?.p ?? 0, n: grown(e?.n ?? 0, by) }]]);
}

/** True if both states hold the same totals. */
export function counterEquals(a: CounterState, b: CounterState): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [replica, x] of a) {
    const y = b.get(replica);
    if (y === undefined || x.p !== y.p || x.n !== y.n) return false;
  }
  return true;
}
