#!/usr/bin/env node
/** The `clustershazbot` binary: runs the CLI on this process's arguments and streams. */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdin: process.stdin,
});
// Exit once both streams are flushed, without waiting for a request a stopped `watch` left in flight.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
