import type { ResolvedConfig } from '../config.js';
import type { MessageLimits } from '../protocol/validate.js';

/**
 * The settings read on every exchange and every probe round, in one small
 * object shared by every engine of the process whose values are equal (a
 * flyweight). A production process has one engine and gains nothing; a
 * simulation of 10,000 servers touches each server's own configuration
 * object once per message, and each of those touches was a cache miss:
 * one shared object stays in the cache. Values only, never written.
 */
export interface HotSettings {
  /** The gossip secrets: the first signs, any verifies. */
  readonly secrets: readonly string[];
  readonly legacyAuth: boolean;
  readonly signatureWindowMs: number;
  readonly maxResponseBytes: number;
  readonly limits: Readonly<MessageLimits>;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly indirectProbeTimeoutMs: number;
  readonly indirectProbes: number;
}

/** Interned settings by their values; a process seldom holds more than one or two. */
const interned = new Map<string, HotSettings>();
/** Bound on distinct settings kept (tests create many configurations); past it the table starts over. */
const MAX_INTERNED = 256;

/** The shared {@link HotSettings} for `config`'s values. */
export function hotSettings(config: ResolvedConfig): HotSettings {
  const s: HotSettings = {
    secrets: config.secrets,
    legacyAuth: config.legacyAuth,
    signatureWindowMs: config.signatureWindowMs,
    maxResponseBytes: config.maxResponseBytes,
    limits: { maxEntries: config.maxEntries, maxUrlLength: config.maxUrlLength, maxFutureMs: config.maxFutureMs },
    probeIntervalMs: config.probeIntervalMs,
    probeTimeoutMs: config.probeTimeoutMs,
    indirectProbeTimeoutMs: config.indirectProbeTimeoutMs,
    indirectProbes: config.indirectProbes,
  };
  const key = JSON.stringify([s.secrets, s.legacyAuth, s.signatureWindowMs, s.maxResponseBytes, s.limits, s.probeIntervalMs, s.probeTimeoutMs, s.indirectProbeTimeoutMs, s.indirectProbes]);
  const found = interned.get(key);
  if (found !== undefined) return found;
  if (interned.size >= MAX_INTERNED) interned.clear();
  const frozen = Object.freeze({ ...s, secrets: Object.freeze([...s.secrets]), limits: Object.freeze(s.limits) });
  interned.set(key, frozen);
  return frozen;
}
