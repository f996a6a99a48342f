import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { stopDemoProcesses, watchProcess, type DemoProcess } from './demo-processes.js';

/**
 * A child standing in for a demo server: prints `ready` on stderr once its
 * SIGINT handler is set (and half a line), then either finishes the line,
 * prints an unfinished one and leaves on SIGINT (exit 0), or ignores SIGINT.
 */
async function fakeServer(name: string, onSigint: 'exit' | 'ignore', lines: string[]): Promise<DemoProcess> {
  const code = `process.on('SIGINT', () => { ${onSigint === 'exit' ? "process.stderr.write(' line\\nbye', () => process.exit(0))" : ''} });
    process.stderr.write('ready\\npartial'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const server = watchProcess(name, `http://${name}/`, child, (from, line) => {
    lines.push(`${from}: ${line}`);
    if (line === 'ready') ready();
  });
  await started;
  return server;
}

describe('stopDemoProcesses', () => {
  it('reports each server: stopped gracefully, already gone, or force-killed after the grace period', async () => {
    const lines: string[] = [];
    const said: string[] = [];
    const polite = await fakeServer('s1', 'exit', lines);
    const stubborn = await fakeServer('s2', 'ignore', lines);
    const dead = await fakeServer('s3', 'exit', lines);
    dead.stoppedBy = 'killed with SIGKILL by the scenario';
    dead.child.kill('SIGKILL');
    await dead.gone;
    const stopping = stopDemoProcesses([polite, stubborn, dead], (line) => said.push(line), 300);
    await stopping.done;
    expect(said).toContain('  s3 was already gone (killed with SIGKILL by the scenario)');
    expect(said.some((l) => /^ {2}s1 stopped gracefully \(\d+ ms\)$/.test(l))).toBe(true);
    expect(said).toContain('  s2 force-killed with SIGKILL (still running after 0.3 s)');
    expect(said).toHaveLength(3);
    expect([polite, stubborn, dead].map((s) => s.exited)).toEqual([true, true, true]);
    // stderr arrives as whole lines, named.
    expect(lines).toContain('s1: ready');
  });

  it('forceKill SIGKILLs the servers still running, says why, and returns their names', async () => {
    const said: string[] = [];
    const a = await fakeServer('s1', 'ignore', []);
    const b = await fakeServer('s2', 'ignore', []);
    const stopping = stopDemoProcesses([a, b], (line) => said.push(line), 60_000);
    expect(stopping.forceKill('second Ctrl-C')).toEqual(['s1', 's2']);
    // Already being killed: not again.
    expect(stopping.forceKill('second Ctrl-C')).toEqual([]);
    await stopping.done;
    expect(said.sort()).toEqual(['  s1 force-killed with SIGKILL (second Ctrl-C)', '  s2 force-killed with SIGKILL (second Ctrl-C)']);
  });

  it('passes on stderr split into whole lines, the end of an unfinished one included', async () => {
    const lines: string[] = [];
    const server = await fakeServer('s1', 'exit', lines);
    const stopping = stopDemoProcesses([server], () => {}, 60_000);
    await stopping.done;
    expect(lines).toEqual(['s1: ready', 's1: partial line', 's1: bye']);
  });
});
