/**
 * Anti-entropy repair with one peer, when digests differ: compare the map
 * roots (and trade counters, which are small), then, per differing map, the
 * 64 top buckets, then the 64 leaves of each differing bucket, and finally
 * trade the key states of the differing leaves both ways in one exchange
 * per batch. Only what differs travels: at 100,000 keys a leaf holds about
 * 25 keys. Every reply is validated; a failed exchange ends the repair (the
 * next comparison starts another).
 */
import { DIGEST_FANOUT } from './map-digest.js';
import type { ReplicaCore } from './replica-core.js';
import { collectLeaves, encodeChanges, isRecord } from './wire.js';

/** Repairs started, by outcome, for info. */
export interface RepairStats {
  repairs: number;
  keysSent: number;
  keysReceived: number;
}

export class Repairer {
  readonly stats: RepairStats = { repairs: 0, keysSent: 0, keysReceived: 0 };

  constructor(private readonly core: ReplicaCore) {}

  async #ask(peer: string, section: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const reply = await this.core.host.exchange(peer, section, this.core.host.config.exchangeTimeoutMs);
    return isRecord(reply) ? reply : undefined;
  }

  /** Repairs every map and counter that differs from `peer`'s. Resolves whether it completed. */
  async repair(peer: string): Promise<boolean> {
    this.stats.repairs++;
    const counters = this.core.countersField();
    const r = await this.#ask(peer, { op: 'roots', ...(counters === undefined ? {} : { c: { n: counters } }) });
    if (r === undefined || !isRecord(r['roots'])) return false;
    this.core.handleReplySection(r, peer);
    const theirs = r['roots'];
    const names = new Set<string>(Object.keys(theirs));
    for (const slot of this.core.slots()) names.add(slot.name);
    for (const name of names) {
      const mine = this.core.slot(name, false)?.state.digest.root();
      const other = theirs[name];
      if (mine === other || (mine === undefined && other === '0:0000000000000000')) continue;
      if (!(await this.#repairMap(peer, name))) return false;
    }
    return true;
  }

  async #repairMap(peer: string, map: string): Promise<boolean> {
    const r1 = await this.#ask(peer, { op: 'l1', map });
    if (r1 === undefined || !Array.isArray(r1['l1'])) return false;
    const mine1 = this.#level1(map);
    const tops = diff(mine1, r1['l1']);
    if (tops.length === 0) return true;
    const r2 = await this.#ask(peer, { op: 'l2', map, b: tops });
    if (r2 === undefined || !Array.isArray(r2['l2'])) return false;
    const theirs2 = r2['l2'] as unknown[];
    const leaves: number[] = [];
    tops.forEach((top, i) => {
      const other = theirs2[i];
      const mine2 = this.#level2(map, top);
      for (const j of diff(mine2, Array.isArray(other) ? other : [])) leaves.push(top * DIGEST_FANOUT + j);
    });
    return this.tradeLeaves(peer, map, leaves);
  }

  /** Sends our keys in `leaves` and takes theirs, in batches of at most `chunkBytes` each way. */
  async tradeLeaves(peer: string, map: string, leaves: readonly number[]): Promise<boolean> {
    const todo = [...leaves];
    while (todo.length > 0) {
      const { items, taken } = collectLeaves(this.core.slot(map, false), todo, this.core.settings.chunkBytes);
      const batch = todo.splice(0, taken);
      const c = encodeChanges(new Map([[map, items]]), new Map());
      this.stats.keysSent += items.length;
      const r = await this.#ask(peer, { op: 'leaves', map, lv: batch, ...(c === undefined ? {} : { c }) });
      if (r === undefined) return false;
      this.stats.keysReceived += this.core.applyChangesField(r['c'] ?? {}, 'sync', peer);
      // The peer stops when its answer would pass chunkBytes: ask again for the rest (ours were sent).
      let more = r['more'];
      while (Array.isArray(more) && more.length > 0) {
        const next = await this.#ask(peer, { op: 'leaves', map, lv: more.filter((x) => batch.includes(x as number)) });
        if (next === undefined) return false;
        this.stats.keysReceived += this.core.applyChangesField(next['c'] ?? {}, 'sync', peer);
        more = next['more'];
      }
    }
    return true;
  }

  #level1(map: string): string[] {
    return this.core.slot(map, false)?.state.digest.level1() ?? new Array<string>(DIGEST_FANOUT).fill('');
  }

  #level2(map: string, top: number): string[] {
    return this.core.slot(map, false)?.state.digest.level2(top) ?? new Array<string>(DIGEST_FANOUT).fill('');
  }
}

/** Positions (below 64) where a peer's level differs from ours; the peer's list is untrusted. */
function diff(mine: readonly string[], theirs: readonly unknown[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < DIGEST_FANOUT; i++) if (mine[i] !== theirs[i]) out.push(i);
  return out;
}
