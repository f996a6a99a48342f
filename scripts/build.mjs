// Builds dist/esm (ES modules) and dist/cjs (CommonJS) with plain tsc.
// dist/cjs gets its own package.json so Node treats its .js files as CommonJS
// even though the package root says "type": "module".
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.build.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// The CLI runs as `npx clustershazbot` straight from dist/ (npm sets this bit only when it links an installed package).
chmodSync('dist/esm/cli/main.js', 0o755);
