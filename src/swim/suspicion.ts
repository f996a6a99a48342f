/**
 * Suspicion timeouts (SWIM's suspicion mechanism with Lifeguard's
 * confirmation-driven shrinking). A member that failed a direct and the
 * indirect probes is not declared failed at once: it becomes *suspect*, and
 * only when the suspicion timeout expires without a refutation is it
 * declared failed. Pure arithmetic; the engine owns the timers.
 */

/** Parameters of the suspicion timeout. */
export interface SuspicionTiming {
  /** Length of one probe period, ms. */
  probeIntervalMs: number;
  /** Multiplier of the minimum timeout (memberlist's SuspicionMult, default 4). */
  suspicionMult: number;
  /** The maximum timeout is this times the minimum (memberlist's SuspicionMaxTimeoutMult, default 6). */
  suspicionMaxMult: number;
  /**
   * Independent confirmations after which the timeout has shrunk to its
   * minimum (Lifeguard's K; memberlist uses IndirectChecks, default 3).
   */
  expectedConfirmations: number;
}

/**
 * Bounds of the suspicion timeout for a cluster of `n` members:
 * `min = suspicionMult × max(1, log10(n)) × probeIntervalMs` and
 * `max = suspicionMaxMult × min`, both rounded to whole ms.
 *
 * The log10(n) factor gives gossip about a refutation time to reach the
 * suspecting members, since dissemination takes O(log n) periods; it is
 * floored at 1 so small clusters still wait `suspicionMult` periods.
 * `n` below 1 (or not a number) counts as 1.
 */
export function suspicionBoundsMs(n: number, t: SuspicionTiming): { minMs: number; maxMs: number } {
  const scale = n >= 1 ? Math.max(1, Math.log10(n)) : 1;
  const min = t.suspicionMult * scale * t.probeIntervalMs;
  return { minMs: Math.round(min), maxMs: Math.round(t.suspicionMaxMult * min) };
}

/**
 * The suspicion timeout, in whole ms, once `confirmations` independent
 * members (other than the first suspector) have also reported the suspect:
 *
 *     timeout = max − (max − min) × log(c + 1) / log(k + 1), never below min
 *
 * with `c = confirmations` and `k = expectedConfirmations` (if k < 1 the
 * timeout is simply `min`). At c = 0 it is `max`; it falls
 * logarithmically and reaches `min` at c = k.
 *
 * The trade-off (Lifeguard, Dadgar et al. 2018): a long timeout protects a
 * slow-but-alive member from being declared failed by one overloaded or
 * partitioned suspector, at the cost of slow detection of real failures; each
 * independent confirmation makes a false positive less likely, so the timeout
 * can safely shrink towards the fast `min`. The first confirmations count the
 * most, hence the logarithm. The caller measures elapsed time from the start
 * of the suspicion and fires when elapsed ≥ the current timeout.
 */
export function suspicionTimeoutMs(n: number, confirmations: number, t: SuspicionTiming): number {
  const { minMs, maxMs } = suspicionBoundsMs(n, t);
  const k = t.expectedConfirmations;
  if (!(k >= 1)) return minMs;
  // Negative or NaN counts mean "no confirmation yet".
  const c = confirmations > 0 ? confirmations : 0;
  const fraction = Math.log(c + 1) / Math.log(k + 1);
  // fraction ≥ 1 once c ≥ k, which makes the raw value ≤ min: clamp to min.
  return Math.max(minMs, Math.round(maxMs - (maxMs - minMs) * fraction));
}
