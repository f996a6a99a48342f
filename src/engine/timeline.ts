/**
 * The membership timeline: what this server saw happen, newest last, in a
 * bounded buffer. {@link classifyChange} is the pure rule that turns one
 * change of the membership table into an event (or into nothing: version
 * bumps, monitor flags and renewed claims are not events); {@link Timeline}
 * keeps the last `capacity` events. The info view and the dashboard show it.
 */
import type { MemberEntry } from '../membership/entry.js';

/**
 * What happened to a server, as this server saw it:
 * - `up`: it became online in this view (first seen, refuted a suspicion, recovered, rejoined);
 * - `suspect`: it became suspected of having failed (it may still refute);
 * - `down`: it was declared failed (or offline for an unknown reason, by a seed-format peer);
 * - `left`: it shut down gracefully and said so;
 * - `operator-offline` / `operator-online`: an operator took it offline, or brought it back, through the control endpoint.
 */
export type TimelineKind = 'up' | 'suspect' | 'down' | 'left' | 'operator-offline' | 'operator-online';

/**
 * Why, as a stable code (texts for people are the dashboard's business):
 * - `started`: this server itself started;
 * - `first-seen`: a server this one had not known before;
 * - `refuted`: a suspect published a newer version of its own entry;
 * - `recovered`: a server declared failed is back with a newer version;
 * - `rejoined`: a server that had left (or was offline for an unknown reason) is back;
 * - `probe-failed`: this server's own direct and indirect probes got no answer;
 * - `suspicion-timeout`: this server's suspicion ran out without a refutation;
 * - `reported`: another server (`by`) raised the claim and this one learned it;
 * - `shutdown`: a graceful departure;
 * - `admin`: an operator's control request;
 * - `unknown`: offline without a reason (a seed-format peer said so).
 */
export type TimelineCause =
  | 'started' | 'first-seen' | 'refuted' | 'recovered' | 'rejoined'
  | 'probe-failed' | 'suspicion-timeout' | 'reported' | 'shutdown' | 'admin' | 'unknown';

/** One event of the timeline. */
export interface TimelineEvent {
  /** Position in this instance's timeline: 1, 2, 3, … (gaps mean events dropped by the bound). */
  readonly seq: number;
  /** When this server saw it, on its own clock (ms since the epoch). */
  readonly at: number;
  /** The server it is about (normalised base URL). */
  readonly baseUrl: string;
  /** Whether it is about this server itself. */
  readonly self: boolean;
  readonly kind: TimelineKind;
  readonly cause: TimelineCause;
  /** For claims (`suspect`, `down`): the server that raised it, when known. */
  readonly by?: string;
}

/** What {@link classifyChange} makes of a change: an event without its position and time. */
export type ClassifiedChange = Pick<TimelineEvent, 'kind' | 'cause' | 'by'>;

/**
 * The event a change of one table entry is, or undefined if it is not one.
 * `before`/`after` are the entry before and after (undefined: absent);
 * `selfUrl` is this server's base URL, which tells its own claims apart.
 *
 * Rules (table-tested in timeline.test.ts):
 * - removal (after absent), and a server first learned as already offline, are not events;
 * - a change that keeps the state (and, offline, the reason) is not one: version bumps,
 *   monitor flags and further confirmations of a suspicion;
 * - becoming online or suspect from absent/offline is `up` (or `operator-online` after `admin`);
 * - online → suspect is `suspect`; suspect → online is `up` (`refuted`);
 * - becoming offline, or changing the offline reason, is `down`, `left` or `operator-offline` by the reason.
 */
export function classifyChange(before: MemberEntry | undefined, after: MemberEntry | undefined, selfUrl: string): ClassifiedChange | undefined {
  if (after === undefined) return undefined;
  const self = after.baseUrl === selfUrl;
  if (after.state === 'offline') {
    if (before === undefined) return undefined;
    if (before.state === 'offline' && before.reason === after.reason) return undefined;
    switch (after.reason) {
      case 'left':
        return { kind: 'left', cause: 'shutdown' };
      case 'admin':
        return { kind: 'operator-offline', cause: 'admin' };
      case 'failed':
        return claim('down', after.by === selfUrl ? 'suspicion-timeout' : 'reported', after.by);
      default:
        return { kind: 'down', cause: 'unknown' };
    }
  }
  if (after.state === 'suspect' && before?.state !== 'offline') {
    if (before?.state === 'suspect') return undefined;
    return claim('suspect', after.by === selfUrl ? 'probe-failed' : 'reported', after.by);
  }
  // Now after is online, or suspect again right after being offline (it is back, with a newer version).
  if (before === undefined) return { kind: 'up', cause: self ? 'started' : 'first-seen' };
  if (before.state === 'online') return undefined;
  if (before.state === 'suspect') return { kind: 'up', cause: 'refuted' };
  if (before.reason === 'admin') return { kind: 'operator-online', cause: 'admin' };
  return { kind: 'up', cause: before.reason === 'failed' ? 'recovered' : 'rejoined' };
}

function claim(kind: 'suspect' | 'down', cause: TimelineCause, by: string | undefined): ClassifiedChange {
  return by === undefined ? { kind, cause } : { kind, cause, by };
}

/**
 * The last `capacity` events, oldest first. Recording is O(1) and allocates
 * one small object; the buffer never holds more than `capacity` events
 * (0 records nothing).
 */
export class Timeline {
  readonly #capacity: number;
  readonly #ring: TimelineEvent[] = [];
  /** Where the next event goes once the ring is full (the oldest event's slot). */
  #next = 0;
  #seq = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  /** The bound this timeline was made with. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Events recorded since creation, dropped ones included. */
  get recorded(): number {
    return this.#seq;
  }

  /** Adds an event seen at `at` about `baseUrl`. */
  record(at: number, baseUrl: string, self: boolean, change: ClassifiedChange): void {
    if (this.#capacity === 0) return;
    const event: TimelineEvent = { seq: ++this.#seq, at, baseUrl, self, ...change };
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(event);
      return;
    }
    this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** The events held, oldest first (a copy). */
  events(): TimelineEvent[] {
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
