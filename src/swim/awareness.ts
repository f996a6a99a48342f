import { ConfigError } from '../errors.js';

/**
 * Lifeguard's local health multiplier ("LHM"; memberlist's awareness).
 *
 * A member that is itself slow (CPU starved, paused by GC, network-degraded)
 * misreads its own slowness as other members failing and spreads false
 * suspicions. The score estimates how unhealthy *this* member is; the engine
 * scales its probe interval and probe timeout by `score + 1`, so an unhealthy
 * member probes less eagerly and waits longer before suspecting anyone.
 *
 * Raise the score (delta +1) when:
 * - a direct probe failed but an indirect probe of the same target
 *   succeeded (the target is fine; our own path or responsiveness is not);
 * - an indirect-probe helper failed to send the expected nack (we missed
 *   messages that should have arrived);
 * - we had to refute a suspicion about ourselves (others found us slow);
 * - a timer of ours fired noticeably late (we are not getting CPU).
 *
 * Lower it (delta −1) when a direct probe succeeds on time.
 */
export class Awareness {
  #score = 0;
  readonly #max: number;

  /** @param max the score stays in [0, max − 1] (memberlist's AwarenessMaxMultiplier, default 8); an integer ≥ 1. */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new ConfigError([`awareness max must be an integer >= 1, got ${max}`]);
    }
    this.#max = max;
  }

  /** Current score: 0 is healthy, `max − 1` is the worst. */
  get score(): number {
    return this.#score;
  }

  /** Adds `delta` (clamped to [0, max − 1], so deltas at a rail are absorbed) and returns the new score. */
  apply(delta: number): number {
    if (!Number.isFinite(delta)) return this.#score;
    // Non-integer deltas would make scale() return fractional ms; round them away.
    const next = this.#score + Math.round(delta);
    this.#score = next < 0 ? 0 : next > this.#max - 1 ? this.#max - 1 : next;
    return this.#score;
  }

  /** `ms × (score + 1)`: a timeout or interval stretched by our own ill health. */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
