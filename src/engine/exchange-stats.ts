/**
 * Per-peer exchange statistics over a recent window: the last exchange's
 * latency, the p99 latency, failures, and the recent series the dashboard
 * draws. Fed with every exchange this server starts (probes, pushes,
 * anti-entropy); read by the info view.
 *
 * Bounded twice: each peer keeps at most {@link SAMPLES_PER_PEER} samples,
 * none older than the window, and at most `maxPeers` peers are tracked (the
 * one updated least recently goes first), so memory stays below
 * `maxPeers` × {@link SAMPLES_PER_PEER} samples however large the fleet.
 */

/** Samples kept per peer: the p99 is over at most this many exchanges. */
export const SAMPLES_PER_PEER = 64;
/** How far back the statistics look: five minutes, about 120 probe periods at the defaults. */
export const EXCHANGE_WINDOW_MS = 300_000;
/** Samples of the recent series each summary carries (for the inline charts). */
export const RECENT_SAMPLES = 30;

/** One peer's exchanges in the window, as the info view shows them. */
export interface ExchangeSummary {
  /** Exchanges in the window (at most {@link SAMPLES_PER_PEER} per peer). */
  readonly samples: number;
  /** Of those, the ones that got no valid reply in time. */
  readonly failures: number;
  /** Latency of the last exchange, in ms (to its failure if it failed). */
  readonly lastMs: number;
  /** Whether the last exchange succeeded. */
  readonly lastOk: boolean;
  /** When the last exchange ended, on this server's clock (ms since the epoch). */
  readonly lastAt: number;
  /** p99 of the successful exchanges' latency in the window (nearest rank), or null if none succeeded. */
  readonly p99Ms: number | null;
  /** The last {@link RECENT_SAMPLES} exchanges, oldest first: latency in ms, or null for a failure. */
  readonly recentMs: readonly (number | null)[];
}

/** Every peer's exchanges in the window, taken together: the cluster at a glance. */
export interface ExchangeTotals {
  /** How far back the window reaches, in ms. */
  readonly windowMs: number;
  /** Peers with at least one exchange in the window. */
  readonly peers: number;
  readonly samples: number;
  readonly failures: number;
  /** p99 latency of all successful exchanges in the window, in ms, or null if none succeeded. */
  readonly p99Ms: number | null;
}

/**
 * The `q` quantile (0 < q ≤ 1) of `values` by the nearest-rank method: the
 * smallest value with at least `q` of the values at or below it. Undefined
 * for no values. Does not modify `values`.
 */
export function nearestRank(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** One peer's samples: a ring of the last {@link SAMPLES_PER_PEER}, grown as needed. */
class PeerSamples {
  readonly at: number[] = [];
  /** Latency in ms; negative for a failed exchange (its latency is -ms - 1). */
  readonly ms: number[] = [];
  /** Index of the oldest sample once the ring is full. */
  start = 0;

  add(at: number, ms: number, ok: boolean): void {
    const stored = ok ? ms : -ms - 1;
    if (this.at.length < SAMPLES_PER_PEER) {
      this.at.push(at);
      this.ms.push(stored);
      return;
    }
    this.at[this.start] = at;
    this.ms[this.start] = stored;
    this.start = (this.start + 1) % SAMPLES_PER_PEER;
  }

  /** The last sample's time. */
  lastAt(): number {
    return this.at[(this.start + this.at.length - 1) % this.at.length]!;
  }

  /** The stored latencies of samples at or after `since`, oldest first. */
  since(since: number): number[] {
    const out: number[] = [];
    const n = this.at.length;
    for (let k = 0; k < n; k++) {
      const i = (this.start + k) % n;
      if (this.at[i]! >= since) out.push(this.ms[i]!);
    }
    return out;
  }
}

/**
 * Exchange statistics of the peers this server talks to. Times come from the
 * caller (the engine's clock), so the same code runs in virtual time.
 */
export class ExchangeStats {
  readonly #windowMs: number;
  readonly #maxPeers: number;
  /** In order of last update, least recent first (a Map keeps insertion order). */
  readonly #peers = new Map<string, PeerSamples>();

  /**
   * @param windowMs how far back summaries look, in ms.
   * @param maxPeers most peers tracked at once; 0 tracks none.
   */
  constructor(windowMs: number, maxPeers: number) {
    this.#windowMs = windowMs;
    this.#maxPeers = Math.max(0, Math.floor(maxPeers));
  }

  /** Peers currently tracked. */
  get size(): number {
    return this.#peers.size;
  }

  /** Records one exchange with `peer` that ended at `at` after `ms`, successfully or not. */
  record(peer: string, at: number, ms: number, ok: boolean): void {
    if (this.#maxPeers === 0) return;
    let samples = this.#peers.get(peer);
    if (samples === undefined) samples = new PeerSamples();
    else this.#peers.delete(peer); // re-inserted below: most recent last
    samples.add(at, Math.max(0, ms), ok);
    this.#peers.set(peer, samples);
    // Evict beyond the bound, and peers whose newest sample left the window.
    for (const [url, s] of this.#peers) {
      if (this.#peers.size <= this.#maxPeers && s.lastAt() >= at - this.#windowMs) break;
      this.#peers.delete(url);
    }
  }

  /** Stops tracking `peer` (it left the membership table). */
  forget(peer: string): void {
    this.#peers.delete(peer);
  }

  /** `peer`'s exchanges in the window ending at `now`, or undefined if there are none. */
  summary(peer: string, now: number): ExchangeSummary | undefined {
    const samples = this.#peers.get(peer);
    if (samples === undefined) return undefined;
    return summarize(samples.since(now - this.#windowMs), samples.lastAt());
  }

  /** Every tracked peer's exchanges taken together, in the window ending at `now`. */
  totals(now: number): ExchangeTotals {
    const okMs: number[] = [];
    let peers = 0;
    let samples = 0;
    for (const s of this.#peers.values()) {
      const got = s.since(now - this.#windowMs);
      if (got.length === 0) continue;
      peers++;
      samples += got.length;
      for (const v of got) if (v >= 0) okMs.push(v);
    }
    return { windowMs: this.#windowMs, peers, samples, failures: samples - okMs.length, p99Ms: nearestRank(okMs, 0.99) ?? null };
  }
}

function decode(stored: number): number {
  return stored >= 0 ? stored : -stored - 1;
}

function summarize(stored: readonly number[], lastAt: number): ExchangeSummary | undefined {
  if (stored.length === 0) return undefined;
  const okMs = stored.filter((v) => v >= 0);
  const last = stored[stored.length - 1]!;
  return {
    samples: stored.length,
    failures: stored.length - okMs.length,
    lastMs: decode(last),
    lastOk: last >= 0,
    lastAt,
    p99Ms: nearestRank(okMs, 0.99) ?? null,
    recentMs: stored.slice(-RECENT_SAMPLES).map((v) => (v >= 0 ? v : null)),
  };
}
