/**
 * Chaos scenarios with real processes (issue 5). By default the short
 * subset that runs inside `npm test`; with `CHAOS=full` every scenario at
 * full size (`npm run chaos`, scripts/chaos.mjs, which reads the rows from
 * `CHAOS_RESULT_FILE`: the Markdown table, then the JSON line).
 *
 * Each group has a hard deadline and always cleans up (processes, stores,
 * network namespaces). A failing row names its problems and a file with
 * every process's output. Requires `npm run build` first (the servers run
 * the built package) and, for the partition, root and iproute2.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureGroup } from './helpers/chaos-failures.js';
import { partitionGroup } from './helpers/chaos-partition.js';
import { CLEANUP_MS, jsonLine, markdownTable, runGroup, type ScenarioGroup, type ScenarioRow } from './helpers/chaos-report.js';
import { storeGroup } from './helpers/chaos-store-faults.js';

const full = process.env.CHAOS === 'full';
const resultFile = process.env.CHAOS_RESULT_FILE;
const built = fileURLToPath(new URL('../dist/esm/index.js', import.meta.url));

/** CHAOS_ONLY=<prefix>: only the groups whose name starts with it (failures, partition, store). */
const only = process.env.CHAOS_ONLY ?? '';

const groups: ScenarioGroup[] = (full
  ? [failureGroup({ size: 9, crash: 3, strictBound: true }), partitionGroup({ partitionMs: 120_000 }), storeGroup({ faults: ['down', 'error500', 'corrupt', 'slow'] })]
  : [failureGroup({ size: 5, crash: 1, strictBound: false }), storeGroup({ faults: ['down'] }), partitionGroup({ partitionMs: 10_000 })]
).filter((g) => g.name.startsWith(only));

const rows: ScenarioRow[] = [];

describe(`chaos (${full ? 'full' : 'npm test subset'})`, () => {
  beforeAll(() => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
  });

  afterAll(async () => {
    if (resultFile !== undefined) await writeFile(resultFile, `${markdownTable(rows)}\n\n${jsonLine(rows)}\n`);
    else console.log(markdownTable(rows));
  });

  for (const group of groups) {
    it(group.rows.map((r) => r.scenario).join('; '), async () => {
      const outcome = await runGroup(group);
      rows.push(...outcome);
      const failed = outcome.filter((r) => r.result === 'FAIL').map((r) => ({ scenario: r.scenario, measured: r.measured, problems: r.problems }));
      expect(failed).toEqual([]);
    }, group.deadlineMs + CLEANUP_MS);
  }
});
