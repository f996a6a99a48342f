#!/usr/bin/env node
// `node bench/profile-summary.mjs FILE.cpuprofile`: self time of a V8 CPU profile
// (written by `node --cpu-prof`) grouped by source file, largest first, as a
// table and as JSON on the last line. For reading where the simulator's time goes:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --max-old-space-size=16384 --max-semi-space-size=512 \
//     bench/sim.mjs --nodes 10000 --json --skip reach,ae,pushpull,detect,false
//   node bench/profile-summary.mjs /tmp/prof/*.cpuprofile
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const byFile = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  const { url, functionName } = nodes.get(profile.samples[i]).callFrame;
  // Our own modules by their path under dist/esm; node internals and V8 pseudo-frames by name.
  const key = url ? url.replace(/^.*\/dist\/esm\//, '').replace(/^file:\/\/.*\/bench\//, 'bench/') : `(${functionName || 'native'})`.replace(/^\(\((.*)\)\)$/, '($1)');
  byFile.set(key, (byFile.get(key) ?? 0) + dt);
  total += dt;
}
const rows = [...byFile].sort((a, b) => b[1] - a[1]);
const share = Object.fromEntries(rows.map(([k, t]) => [k, Math.round((1000 * t) / total) / 10]));
for (const [k, t] of rows.slice(0, 25)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${k}`);
console.log(JSON.stringify({ total_s: Math.round(total / 1e5) / 10, share }));
