/**
 * Keeps the claim "the multi-process test runs the README examples verbatim"
 * true: each fixture source must equal its README block after exactly the
 * documented substitution, compared against every copy of the README found
 * (the repo's README.md when it carries the examples, and the seed README in
 * ../shared/seeds/ beside the repo, which CI has).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures');

const EXPRESS_HEADING = '### Express.js Example';
const NEST_HEADING = '### Nest.js Example';

/** The only change to the Express block: listen on $PORT instead of 3000. */
const EXPRESS_PORT = { from: 'app.listen(3000,', to: 'app.listen(Number(process.env.PORT),' };
/**
 * The only change to the Nest block: it calls shazbotStart and shazbotShutDown
 * without importing them, so they join the head of its import list.
 */
const NEST_IMPORTS = {
  from: 'import { \n    shazbotGossipRequest,',
  to: 'import { \n    shazbotStart,\n    shazbotShutDown,\n    shazbotGossipRequest,',
};

/** A README that carries the examples: where it lives and its text. */
interface ReadmeSource {
  readonly label: string;
  readonly text: string;
}

function findSources(): ReadmeSource[] {
  const sources: ReadmeSource[] = [];
  const readme = join(root, 'README.md');
  if (existsSync(readme)) {
    const text = readFileSync(readme, 'utf8');
    if (text.includes(EXPRESS_HEADING) && text.includes(NEST_HEADING)) sources.push({ label: 'README.md', text });
  }
  const seeds = resolve(root, '..', 'shared', 'seeds');
  if (existsSync(seeds)) {
    const seed = readdirSync(seeds).find((f) => f.startsWith('000_') && f.endsWith('.txt'));
    if (seed !== undefined) sources.push({ label: `../shared/seeds/${seed}`, text: readFileSync(join(seeds, seed), 'utf8') });
  }
  return sources;
}

/** The body of the first ```typescript block after `heading`, ending with a newline. */
function typescriptBlockAfter(text: string, heading: string): string {
  const headingAt = text.indexOf(`${heading}\n`);
  if (headingAt < 0) throw new Error(`heading not found: ${heading}`);
  const fence = '```typescript\n';
  const fenceAt = text.indexOf(fence, headingAt);
  if (fenceAt < 0) throw new Error(`no typescript block after ${heading}`);
  const start = fenceAt + fence.length;
  const end = text.indexOf('\n```', start);
  if (end < 0) throw new Error(`unterminated block after ${heading}`);
  return text.slice(start, end + 1);
}

/** `text` with its single occurrence of `from` replaced; fails if there is not exactly one. */
function substituteOnce(text: string, { from, to }: { from: string; to: string }): string {
  expect(text.split(from).length - 1, `occurrences of ${JSON.stringify(from)}`).toBe(1);
  return text.replace(from, () => to);
}

function fixture(path: string): string {
  return readFileSync(join(fixtures, path), 'utf8');
}

const sources = findSources();

describe('README examples used by the multi-process test', () => {
  it('finds at least one README that carries the examples', () => {
    expect(sources.map((s) => s.label)).not.toEqual([]);
  });

  it('uses the same Nest source in the Nest 11 and Nest 12 apps', () => {
    expect(fixture('nest12-esm/src/clustershazbot.ts')).toBe(fixture('nest11-cjs/src/clustershazbot.ts'));
  });

  describe.each(sources)('$label', ({ text }) => {
    it('has the Express example verbatim except for the port', () => {
      const block = typescriptBlockAfter(text, EXPRESS_HEADING);
      expect(fixture('express-example/src/server.ts')).toBe(substituteOnce(block, EXPRESS_PORT));
    });

    it('has the Nest example verbatim except for the added import of shazbotStart and shazbotShutDown', () => {
      const block = typescriptBlockAfter(text, NEST_HEADING);
      // The substitution is needed at all only because the block uses both without importing them.
      expect(block).toMatch(/await shazbotStart\(\)/);
      expect(block).toMatch(/await shazbotShutDown\(\)/);
      const expected = substituteOnce(block, NEST_IMPORTS);
      expect(fixture('nest11-cjs/src/clustershazbot.ts')).toBe(expected);
      expect(fixture('nest12-esm/src/clustershazbot.ts')).toBe(expected);
    });
  });
});
