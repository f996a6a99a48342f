/**
 * Running chaos scenarios under a hard deadline with guaranteed cleanup, and
 * reporting their outcome as a Markdown table and one JSON line.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a row of the table promises before it runs. */
export interface RowSpec {
  readonly scenario: string;
  /** The fault injected. */
  readonly happened: string;
  /** The property checked. */
  readonly mustHold: string;
}

/** One row of the outcome table. */
export interface ScenarioRow extends RowSpec {
  /** The figures measured, against their bounds. */
  readonly measured: string;
  readonly result: 'PASS' | 'FAIL';
  /** Why it failed; empty when it passed. */
  readonly problems: readonly string[];
}

/** Cleanup registry of one running group. */
export interface Scope {
  /** Runs `cleanup` when the group ends, however it ends (last registered, first run). */
  defer(cleanup: () => unknown): void;
  /** Registers a source of diagnostics (process output) saved to a file if a row fails. */
  diagnostics(dump: () => string): void;
}

/** Records the outcome of row `index`: `problems` empty means PASS. */
export type RecordRow = (index: number, measured: string, problems: readonly string[]) => void;

/** Scenarios that share one setup (a fleet, a network) and report one row each. */
export interface ScenarioGroup {
  readonly name: string;
  readonly rows: readonly RowSpec[];
  /** Hard deadline of the whole group in ms, cleanup excluded. */
  readonly deadlineMs: number;
  run(scope: Scope, record: RecordRow): Promise<void>;
}

/** Longest a group's cleanup may take, ms: it kills processes and deletes namespaces. */
export const CLEANUP_MS = 20_000;

/**
 * Runs `group` until it finishes or its deadline passes, then cleans up.
 * Never rejects: a throw or the deadline fails every row not recorded yet.
 * If a row fails, the diagnostics go to a file named in its problems.
 */
export async function runGroup(group: ScenarioGroup): Promise<ScenarioRow[]> {
  const cleanups: (() => unknown)[] = [];
  const dumps: (() => string)[] = [];
  const outcomes = new Map<number, Pick<ScenarioRow, 'measured' | 'problems'>>();
  const scope: Scope = { defer: (c) => cleanups.push(c), diagnostics: (d) => dumps.push(d) };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${group.deadlineMs / 1000} s passed`)), group.deadlineMs);
  });
  const running = group.run(scope, (index, measured, problems) => outcomes.set(index, { measured, problems: [...problems] }));
  let failure: string | undefined;
  try {
    await Promise.race([running, deadline]);
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
    running.catch(() => undefined); // abandoned: its errors (after cleanup) are expected
  } finally {
    clearTimeout(timer);
  }
  const rows = group.rows.map((spec, i): ScenarioRow => {
    const outcome = outcomes.get(i) ?? { measured: 'not measured', problems: [`not reached: ${failure ?? 'the group ended early'}`] };
    return { ...spec, ...outcome, result: outcome.problems.length === 0 ? 'PASS' : 'FAIL' };
  });
  if (rows.some((r) => r.result === 'FAIL')) {
    const file = join(tmpdir(), `clustershazbot-chaos-${group.name}-${process.pid}.log`);
    await writeFile(file, dumps.map((d) => d()).join('\n'));
    for (const row of rows) if (row.result === 'FAIL') (row.problems as string[]).push(`server output: ${file}`);
  }
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (e) {
      console.error(`[chaos] cleanup of ${group.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return rows;
}

/** A rejection handler that notes the error in `problems` and resolves to undefined. */
export function noteIn(problems: string[]): (e: unknown) => undefined {
  return (e) => {
    problems.push(e instanceof Error ? e.message : String(e));
    return undefined;
  };
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The outcome as a Markdown table, failing rows followed by their problems. */
export function markdownTable(rows: readonly ScenarioRow[]): string {
  const lines = [
    '| scenario | what happened | must hold | measured | result |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${[r.scenario, r.happened, r.mustHold, r.measured, r.result].map(cell).join(' | ')} |`),
  ];
  const problems = rows.flatMap((r) => r.problems.map((p) => `- ${r.scenario}: ${p}`));
  return [...lines, ...(problems.length > 0 ? ['', ...problems] : [])].join('\n');
}

/** The outcome as one JSON line. */
export function jsonLine(rows: readonly ScenarioRow[]): string {
  return JSON.stringify({ chaos: rows, passed: rows.every((r) => r.result === 'PASS') });
}
