// Bookkeeping shared by the multi-process tests: a fixed set of named server
// processes, and the lists their list endpoint answers with.
import { it } from 'vitest';
import type { ChildHandle } from './processes.js';

/** What every server of a multi-process test has: a name and, once spawned, its process. */
export interface FleetMember {
  readonly name: string;
  handle?: ChildHandle;
}

/** The member called `name`; throws if there is none. */
export function byName<S extends FleetMember>(servers: readonly S[], name: string): S {
  const found = servers.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no server ${name}`);
  return found;
}

/** Every process spawned so far. */
export function handlesOf(servers: readonly FleetMember[]): ChildHandle[] {
  return servers.flatMap((s) => (s.handle === undefined ? [] : [s.handle]));
}

/** The members whose process is still running. */
export function runningOf<S extends FleetMember>(servers: readonly S[]): S[] {
  return servers.filter((s) => s.handle?.running === true);
}

/** The `online` or `offline` entries of a list endpoint's answer, or undefined if it is not a list. */
export function listEntries(value: unknown, key: 'online' | 'offline'): Record<string, unknown>[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const list = (value as Record<string, unknown>)[key];
  if (!Array.isArray(list)) return undefined;
  return list.map((entry: unknown) => (typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {}));
}

/**
 * Tests that share one cluster and must run in order: once one fails, the
 * later ones fail at once instead of running against a broken cluster.
 */
export class StepSequence {
  /** The first step that failed, if any. */
  brokenBy: string | undefined;

  /** Declares one step (a vitest `it`). */
  step(name: string, timeoutMs: number, body: () => Promise<void>): void {
    it(name, async () => {
      if (this.brokenBy !== undefined) throw new Error(`not run: the earlier step "${this.brokenBy}" failed`);
      try {
        await body();
      } catch (error) {
        this.brokenBy = name;
        throw error;
      }
    }, timeoutMs);
  }
}
