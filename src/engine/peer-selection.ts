import type { Random } from '../core/random.js';
import { randomInt } from '../core/random.js';
import type { MemberEntry } from '../membership/entry.js';

/**
 * Chooses the partner of one anti-entropy exchange among the online peers
 * (self excluded), preferring monitors as the seed README asks, without
 * letting a handful of monitors absorb the whole cluster's gossip.
 *
 * The policy: a monitor is chosen with probability
 * `p = min(1/2, M·w / (M·w + R))`, where M is the number of online monitors,
 * R the number of other online peers and w = `monitorWeight`; otherwise a
 * non-monitor is chosen. Within each group the choice is uniform. So each
 * monitor is w times as likely as any other server to be picked, until the
 * monitors together would take more than half of the exchanges. With no
 * non-monitor peers a monitor is always chosen (p = 1).
 */
export function choosePeer(peers: readonly MemberEntry[], random: Random, monitorWeight: number): MemberEntry | undefined {
  const monitors: MemberEntry[] = [];
  const others: MemberEntry[] = [];
  for (const p of peers) (p.monitor ? monitors : others).push(p);
  const p = monitorProbability(monitors.length, others.length, monitorWeight);
  const group = random.float() < p ? monitors : others;
  return group.length === 0 ? undefined : group[randomInt(random, group.length)];
}

/** The probability that {@link choosePeer} picks a monitor, given M monitors and R other peers. */
export function monitorProbability(monitors: number, others: number, monitorWeight: number): number {
  if (monitors === 0) return 0;
  if (others === 0) return 1;
  const weighted = monitors * monitorWeight;
  return Math.min(0.5, weighted / (weighted + others));
}
