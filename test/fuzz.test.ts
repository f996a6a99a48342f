/**
 * `npm run fuzz`, short: hostile requests at every endpoint of a real server
 * in a child process (scripts/fuzz.mjs, itself run as a child here), then
 * the same fuzzer against deliberately broken servers, to show that each
 * kind of failure it checks for is one it notices.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, spawnNode, waitForExit, type ChildHandle } from './helpers/processes.js';

const root = new URL('..', import.meta.url).pathname;
const handles: ChildHandle[] = [];

interface FuzzSummary {
  fuzz: 'ok' | 'failed';
  seed: number;
  sent: Record<string, number>;
  unexpected: number;
  crashes: number;
  stateChanges: number;
  healthFailures: number;
  stderrErrors: number;
  timersRan: boolean;
}

/** Runs scripts/fuzz.mjs with `args`; resolves its exit code, its summary line and its whole output. */
async function fuzz(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; summary: FuzzSummary; output: string }> {
  const handle = spawnNode('fuzz', 'scripts/fuzz.mjs', ['--quiet', ...args], { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env } });
  handles.push(handle);
  const { code } = await waitForExit(handle, 90_000);
  const output = handle.output();
  const line = output.split('\n').reverse().find((l) => l.startsWith('[fuzz] {"fuzz"'));
  if (line === undefined) throw new Error(`no summary line:\n${output}`);
  return { code, summary: JSON.parse(line.slice('[fuzz] '.length)) as FuzzSummary, output };
}

afterEach(async () => {
  await killAll(handles.splice(0));
});

describe('npm run fuzz (short run)', () => {
  it('1,500 hostile requests per endpoint: every answer as expected, no crash, no state change, timers still running', async () => {
    const { code, summary, output } = await fuzz(['--count', '1500', '--batch', '750']);
    expect(summary.unexpected, output).toBe(0);
    expect(summary).toMatchObject({ fuzz: 'ok', crashes: 0, stateChanges: 0, healthFailures: 0, stderrErrors: 0, timersRan: true });
    for (const endpoint of ['gossip', 'list', 'control', 'health', 'info', 'dashboard', 'unknown']) {
      expect(summary.sent[endpoint], endpoint).toBe(1500);
    }
    expect(summary.sent['raw']).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 90_000);
});

/** Each fault of test/helpers/fuzz-faulty-server.mjs, and what the summary must show for it. */
const FAULTS: ReadonlyArray<[fault: string, what: string, check: (run: Awaited<ReturnType<typeof fuzz>>) => void]> = [
  ['crash', 'dies on some input: a crash', ({ summary }) => expect(summary.crashes).toBe(1)],
  ['accept', 'answers 200 to unknown paths: unexpected answers', ({ output }) => expect(output).toMatch(/"why":"status 200, expected 404"/)],
  ['state', 'changes its table: a state change', ({ summary }) => expect(summary.stateChanges).toBeGreaterThan(0)],
  ['leak', 'echoes a secret', ({ output }) => expect(output).toMatch(/"why":"a secret is echoed"/)],
  ['log', 'logs an error', ({ summary }) => expect(summary.stderrErrors).toBeGreaterThan(0)],
];

describe('the fuzzer notices a broken server', () => {
  it.each(FAULTS)('FUZZ_FAULT=%s: one that %s', async (fault, _what, check) => {
    const run = await fuzz(['--count', '200', '--batch', '200', '--seed', '5', '--target', 'test/helpers/fuzz-faulty-server.mjs'], { FUZZ_FAULT: fault });
    check(run);
    expect(run.summary.fuzz).toBe('failed');
    expect(run.code).toBe(1);
  }, 90_000);
});
