/**
 * `npm run check:state`: the fault checker of the replicated state (see
 * test/helpers/state-check-run.ts). By default its short run, inside
 * `npm test`; `scripts/check-state.mjs` runs this file with STATE_CHECK=full
 * (or `short`), STATE_CHECK_SEED, STATE_CHECK_DURATION_S, STATE_CHECK_FAULTS and
 * STATE_CHECK_RESULT_FILE, where the report goes: the Markdown, then the
 * JSON line last.
 *
 * Needs `npm run build` first (the instances run the built package), root,
 * iproute2 and nft. Under CI=true missing prerequisites fail the test;
 * elsewhere it is skipped when not running as root.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, type FaultKind } from './helpers/state-check-nemesis.js';
import { overheadMs, randomSeed, runStateCheck, type StateCheckReport } from './helpers/state-check-run.js';

const mode = process.env.STATE_CHECK === 'full' ? 'full' : 'short';
const short = mode === 'short';
const seed = process.env.STATE_CHECK_SEED === undefined || process.env.STATE_CHECK_SEED === '' ? randomSeed() : Number(process.env.STATE_CHECK_SEED);
const durationS = Number(process.env.STATE_CHECK_DURATION_S || (short ? 20 : 60));
const resultFile = process.env.STATE_CHECK_RESULT_FILE;
/** STATE_CHECK_FAULTS: a comma-separated subset of the fault kinds (default: all). */
const faults = process.env.STATE_CHECK_FAULTS ? (process.env.STATE_CHECK_FAULTS.split(',') as FaultKind[]) : undefined;
const built = fileURLToPath(new URL('../dist/esm/index.js', import.meta.url));

describe(`check:state (${mode} run)`, () => {
  it('loses no acknowledged write, resurrects no delete, keeps the counter in bounds, and converges after the heal', async (ctx) => {
    if (!Number.isSafeInteger(seed) || !(durationS > 0)) throw new Error(`bad STATE_CHECK_SEED ${process.env.STATE_CHECK_SEED} or STATE_CHECK_DURATION_S ${process.env.STATE_CHECK_DURATION_S}`);
    const unknown = (faults ?? []).filter((k) => !FAULT_KINDS.includes(k));
    if (unknown.length > 0) throw new Error(`unknown fault kinds in STATE_CHECK_FAULTS: ${unknown.join(', ')}; known: ${FAULT_KINDS.join(', ')}`);
    if (process.getuid?.() !== 0 && process.env.CI !== 'true' && resultFile === undefined) {
      ctx.skip('check:state needs root (network namespaces, nftables)');
    }
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
    let report: StateCheckReport;
    try {
      report = await runStateCheck({ seed, durationS, short, ...(faults === undefined ? {} : { faults }) });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (resultFile !== undefined) {
        await writeFile(resultFile, `check:state could not run (seed ${seed}): ${message}\n\n${JSON.stringify({ check: 'state', seed, short, error: message.split('\n')[0], passed: false })}\n`);
      }
      throw e;
    }
    if (resultFile !== undefined) await writeFile(resultFile, `${report.markdown}\n\n${JSON.stringify(report.json)}\n`);
    else console.log(`${report.markdown}\n\n${JSON.stringify(report.json)}`);

    const j = report.json;
    const counts = Object.fromEntries(
      ['lost_acked_writes', 'resurrections', 'value_mismatches', 'blind_deletes', 'counter_violations', 'diverged_replicas', 'crashes', 'not_ready_after_restart', 'nemesis_problems'].map((k) => [k, j[k]]),
    );
    expect(counts, `seed ${seed}:\n${report.markdown}`).toEqual(Object.fromEntries(Object.keys(counts).map((k) => [k, 0])));
    expect(Number.isFinite(j.converge_after_heal_ms), `converge_after_heal_ms, seed ${seed}`).toBe(true);
    expect(j.acked_writes as number, 'acked writes').toBeGreaterThan(0);
    expect(j.nemesis_events as number, 'faults injected').toBeGreaterThan(0);
  }, (durationS * 1000) + overheadMs(short) + 30_000);
});
