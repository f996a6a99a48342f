#!/usr/bin/env node
// `npm run screenshot:dashboard [-- <out.png>]`: runs `npm run demo` (the
// five-server demo cluster), follows the login instructions it prints, opens
// s1's dashboard in headless Chromium once the scenario is over, waits until
// the page shows what happened (the timeline of the operator's offline/online,
// the crash's suspicion and failure) and recent exchanges, writes a
// screenshot, then stops the demo with SIGINT as Ctrl-C would.
// test/dashboard-screenshot.test.ts runs the same function.
// Needs dist/ (npm run build) and Debian's chromium (or CHROMIUM_PATH).
/* global document */ // used inside page.evaluate and waitForFunction, which run in the browser
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where `npm run screenshot:dashboard` writes, and where the README shows it from. */
export const DEFAULT_OUT = resolve(ROOT, 'docs', 'images', 'dashboard.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Runs the demo, screenshots s1's dashboard into `out` (PNG), stops the demo
 * with SIGINT. Resolves with what the page showed (the timeline's rows: kind,
 * server, reason, newest first; the servers' states and chart bars; the
 * exchange p99), the PNG's size, the demo's whole output and how it exited. Rejects after `timeoutMs` or if anything goes wrong,
 * leaving no process behind.
 * @param {{ out: string, timeoutMs?: number, log?: (line: string) => void }} options
 */
export async function captureDashboard({ out, timeoutMs = 90_000, log = () => {} }) {
  if (!existsSync(resolve(ROOT, 'dist/esm/demo/run-demo.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  const env = { ...process.env };
  delete env.SHAZBOT_CONTROL_SECRET; // the demo's own session secret, as a first-time reader gets it
  const demo = spawn(process.execPath, [resolve(ROOT, 'scripts/demo.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stdout.on('data', (d) => (output += d.toString()));
  demo.stderr.on('data', (d) => (output += d.toString()));
  const exited = new Promise((res) => demo.once('exit', (code, signal) => res({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  /** The first match of `re` in the demo's output, polled until the deadline. */
  const awaitOutput = async (re, what) => {
    for (;;) {
      const m = re.exec(output);
      if (m) return m;
      if (demo.exitCode !== null || demo.signalCode !== null) throw new Error(`the demo exited before printing ${what}; it printed:\n${output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for the demo to print ${what}; it printed:\n${output}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  let browser;
  let shown;
  try {
    const url = (await awaitOutput(/Dashboard:\s+(\S+)/, 'the dashboard URL'))[1];
    const password = (await awaitOutput(/password:\s+(\S+)/, 'the password'))[1];
    log(`dashboard ${url}`);
    await awaitOutput(/Scenario complete\./, 'the end of the scenario');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const context = await browser.newContext({
      httpCredentials: { username: 'operator', password },
      viewport: { width: 1280, height: 900 },
      deviceScaleFactor: 1,
      colorScheme: 'light',
    });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    const res = await page.goto(url);
    if (res?.status() !== 200) throw new Error(`the dashboard answered ${res?.status()}`);
    // What the scenario did, as s1 saw it, and a few exchanges with every live peer.
    await page.waitForFunction(() => {
      const kinds = Array.from(document.querySelectorAll('#timeline tr[data-kind]')).map((r) => r.getAttribute('data-kind'));
      const charts = Array.from(document.querySelectorAll('#servers tr[data-state="online"]:not([data-self]) .chart'));
      return ['operator-offline', 'operator-online', 'down'].every((k) => kinds.includes(k))
        && charts.length >= 3 && charts.every((c) => c.querySelectorAll('.bar').length >= 5);
    }, undefined, { timeout: Math.max(1_000, deadline - Date.now()), polling: 250 });
    shown = await page.evaluate(() => ({
      timeline: Array.from(document.querySelectorAll('#timeline tr[data-kind]')).map((r) => ({
        kind: r.getAttribute('data-kind'), server: r.getAttribute('data-server'), why: r.querySelector('.why')?.textContent ?? '',
      })),
      servers: Array.from(document.querySelectorAll('#servers tr[data-server]')).map((r) => ({
        server: r.getAttribute('data-server'), state: r.getAttribute('data-state'), bars: r.querySelectorAll('.chart .bar').length,
      })),
      p99: document.getElementById('xchg-p99')?.textContent ?? '',
    }));
    const png = await page.screenshot({ fullPage: true, type: 'png' });
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, png);
    log(`wrote ${out} (${png.length} bytes)`);
    if (problems.length > 0) throw new Error(`the page reported problems: ${problems.join('; ')}`);
    shown = { ...shown, bytes: png.length };
  } finally {
    await browser?.close().catch(() => undefined);
    if (demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGINT');
      const force = setTimeout(() => demo.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(force);
    }
  }
  return { ...shown, output, exit: await exited };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? DEFAULT_OUT);
  captureDashboard({ out, log: (line) => console.log(line) }).then(
    (shown) => console.log(`timeline rows: ${shown.timeline.length}; exchange p99: ${shown.p99}`),
    (e) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
