/**
 * The README's dashboard picture, made the way a reader would see it: the
 * demo cluster (`npm run demo`, real processes), its printed login, s1's
 * dashboard in headless Chromium after the scenario. The same function as
 * `npm run screenshot:dashboard` (scripts/dashboard-screenshot.mjs), writing
 * to a temporary file here. Needs dist/ and Debian's chromium; never skips.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without type declarations
import { captureDashboard } from '../scripts/dashboard-screenshot.mjs';

interface Shown {
  timeline: { kind: string; server: string; why: string }[];
  servers: { server: string; state: string; bars: number }[];
  p99: string;
  bytes: number;
  output: string;
  exit: { code: number | null; signal: string | null };
}

let dir: string | undefined;
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the dashboard screenshot of the demo cluster', () => {
  it('shows what the scenario did, with exchange charts, and is written as a PNG', async () => {
    dir = await mkdtemp(join(tmpdir(), 'shazbot-shot-'));
    const out = join(dir, 'dashboard.png');
    const shown = (await captureDashboard({ out, timeoutMs: 100_000 })) as Shown;
    const urls = [...shown.output.matchAll(/started (s\d) at (http:\/\/\S+)/g)].map((m) => m[2]!);
    expect(urls).toHaveLength(5);
    const [s1, , s3, s4] = urls as [string, string, string, string, string];

    // The timeline, oldest first: s1 started and saw the others, s3 taken offline and back, s4 crashed.
    const events = [...shown.timeline].reverse();
    const at = (kind: string, server: string): number => events.findIndex((e) => e.kind === kind && e.server === server);
    expect(events.find((e) => e.server === s1)).toMatchObject({ kind: 'up', why: 'this server started' });
    expect(at('operator-offline', s3)).toBeGreaterThan(0);
    expect(at('down', s4)).toBeGreaterThan(at('operator-offline', s3));
    expect(at('operator-online', s3)).toBeGreaterThan(at('down', s4));
    expect(events[at('down', s4)]!.why).toMatch(/^(suspicion not refuted in time|declared failed by 127\.0\.0\.1:\d+)$/);

    // The servers as s1 sees them, with charts for the live peers.
    const state = Object.fromEntries(shown.servers.map((s) => [s.server, s.state]));
    expect(state).toEqual({ [urls[0]!]: 'online', [urls[1]!]: 'online', [urls[2]!]: 'online', [urls[3]!]: 'offline', [urls[4]!]: 'online' });
    for (const s of shown.servers.filter((x) => x.state === 'online' && x.server !== s1)) expect(s.bars).toBeGreaterThanOrEqual(5);
    expect(shown.p99).toMatch(/^\d+(\.\d)? ms$/);

    // A real PNG, of a full page.
    const png = await readFile(out);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.length).toBe(shown.bytes);
    expect(png.readUInt32BE(16)).toBe(1280); // IHDR width
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(900); // IHDR height

    // Stopped like Ctrl-C: cleanly, every server accounted for.
    expect(shown.exit).toEqual({ code: 0, signal: null });
  }, 150_000);
});
