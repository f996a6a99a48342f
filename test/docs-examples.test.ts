// Runs the code examples of the docs exactly as written, so they cannot rot.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
// Inside the repository, so that `import 'clustershazbot/...'` resolves to
// this package (self-reference through package.json "exports", using dist/).
const dir = join(root, '.tmp', 'docs-examples');

function example(file: string, name: string): string {
  const text = readFileSync(join(root, file), 'utf8');
  const marker = text.indexOf(`<!-- example: ${name} -->`);
  expect(marker, `marker "${name}" in ${file}`).toBeGreaterThanOrEqual(0);
  const start = text.indexOf('```js\n', marker);
  const end = text.indexOf('\n```', start + 6);
  return text.slice(start + 6, end + 1);
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('documentation examples', () => {
  it('docs/simulator.md: the simulator example runs and detects the crash', () => {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'sim.mjs');
    writeFileSync(file, example('docs/simulator.md', 'simulator'));
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(/crash of http:\/\/n3\.sim\/ detected by every server after \d+ ms of virtual time/);
    expect(out).toMatch(/messages: \d+, bytes as HTTP\/1\.1: \d+/);
  });

  it('docs/extensions.md: the grow-only set converges on every simulated server, news and repair alike', () => {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'extension.mjs');
    writeFileSync(file, example('docs/extensions.md', 'extension'));
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(out.trim().split('\n')).toEqual([0, 1, 2, 3, 4].map((i) => `n${i}: hello quiet world`));
  });
});
