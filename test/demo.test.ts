import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pollUntil } from './helpers/processes.js';

const script = new URL('../scripts/demo.mjs', import.meta.url).pathname;

/** Runs the demo as `npm run demo` would, collecting its output; resolves on exit. */
function runDemo(args: string[], onOutput?: (all: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer): void => {
    out += d.toString();
    onOutput?.(out, child);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('npm run demo', () => {
  it('runs the whole scenario: join, control offline, SIGKILL detection, back online', async () => {
    const { code, out } = await runDemo(['--once']);
    expect(out, out).toContain('==> all 5 servers see each other online');
    expect(out).toContain('==> every other server sees s3 offline');
    expect(out).toContain('==> every live server sees s4 offline');
    expect(out).toContain('==> every live server sees s3 online again');
    expect(out).toContain('All servers stopped.');
    expect(code).toBe(0);
  }, 120_000);

  it('exits cleanly on Ctrl-C (SIGINT), stopping every server', async () => {
    let sent = false;
    const { code, out } = await runDemo([], (all, child) => {
      if (!sent && all.includes('==> all 5 servers see each other online')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(out).toContain('All servers stopped.');
    expect(code).toBe(0);
  }, 120_000);

  it('leaves no server behind when the demo itself is killed (SIGKILL)', async () => {
    let urls: string[] = [];
    const { code } = await runDemo([], (all, child) => {
      if (urls.length === 0 && all.includes('==> all 5 servers see each other online')) {
        urls = [...all.matchAll(/started s\d at (http:\/\/\S+)/g)].map((m) => m[1]!);
        child.kill('SIGKILL');
      }
    });
    expect(code).toBeNull();
    expect(urls).toHaveLength(5);
    // Each server sees its stdin pipe close and leaves: nothing answers any more.
    await pollUntil(async (report) => {
      const answering = await Promise.all(urls.map((u) => fetch(`${u}clustershazbot/health`).then(() => true, () => false)));
      report(answering);
      return answering.every((a) => !a) ? true : undefined;
    }, { timeoutMs: 15_000, description: 'every demo server to exit' });
  }, 60_000);
});
