/**
 * Acknowledged writes ('majority' and 'all'). A write is applied here first,
 * then pushed directly to peers, which apply it and answer `ok`; the write
 * resolves once `needed` replicas (this one included) hold it. Writes made
 * within the same few milliseconds share one message per peer, so a burst
 * of majority writes costs a handful of round trips, not one per write.
 *
 * `needed` counts the servers listed up when the write is made: a majority
 * of them, or all of them. What it does not promise (docs/state.md): a
 * server that is up but not yet listed is not counted, and a majority
 * write is not linearizable — another replica may still read an older value.
 */
import type { MemberEntry } from '../membership/entry.js';
import type { CounterState } from './counter-state.js';
import type { KeyState } from './register.js';
import type { ReplicaCore } from './replica-core.js';
import type { JsonValue } from './types.js';
import { encodeChanges } from './wire.js';

interface Pending {
  /** Per map, per key: the key's state when the batch is sent (a key written twice in a batch travels once). */
  readonly keys: Map<string, Map<string, KeyState<JsonValue>>>;
  readonly counters: Map<string, CounterState>;
  readonly waiters: Array<(ok: boolean) => void>;
}

export class AckGatherer {
  /** Per peer, what the next direct push carries. */
  readonly #pending = new Map<string, Pending>();
  #scheduled = false;

  constructor(private readonly core: ReplicaCore) {}

  /**
   * Pushes a map key (or a counter) to peers until `needed - 1` of them
   * acknowledge, or `timeoutMs` passes. Resolves the number of replicas that
   * hold it (this one included).
   */
  gather(item: { map: string; key: string } | { counter: string }, needed: number, timeoutMs: number, everyone = false): Promise<number> {
    const peers = this.core.samplePeers(Number.MAX_SAFE_INTEGER);
    // `everyone`: the push to every peer is this one (the writer's ordinary push was withdrawn).
    const parallel = everyone ? peers.length : needed + 1;
    let acks = 1;
    if (acks >= needed) return Promise.resolve(acks);
    return new Promise<number>((resolve) => {
      let settled = false;
      let next = 0;
      let inFlight = 0;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        resolve(acks);
      };
      const launch = (): void => {
        while (next < peers.length && (everyone || (!settled && acks + inFlight < parallel))) {
          const peer = peers[next++]!;
          inFlight++;
          this.#send(peer, item).then((ok) => {
            inFlight--;
            if (ok) acks++;
            if (acks >= needed) finish();
            else if (next >= peers.length && inFlight === 0) finish();
            else launch();
          }, () => {
            inFlight--;
            launch();
          });
        }
      };
      this.core.host.after(timeoutMs, 'write acknowledgements', finish);
      launch();
    });
  }

  #send(peer: string, item: { map: string; key: string } | { counter: string }): Promise<boolean> {
    let p = this.#pending.get(peer);
    if (p === undefined) this.#pending.set(peer, (p = { keys: new Map(), counters: new Map(), waiters: [] }));
    if ('counter' in item) {
      const c = this.core.counters.get(item.counter);
      if (c !== undefined) p.counters.set(item.counter, c.state);
    } else {
      const s = this.core.slot(item.map, false)?.state.get(item.key);
      if (s !== undefined) {
        let keys = p.keys.get(item.map);
        if (keys === undefined) p.keys.set(item.map, (keys = new Map()));
        keys.set(item.key, s);
      }
    }
    const result = new Promise<boolean>((resolve) => p.waiters.push(resolve));
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.core.host.after(0, 'acknowledged push', () => this.#flush());
    }
    return result;
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = [...this.#pending];
    this.#pending.clear();
    for (const [peer, p] of batches) {
      // The current state of each key (it may have changed since it was queued).
      const maps = new Map([...p.keys].map(([map, keys]) => [map, [...keys.keys()].flatMap((k): Array<[string, KeyState<JsonValue>]> => {
        const s = this.core.slot(map, false)?.state.get(k);
        return s === undefined ? [] : [[k, s]];
      })]));
      const c = encodeChanges(maps, p.counters);
      this.core.host.spawn('acknowledged push', async () => {
        const reply = await this.core.host.exchange(peer, { c, a: 1 }, this.core.host.config.exchangeTimeoutMs);
        const ok = typeof reply === 'object' && reply !== null && (reply as Record<string, unknown>)['ok'] === 1;
        this.core.handleReplySection(reply, peer);
        for (const w of p.waiters) w(ok);
      });
    }
  }
}

/**
 * Acknowledgements a write needs, this replica included. 'all': every
 * server listed up. 'majority': a majority of the servers listed up *or
 * failed* (declared down by the failure detector, not left): during a
 * partition, the side that sees the other as failed is still counted
 * against the whole cluster, so a minority cannot acknowledge a majority
 * write to itself. Servers that left or were taken offline by an operator
 * do not count.
 */
export function acksNeeded(consistency: string, members: readonly MemberEntry[], upPeers: number, selfUrl: string): number {
  if (consistency === 'all') return upPeers + 1;
  if (consistency !== 'majority') return 1;
  let n = 0;
  for (const m of members) if (m.state !== 'offline' || m.reason === 'failed') n++;
  if (!members.some((m) => m.baseUrl === selfUrl)) n++;
  return Math.floor(Math.max(1, n) / 2) + 1;
}
