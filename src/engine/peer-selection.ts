import type { Random } from '../core/random.js';
import { randomInt } from '../core/random.js';

/**
 * Chooses the partner of one anti-entropy exchange among the up peers (self
 * excluded), preferring monitors as the seed README asks, without letting a
 * handful of monitors absorb the whole cluster's gossip.
 *
 * The policy: a monitor is chosen with probability
 * `p = min(1/2, M·w / (M·w + R))`, where M is the number of up monitors,
 * R the number of other up peers and w = `monitorWeight`; otherwise a
 * non-monitor is chosen. Within each group the choice is uniform. So each
 * monitor is w times as likely as any other server to be picked, until the
 * monitors together would take more than half of the exchanges. With no
 * non-monitor peers a monitor is always chosen (p = 1).
 *
 * @param peers every up peer, monitors included
 * @param monitors the up peers that are monitors (a subset of `peers`)
 */
export function choosePeer(peers: PeerPool, monitors: ReadonlySet<string>, random: Random, monitorWeight: number): string | undefined {
  const others = peers.size - monitors.size;
  const p = monitorProbability(monitors.size, others, monitorWeight);
  if (random.float() < p) {
    // Monitors are few: a linear pick over the set is cheap.
    let i = randomInt(random, monitors.size);
    for (const m of monitors) if (i-- === 0) return m;
  }
  if (others <= 0) return undefined;
  // Uniform over the non-monitors by rejection sampling: monitors are normally
  // a small share of the peers, so a few draws find one; the linear fallback
  // covers lists made mostly of monitors.
  for (let attempt = 0; attempt < 64; attempt++) {
    const pick = peers.pick();
    if (pick !== undefined && !monitors.has(pick)) return pick;
  }
  return peers.all().find((u) => !monitors.has(u));
}

/** The up peers, as {@link choosePeer} reads them: a large cluster's are not copied into an array per choice. */
export interface PeerPool {
  /** Number of up peers, monitors included. */
  readonly size: number;
  /** One up peer, uniformly at random (undefined only when there are none). */
  pick(): string | undefined;
  /** Every up peer; may cost O(n). */
  all(): readonly string[];
}

/** The probability that {@link choosePeer} picks a monitor, given M monitors and R other peers. */
export function monitorProbability(monitors: number, others: number, monitorWeight: number): number {
  if (monitors === 0) return 0;
  if (others === 0) return 1;
  const weighted = monitors * monitorWeight;
  return Math.min(0.5, weighted / (weighted + others));
}
