// Installs and compiles the example apps under test/fixtures/ that
// test/multiprocess.test.ts runs as real processes. Idempotent: `npm ci` runs
// only when a fixture's node_modules is missing or older than its
// package-lock.json; the TypeScript compile always runs, because the
// clustershazbot types it checks against come from the root's dist/, which
// changes with every root build.
//
// Assumes the root package is built (`npm run build`): each fixture depends
// on it through "clustershazbot": "file:../../..", a symlink to the root.
//
// Usage: node scripts/prepare-fixtures.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixturesDir = join(root, 'test', 'fixtures');
/** Every fixture, in the order they are prepared. */
const ALL_FIXTURES = ['express-example', 'nest11-cjs', 'nest12-esm', 'nest11-module-cjs'];
/**
 * The fixtures named on the command line, else all. Each test names its
 * own, so two test files never prepare one fixture at the same time.
 */
const FIXTURES = process.argv.length > 2 ? process.argv.slice(2) : ALL_FIXTURES;
const unknown = FIXTURES.filter((name) => !ALL_FIXTURES.includes(name));
if (unknown.length > 0) {
  console.error(`[prepare-fixtures] unknown fixture(s) ${unknown.join(', ')}; known: ${ALL_FIXTURES.join(', ')}`);
  process.exit(1);
}

// The root's own TypeScript compiles every fixture (tsc emits the decorator
// metadata Nest's dependency injection reads; esbuild-based runners do not).
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function log(message) {
  console.log(`[prepare-fixtures] ${message}`);
}

function run(file, args, cwd) {
  log(`${relative(root, cwd) || '.'}$ ${[file === process.execPath ? 'node' : file, ...args].join(' ')}`);
  execFileSync(file, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
}

/** Why `npm ci` must run in `dir`, or undefined when its node_modules is current. */
function installReason(dir) {
  // npm writes node_modules/.package-lock.json on every install: its mtime is
  // the time of the last install, which node_modules' own mtime is not.
  const marker = join(dir, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return 'node_modules missing';
  if (statSync(marker).mtimeMs < statSync(join(dir, 'package-lock.json')).mtimeMs) {
    return 'node_modules older than package-lock.json';
  }
  return undefined;
}

for (const built of ['dist/esm/index.js', 'dist/cjs/index.js']) {
  if (!existsSync(join(root, built))) {
    console.error(`[prepare-fixtures] ${built} is missing: run \`npm run build\` in ${root} first.`);
    process.exit(1);
  }
}

for (const name of FIXTURES) {
  const dir = join(fixturesDir, name);
  const reason = installReason(dir);
  if (reason === undefined) {
    log(`${name}: node_modules up to date, skipping npm ci`);
  } else {
    log(`${name}: ${reason}, running npm ci`);
    // --ignore-scripts: no fixture dependency needs an install script, and it
    // keeps npm from running lifecycle scripts of the linked root package.
    run(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
  }
  // A clean dist/ so that no output of a since-deleted source lingers.
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  log(`${name}: compiling`);
  run(process.execPath, [tsc, '-p', dir], root);
}
log('all fixtures ready');
