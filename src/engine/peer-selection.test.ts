import { describe, expect, it } from 'vitest';
import { randomInt, seededRandom, type Random } from '../core/random.js';
import { choosePeer, monitorProbability, type PeerPool } from './peer-selection.js';

/** A PeerPool over an array. */
function poolOf(peers: readonly string[], random: Random): PeerPool {
  return { size: peers.length, pick: () => peers[randomInt(random, peers.length)], all: () => peers };
}

describe('monitor preference', () => {
  it.each([
    [0, 10, 8, 0],
    [1, 0, 8, 1],
    [1, 4, 8, 0.5], // 8/(8+4) = 2/3, capped at 1/2
    [1, 100, 8, 8 / 108],
    [2, 1000, 8, 16 / 1016],
  ])('M=%i monitors, R=%i others, w=%i: p=%f', (m, r, w, p) => {
    expect(monitorProbability(m, r, w)).toBeCloseTo(p, 12);
  });

  it('choosePeer follows the policy: each monitor w times as likely, uniform within groups', () => {
    const peers = Array.from({ length: 100 }, (_, i) => `http://p${i}.test/`);
    const monitors = new Set([peers[0]!, peers[1]!]);
    const random = seededRandom(5);
    const counts = new Map<string, number>();
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const u = choosePeer(poolOf(peers, random), monitors, random, 8)!;
      counts.set(u, (counts.get(u) ?? 0) + 1);
    }
    const p = monitorProbability(2, 98, 8); // 16/114
    const monitorShare = ((counts.get(peers[0]!) ?? 0) + (counts.get(peers[1]!) ?? 0)) / draws;
    expect(monitorShare).toBeGreaterThan(p - 0.01);
    expect(monitorShare).toBeLessThan(p + 0.01);
    // A monitor vs. an average non-monitor: about w = 8 times as often.
    const perMonitor = monitorShare / 2;
    const perOther = (1 - monitorShare) / 98;
    expect(perMonitor / perOther).toBeGreaterThan(7);
    expect(perMonitor / perOther).toBeLessThan(9);
  });

  it('returns undefined with no peers, and a monitor when only monitors are up', () => {
    const random = seededRandom(1);
    expect(choosePeer(poolOf([], random), new Set(), random, 8)).toBeUndefined();
    expect(choosePeer(poolOf(['http://m.test/'], random), new Set(['http://m.test/']), random, 8)).toBe('http://m.test/');
  });
});
