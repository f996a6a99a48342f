/**
 * Small pure helpers of a replica's identity and digest: a fresh
 * incarnation (new on every start without a store), and the short hash that
 * folds every map's digest and every counter into the state digest.
 */
import type { ExtensionHost } from '../engine/extension.js';
import type { MapSlot } from './map-slot.js';
import type { CounterSlot } from './replica-core.js';

/** A fresh incarnation: 10 base-36 characters from the engine's randomness. */
export function incarnation(host: ExtensionHost): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += Math.floor(host.random.float() * 36).toString(36);
  return s;
}

/** A short order-sensitive hash of a text (FNV-1a, 2 × 32 bits), for the state digest. */
export function shortHash(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** The state digest: every map's digest root and every counter, in name order, folded into one short hash. */
export function stateDigestOf(maps: ReadonlyMap<string, MapSlot>, counters: ReadonlyMap<string, CounterSlot>): string {
  const byName = <T>(a: [string, T], b: [string, T]): number => (a[0] < b[0] ? -1 : 1);
  const parts: string[] = [];
  for (const [name, slot] of [...maps].sort(byName)) {
    if (slot.state.digest.count > 0) parts.push(`${name}=${slot.state.digest.root()}`);
  }
  for (const [name, c] of [...counters].sort(byName)) {
    if (c.state.size > 0) parts.push(`#${name}=${[...c.state].sort(byName).map(([r, e]) => `${r}:${e.p}:${e.n}`).join(',')}`);
  }
  return shortHash(parts.join('\n'));
}
