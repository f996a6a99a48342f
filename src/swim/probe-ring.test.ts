import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { ProbeRing } from './probe-ring.js';

const urlArb = fc.integer({ min: 0, max: 5000 }).map((i) => `http://10.0.${i >> 8}.${i & 255}:3000/`);
const membersArb = fc.uniqueArray(urlArb, { minLength: 2, maxLength: 80 });
const slotArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

function ringOf(urls: readonly string[]): ProbeRing {
  const ring = new ProbeRing();
  for (const u of urls) ring.add(u);
  return ring;
}

describe('ProbeRing', () => {
  it('tracks membership; add and remove are idempotent', () => {
    const ring = new ProbeRing();
    ring.add('http://a:1/');
    ring.add('http://a:1/');
    ring.add('http://b:1/');
    expect(ring.size).toBe(2);
    expect(ring.has('http://a:1/')).toBe(true);
    ring.remove('http://a:1/');
    ring.remove('http://a:1/');
    ring.remove('http://zzz:1/');
    expect(ring.size).toBe(1);
    expect(ring.has('http://a:1/')).toBe(false);
    expect(ring.members()).toEqual(['http://b:1/']);
  });

  it('has no target below 2 members or for a stranger', () => {
    const ring = ringOf(['http://a:1/']);
    expect(ring.target('http://a:1/', 0)).toBeUndefined();
    ring.add('http://b:1/');
    expect(ring.target('http://c:1/', 0)).toBeUndefined();
    // With two members each always probes the other.
    for (let slot = 0; slot < 10; slot++) {
      expect(ring.target('http://a:1/', slot)).toBe('http://b:1/');
      expect(ring.target('http://b:1/', slot)).toBe('http://a:1/');
    }
  });

  it('in every period, each member is probed by exactly one other member', () => {
    fc.assert(
      fc.property(membersArb, slotArb, (urls, slot) => {
        const ring = ringOf(urls);
        const targeted = new Map<string, number>();
        for (const u of urls) {
          const t = ring.target(u, slot);
          expect(t).toBeDefined();
          expect(t).not.toBe(u);
          targeted.set(t!, (targeted.get(t!) ?? 0) + 1);
        }
        expect(targeted.size).toBe(urls.length);
        for (const u of urls) expect(targeted.get(u)).toBe(1);
      }),
    );
  });

  it('prober is the inverse of target: the member whose target is t is the prober of t', () => {
    fc.assert(
      fc.property(membersArb, slotArb, (urls, slot) => {
        const ring = ringOf(urls);
        for (const u of urls) {
          expect(ring.prober(ring.target(u, slot)!, slot)).toBe(u);
          expect(ring.target(ring.prober(u, slot)!, slot)).toBe(u);
        }
      }),
    );
    const small = ringOf(['http://a:1/']);
    expect(small.prober('http://a:1/', 0)).toBeUndefined();
    small.add('http://b:1/');
    expect(small.prober('http://c:1/', 0)).toBeUndefined();
    expect(small.prober('http://a:1/', 7)).toBe('http://b:1/');
  });

  it('is independent of insertion order and of removed members', () => {
    fc.assert(
      fc.property(membersArb, fc.array(urlArb, { maxLength: 10 }), slotArb, (urls, extra, slot) => {
        const a = ringOf(urls);
        const b = ringOf([...extra, ...urls].reverse());
        for (const x of extra) if (!urls.includes(x)) b.remove(x);
        expect(b.members()).toEqual(a.members());
        for (const u of urls) expect(b.target(u, slot)).toBe(a.target(u, slot));
      }),
    );
  });

  it('rotates: the target changes from period to period', () => {
    const urls = Array.from({ length: 50 }, (_, i) => `http://node-${i}.internal:8080/`);
    const ring = ringOf(urls);
    const self = urls[17]!;
    const targets = new Set<string>();
    for (let slot = 0; slot < 100; slot++) targets.add(ring.target(self, slot)!);
    expect(targets.size).toBeGreaterThanOrEqual(10);
    // Consecutive periods rarely repeat the same target (49 possible offsets).
    let repeats = 0;
    for (let slot = 1; slot < 100; slot++) if (ring.target(self, slot) === ring.target(self, slot - 1)) repeats++;
    expect(repeats).toBeLessThan(10);
  });

  it('so a member is probed by many different probers over time', () => {
    const urls = Array.from({ length: 50 }, (_, i) => `http://node-${i}.internal:8080/`);
    const ring = ringOf(urls);
    const victim = urls[3]!;
    const probers = new Set<string>();
    for (let slot = 0; slot < 100; slot++) {
      for (const u of urls) if (ring.target(u, slot) === victim) probers.add(u);
    }
    expect(probers.size).toBeGreaterThanOrEqual(10);
  });
});

describe('ProbeRing memory', () => {
  // A ring that is gone leaves nothing behind: the shared transitions between
  // ring contents hold their results weakly. They used to hold every ring a
  // process ever had (231 MB after this script; 1.2 GB after one join of
  // bench:sim at N = 10,000). Measured in a child process with --expose-gc,
  // against the built module (npm test builds first).
  it('keeps no ring that no ProbeRing holds any more, after 3,000 joins and 1,000 replacements', () => {
    const built = new URL('../../dist/esm/swim/probe-ring.js', import.meta.url).href;
    const script = `
      const { ProbeRing } = await import(${JSON.stringify(built)});
      const heap = () => { globalThis.gc(); return process.memoryUsage().heapUsed; };
      const url = (i) => 'http://10.' + ((i >> 16) & 255) + '.' + ((i >> 8) & 255) + '.' + (i & 255) + ':3000/';
      const h0 = heap();
      let ring = new ProbeRing();
      for (let i = 0; i < 3000; i++) ring.add(url(i));
      for (let i = 0; i < 1000; i++) { ring.remove(url(i)); ring.add(url(100000 + i)); }
      const size = ring.size;
      ring = undefined;
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ size, retainedBytes: heap() - h0 }));`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { size, retainedBytes } = JSON.parse(out.trim().split('\n').at(-1)!) as { size: number; retainedBytes: number };
    expect(size).toBe(3000);
    // Holding every intermediate ring is ~230 MB here; what may remain is the module's own small state.
    expect(retainedBytes).toBeLessThan(8_000_000);
  });
});
