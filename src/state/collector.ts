/**
 * Tombstone collection for a replica: tracks each key that turns into a
 * tombstone, feeds the tracker (tombstones.ts) the syncs the wire hooks
 * recorded, and once a second removes what the tracker allows: a tombstone
 * every other member has confirmed (an equal state digest at least
 * `tombstoneSettleMs` after it arrived here), or one older than
 * `tombstoneMaxAgeMs` (24 h) in any case.
 */
import type { KeyState } from './register.js';
import { isTombstone } from './register.js';
import type { MapSlot } from './map-slot.js';
import type { ReplicaCore, StateSettings } from './replica-core.js';
import { TombstoneTracker } from './tombstones.js';
import type { JsonValue } from './types.js';
import { versionWallMs } from './version.js';

export class Collector {
  readonly #tracker: TombstoneTracker;
  collected = 0;

  constructor(settings: StateSettings, private readonly core: ReplicaCore, private readonly removed: (slot: MapSlot, key: string) => void) {
    this.#tracker = new TombstoneTracker({
      graceMs: settings.tombstoneMaxAgeMs, maxAgeMs: settings.tombstoneMaxAgeMs, inFlightMs: settings.tombstoneSettleMs,
      collectOnConfirm: true,
    });
  }

  get size(): number {
    return this.#tracker.size;
  }

  /** Follows a key's change: tracked when it becomes a tombstone (afresh when the delete advances), dropped when written again. */
  changed(map: string, key: string, before: KeyState<JsonValue> | undefined, after: KeyState<JsonValue>): void {
    const id = `${map}\n${key}`;
    if (isTombstone(after)) {
      if (before === undefined || !isTombstone(before) || before.delAt !== after.delAt) {
        this.#tracker.added(id, this.core.host.clock.now(), versionWallMs(after.delAt ?? after.del!));
      }
    } else if (before !== undefined && isTombstone(before)) {
      this.#tracker.dropped(id);
    }
  }

  /** Collects what may go now, given every other member and when each last synced with us. */
  tick(lastEqual: ReadonlyMap<string, number>): void {
    if (this.#tracker.size === 0) return; // nothing to collect: no member list to build (a second per replica)
    const { host } = this.core;
    const members = host.members().filter((m) => m.baseUrl !== host.selfUrl).map((m) => m.baseUrl);
    for (const [peer, at] of lastEqual) this.#tracker.synced(peer, at);
    for (const id of this.#tracker.tick(host.clock.now(), members)) {
      const i = id.indexOf('\n');
      const slot = this.core.slot(id.slice(0, i), false);
      const key = id.slice(i + 1);
      const s = slot?.state.get(key);
      if (slot === undefined || s === undefined || !isTombstone(s)) continue;
      slot.remove(key);
      this.removed(slot, key);
      this.collected++;
    }
  }

  forget(peer: string): void {
    this.#tracker.forget(peer);
  }
}
