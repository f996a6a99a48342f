/**
 * Versions of the replicated state and the hybrid logical clock that makes
 * them. A version `{t, replica}` is ordered by `t`, then by `replica` (plain
 * string comparison), so every replica orders any two versions the same way.
 */
import { MalformedError } from '../errors.js';
import type { Version } from './types.js';

/** Longest accepted replica name, in UTF-16 code units. */
export const MAX_REPLICA_LENGTH = 300;

/** Digits of Number.MAX_SAFE_INTEGER in base 36 ("2gosa7pa2gv"). */
const MAX_T36_DIGITS = 11;

/** Canonical base-36 text of a non-negative integer: no sign, no leading zero. */
const T36 = /^(?:0|[1-9a-z][0-9a-z]*)$/;

/** A lone UTF-16 surrogate: such strings have no UTF-8 form, so two of them could hash alike. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Total order of versions: negative if `a` < `b`, 0 if equal, positive if `a` > `b`. */
export function compareVersions(a: Version, b: Version): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.replica === b.replica) return 0;
  return a.replica < b.replica ? -1 : 1;
}

/** The greater of two versions; an undefined one loses to any version. Returns one of its arguments. */
export function maxVersion(a: Version | undefined, b: Version | undefined): Version | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}

/** True if both are undefined or both are the same version. */
export function versionEquals(a: Version | undefined, b: Version | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.t === b.t && a.replica === b.replica;
}

/** True for a non-negative safe integer. */
export function isVersionTime(t: unknown): t is number {
  return typeof t === 'number' && Number.isSafeInteger(t) && t >= 0;
}

/** True for a valid replica name: 1 to {@link MAX_REPLICA_LENGTH} characters, no lone surrogate. */
export function isReplicaName(r: unknown): r is string {
  return typeof r === 'string' && r.length > 0 && r.length <= MAX_REPLICA_LENGTH && !LONE_SURROGATE.test(r);
}

/**
 * Compact text of a version: `t` in base 36, a dot, the replica
 * (`"lx2kq7a1c.http://10.0.0.1:3000#k3x9"`). The replica may hold dots; the
 * first one separates. One text per version (see {@link parseVersion}).
 */
export function encodeVersion(v: Version): string {
  return v.t.toString(36) + '.' + v.replica;
}

/**
 * Reads {@link encodeVersion}'s text. Untrusted input: throws MalformedError
 * unless it is a string with canonical base-36 digits of a non-negative safe
 * integer, a dot, and a valid replica name (see {@link isReplicaName}).
 */
export function parseVersion(s: unknown): Version {
  if (typeof s !== 'string') throw new MalformedError('version: not a string');
  const dot = s.indexOf('.');
  if (dot < 1 || dot > MAX_T36_DIGITS) throw new MalformedError('version: expected <base-36 time>.<replica>');
  const digits = s.slice(0, dot);
  if (!T36.test(digits)) throw new MalformedError('version: time is not canonical base 36');
  const t = parseInt(digits, 36);
  if (!isVersionTime(t)) throw new MalformedError('version: time is not a safe integer');
  const replica = s.slice(dot + 1);
  if (!isReplicaName(replica)) throw new MalformedError(`version: replica must be 1 to ${MAX_REPLICA_LENGTH} characters`);
  return { t, replica };
}

/** The wall time of a version, in ms since the epoch. */
export function versionWallMs(v: Version): number {
  return Math.floor(v.t / 1000);
}

/**
 * A hybrid logical clock in microseconds: wall time × 1000, bumped past
 * every time it has issued or observed, so a replica's new version is
 * greater than every version it has seen even when wall clocks disagree.
 * Pure: the wall time comes from `nowMs`.
 */
export class HybridClock {
  #highest: number;

  /**
   * @param nowMs wall time in ms since the epoch (fractions are dropped after scaling)
   * @param highest the highest time issued or seen before (e.g. restored from disk). @default 0
   */
  constructor(
    private readonly nowMs: () => number,
    highest = 0,
  ) {
    if (!isVersionTime(highest)) throw new RangeError('HybridClock: highest must be a non-negative safe integer');
    this.#highest = highest;
  }

  /** A new time, greater than every time issued or observed: max(nowMs() × 1000, highest + 1). */
  next(): number {
    const wall = Math.floor(this.nowMs() * 1000);
    const t = wall > this.#highest ? wall : this.#highest + 1;
    if (!Number.isSafeInteger(t)) throw new RangeError('HybridClock: time past Number.MAX_SAFE_INTEGER');
    this.#highest = t;
    return t;
  }

  /**
   * Records a time seen in another replica's version, so later versions
   * issued here are greater. Times that are not non-negative safe integers
   * are ignored (validate untrusted input before; a far-future time from a
   * peer is the caller's to refuse).
   */
  observe(t: number): void {
    if (isVersionTime(t) && t > this.#highest) this.#highest = t;
  }

  /** The highest time issued or observed so far. */
  get highest(): number {
    return this.#highest;
  }
}
