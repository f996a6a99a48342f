/**
 * Versions of member entries. A version is a timestamp in ms since the epoch
 * that also behaves like a hybrid logical clock (HLC) counter.
 */

/**
 * The version to stamp on an entry that replaces one whose highest known
 * version is `highestSeen`: `max(now, highestSeen + 1)`, or `now` when
 * nothing was seen.
 *
 * Like a hybrid logical clock, the result tracks wall-clock time when clocks
 * agree, yet is always strictly greater than every version seen before. So
 * skew between machines cannot make a live server's refutation lose: if a
 * peer whose clock runs ahead marks this server offline at version `v`, this
 * server, once it sees `v`, answers with at least `v + 1` and wins the merge.
 * It is used by a server stamping its own entry and by a server marking
 * another offline.
 */
export function nextVersion(now: number, highestSeen: number | undefined): number {
  if (highestSeen === undefined) return now;
  return Math.max(now, highestSeen + 1);
}
