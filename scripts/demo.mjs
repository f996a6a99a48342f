#!/usr/bin/env node
// `npm run demo [-- --once]`: a local five-server cluster; see src/demo/run-demo.ts.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/esm/demo/run-demo.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('dist/ is missing: run `npm ci` (which builds) or `npm run build` first.');
  process.exit(1);
}
const { runDemo } = await import(entry.href);
const code = await runDemo({ once: process.argv.includes('--once') });
// Every server has exited by now: exit once stdout is flushed, without waiting for idle sockets to time out.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
