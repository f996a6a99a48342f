/**
 * The serving side of repairs and join sync: answers a peer's `op` with
 * digests or with the key states it asked for, never more than
 * `chunkBytes` of changes per reply (the peer asks again from where the
 * reply stopped). Arguments are validated; a map this replica does not hold
 * answers as an empty one.
 */
import { MalformedError } from '../errors.js';
import { DIGEST_FANOUT, DIGEST_LEAVES } from './map-digest.js';
import { MAP_NAME } from './map-slot.js';
import type { ReplicaCore } from './replica-core.js';
import { collectLeaves, encodeChanges, intList } from './wire.js';

export function serveOp(core: ReplicaCore, section: Record<string, unknown>, from: string | undefined): Record<string, unknown> {
  const op = section['op'];
  switch (op) {
    case 'roots': {
      if (section['c'] !== undefined) core.applyChangesField(section['c'], 'sync', from);
      const roots: Record<string, string> = {};
      for (const slot of core.slots()) roots[slot.name] = slot.state.digest.root();
      return { roots, ...(countersOf(core)) };
    }
    case 'l1':
      return { l1: mapOf(core, section)?.state.digest.level1() ?? emptyLevel() };
    case 'l2': {
      const slot = mapOf(core, section);
      const buckets = intList(section, 'b', DIGEST_FANOUT, DIGEST_FANOUT);
      return { l2: buckets.map((b) => slot?.state.digest.level2(b) ?? emptyLevel()) };
    }
    case 'leaves': {
      const name = mapName(section);
      const leaves = intList(section, 'lv', DIGEST_LEAVES, DIGEST_LEAVES);
      if (section['c'] !== undefined) core.applyChangesField(section['c'], 'sync', from);
      const { items, taken } = collectLeaves(core.slot(name, false), leaves, core.settings.chunkBytes);
      return { c: encodeChanges(new Map([[name, items]]), new Map()) ?? {}, ...(taken < leaves.length ? { more: leaves.slice(taken) } : {}) };
    }
    case 'chunk': {
      const name = mapName(section);
      const from_ = leafArg(section, 'from');
      const to = leafArg(section, 'to');
      const range = (function* (): Generator<number> {
        for (let leaf = from_; leaf < to; leaf++) yield leaf;
      })();
      const { items, taken } = collectLeaves(core.slot(name, false), range, core.settings.chunkBytes);
      const leaf = from_ + taken;
      return { c: encodeChanges(new Map([[name, items]]), new Map()) ?? {}, next: leaf < to ? leaf : null };
    }
    default:
      throw new MalformedError('state.op: unknown operation');
  }
}

function countersOf(core: ReplicaCore): Record<string, unknown> {
  const n = core.countersField();
  return n === undefined ? {} : { c: { n } };
}

function mapName(section: Record<string, unknown>): string {
  const name = section['map'];
  if (typeof name !== 'string' || !MAP_NAME.test(name)) throw new MalformedError('state.map: invalid map name');
  return name;
}

function mapOf(core: ReplicaCore, section: Record<string, unknown>) {
  return core.slot(mapName(section), false);
}

function leafArg(section: Record<string, unknown>, field: string): number {
  const v = section[field];
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > DIGEST_LEAVES) throw new MalformedError(`state.${field}: must be a leaf number`);
  return v as number;
}

/** A level of an empty map's digest: every bucket empty (""). */
function emptyLevel(): string[] {
  return new Array<string>(DIGEST_FANOUT).fill('');
}
