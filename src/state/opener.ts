/**
 * Opening a replica's durable store at start: a store saved within the
 * offline-removal window (24 h) restores the data and the replica's
 * identity (its incarnation and clock), without writing anything back or
 * pushing it; an older one is discarded, and the replica rejoins as new
 * (tombstones it never saw may be gone). Either way the store then holds a
 * fresh snapshot under the identity in use.
 */
import { safeLog } from '../core/logger.js';
import { decodeCounter, decodeKeyState } from './codec.js';
import { MAP_NAME } from './map-slot.js';
import { Persistence } from './persist.js';
import type { StateReplica } from './replica.js';
import type { StateStore, StoredRecord } from './store.js';

export async function openReplicaStore(r: StateReplica, store: StateStore): Promise<Persistence> {
  const loaded = await store.load();
  const now = r.host.clock.now();
  if (loaded !== undefined && now - loaded.meta.savedAt <= r.host.config.maxOfflineAgeMs) {
    r.replica = loaded.meta.replica;
    r.hlc.observe(loaded.meta.hlc);
    r.restoring = true;
    try {
      restore(r, loaded.records);
    } finally {
      r.restoring = false;
    }
    safeLog(r.host.log, 'info', 'state restored from the store', { records: loaded.records.length });
  } else if (loaded !== undefined) {
    safeLog(r.host.log, 'warn', 'state store older than maxOfflineAgeMs: discarded, this replica rejoins as new', { savedAtAgeMs: now - loaded.meta.savedAt });
  }
  const meta = () => ({ replica: r.replica, hlc: r.hlc.highest, savedAt: r.host.clock.now() });
  const persist = new Persistence(store, meta, () => r.records(), r.host.log);
  if (loaded === undefined || r.replica !== loaded.meta.replica) await store.compact(meta(), r.records());
  return persist;
}

function restore(r: StateReplica, records: readonly StoredRecord[]): void {
  for (const record of records) {
    if (record.type === 'key') {
      if (!MAP_NAME.test(record.map)) continue;
      r.applyKey(r.slot(record.map, true)!, record.key, decodeKeyState(record.state, { maxValueBytes: r.limits.maxValueBytes }), 'sync');
    } else if (MAP_NAME.test(record.name)) {
      r.applyCounter(record.name, decodeCounter(record.state, { maxReplicas: 100_000 }));
    }
  }
}
