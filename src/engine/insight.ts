/**
 * What the info view adds to the membership table for operators: the
 * timeline of membership events and the per-peer exchange statistics. It
 * watches the table and the exchanges from outside the protocol code (a
 * table listener and an exchange observer); nothing in it changes what the
 * server does.
 */
import type { Clock } from '../core/clock.js';
import type { MembershipTable } from '../membership/table.js';
import { EXCHANGE_WINDOW_MS, ExchangeStats, type ExchangeSummary, type ExchangeTotals } from './exchange-stats.js';
import { classifyChange, Timeline, type TimelineEvent } from './timeline.js';

/** The bounds of an {@link Insight}: `timelineSize` and `exchangeStatsPeers` of the configuration. */
export interface InsightLimits {
  readonly timelineSize: number;
  readonly exchangeStatsPeers: number;
}

/** The timeline and exchange statistics of one server. */
export class Insight {
  readonly #timeline: Timeline;
  readonly #exchanges: ExchangeStats;
  readonly #clock: Clock;

  /** Starts watching `table` (whose own server is `selfUrl`); times come from `clock`. */
  constructor(table: MembershipTable, clock: Clock, selfUrl: string, limits: InsightLimits) {
    this.#clock = clock;
    this.#timeline = new Timeline(limits.timelineSize);
    this.#exchanges = new ExchangeStats(EXCHANGE_WINDOW_MS, limits.exchangeStatsPeers);
    table.onEntryChange((before, after) => {
      const url = (after ?? before)!.baseUrl;
      if (after === undefined) this.#exchanges.forget(url);
      const event = classifyChange(before, after, selfUrl);
      if (event !== undefined) this.#timeline.record(clock.now(), url, url === selfUrl, event);
    });
  }

  /** An exchange observer (see `Cluster.observeExchanges`): records one exchange with `peer`, ended now. */
  readonly observeExchange = (peer: string, ms: number, ok: boolean): void => {
    this.#exchanges.record(peer, this.#clock.now(), ms, ok);
  };

  /** The events held, oldest first. */
  events(): TimelineEvent[] {
    return this.#timeline.events();
  }

  /** Exchanges with `peer` in the window ending at `now`, if any. */
  exchangesWith(peer: string, now: number): ExchangeSummary | undefined {
    return this.#exchanges.summary(peer, now);
  }

  /** Every peer's exchanges in the window ending at `now`. */
  exchangeTotals(now: number): ExchangeTotals {
    return this.#exchanges.totals(now);
  }
}
