// What `npm run bench:peers` prints: per fleet size a Markdown table (rows:
// figures; columns: clustershazbot, Serf, and the comparison the issue's
// targets ask for), then one flat JSON line per fleet size, largest last.

/** Both systems, in column order, with their JSON prefix. */
export const SYSTEMS = [
  { name: 'shazbot', label: 'clustershazbot', prefix: 'shazbot_' },
  { name: 'serf', label: 'Serf', prefix: 'serf_' },
];

/**
 * Every figure: its key in a run's result and in JSON, its row label, how
 * runs are summarised in the JSON line, and how to compare with Serf.
 * target(shazbotRuns, serfRuns) → text, for the issue's targets.
 */
const FIGURES = [
  { key: 'up_s', label: 'processes up (s)', summary: 'max' },
  { key: 'converge_after_boot_s', label: 'convergence after the last is up (s)', summary: 'max', target: (a) => every(a, (x) => x <= 1, '≤ 1 s every run') },
  { key: 'leave_s', label: 'leave seen by all (s)', summary: 'max', target: (a) => every(a, (x) => x <= 1, '≤ 1 s every run') },
  { key: 'detect_s', label: 'SIGKILL seen by all (s)', summary: 'max', target: (a, b) => perRun(a, b, 1, '≤ Serf in each run') },
  { key: 'freeze_s', label: 'SIGSTOP seen by all (s)', summary: 'max', target: (a, b) => perRun(a, b, 1, '≤ Serf in each run') },
  { key: 'rejoin_s', label: 'rejoin after SIGCONT (s)', summary: 'max' },
  { key: 'bytes_node_s', label: 'bytes/node/s at rest (IP level)', summary: 'median', target: (a, b) => perRun(a, b, 1.5, '≤ 1.5 × Serf in each run') },
  { key: 'cpu_pct', label: 'CPU/node at rest (% of a core)', summary: 'median', target: (a, b) => ofMedians(a, b, 2, '≤ 2 × Serf') },
  { key: 'false_drops', label: 'live nodes dropped (pairs)', summary: 'sum', target: (a) => every(a, (x) => x === 0, '0') },
];

/** The middle value (mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round2 = (x) => Math.round(x * 100) / 100;
const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : a > 0 ? '∞' : '1.00');
const verdict = (ok) => (ok ? 'met' : '**not met**');

function every(runs, ok, text) {
  return `${text}: ${verdict(runs.every(ok))}`;
}

function perRun(a, b, factor, text) {
  const ratios = a.map((x, r) => ratio(x, b[r]));
  return `${ratios.join(', ')} (${text}): ${verdict(a.every((x, r) => x <= factor * b[r]))}`;
}

function ofMedians(a, b, factor, text) {
  return `${ratio(median(a), median(b))} of medians (${text}): ${verdict(median(a) <= factor * median(b))}`;
}

/** One table cell: every run's value, a deadline reached marked "(timeout)". */
function cell(runs, key) {
  if (runs === undefined) return '—';
  return runs.map((run) => {
    const value = key === 'false_drops' || key === 'bytes_node_s' ? String(run[key]) : run[key].toFixed(2);
    return run.timeouts.includes(key) ? `${value} (timeout)` : value;
  }).join(', ');
}

/**
 * The Markdown table of one fleet size.
 * @param {number} n
 * @param {{ shazbot?: object[], serf?: object[] }} bySystem each run's result, in run order
 * @param {{ restS: number, targetN: number }} options
 */
export function markdownTable(n, bySystem, { restS, targetN }) {
  const runs = Math.max(...SYSTEMS.map((s) => bySystem[s.name]?.length ?? 0));
  const lines = [
    `### N = ${n}: ${runs} run${runs === 1 ? '' : 's'} per system (values per run, in order; rest window ${restS} s)`,
    '',
    `| figure | clustershazbot | Serf | clustershazbot / Serf (target${n === targetN ? '' : `, which applies at N = ${targetN}`}) |`,
    '|---|---|---|---|',
  ];
  for (const figure of FIGURES) {
    const a = bySystem.shazbot?.map((r) => r[figure.key]);
    const b = bySystem.serf?.map((r) => r[figure.key]);
    const compared = figure.target === undefined || a === undefined || (b === undefined && figure.target.length > 1)
      ? '—'
      : figure.target(a, b ?? []);
    lines.push(`| ${figure.label} | ${cell(bySystem.shazbot, figure.key)} | ${cell(bySystem.serf, figure.key)} | ${compared} |`);
  }
  const seenAs = SYSTEMS.filter((s) => bySystem[s.name] !== undefined)
    .map((s) => `${s.label}: ${bySystem[s.name].map((r) => `${r.leave_seen_as} (exit ${r.leave_exit})`).join(', ')}`);
  const busy = SYSTEMS.filter((s) => bySystem[s.name] !== undefined)
    .map((s) => `${s.label} runs ${bySystem[s.name].map((r) => r.machine_busy_pct).join(', ')}`);
  lines.push('', `Leaver as listed by the others when all had it not alive, and its exit: ${seenAs.join('; ')}.`);
  lines.push(`Whole machine busy during the rest windows (% of all cores, every process): ${busy.join('; ')}.`);
  return lines.join('\n');
}

/**
 * The JSON line of one fleet size: `n`, `runs`, then per system the summary
 * of each figure (worst run for times, median for bytes and CPU, sum of
 * false drops) and `<prefix><figure>_runs`, and the total of timeouts.
 */
export function jsonLine(n, bySystem, extra) {
  const line = { n, runs: Math.max(...SYSTEMS.map((s) => bySystem[s.name]?.length ?? 0)), rest_s: extra.restS };
  let timeouts = 0;
  for (const system of SYSTEMS) {
    const runs = bySystem[system.name];
    if (runs === undefined) continue;
    for (const figure of FIGURES) {
      const values = runs.map((r) => r[figure.key]);
      line[`${system.prefix}${figure.key}`] = figure.summary === 'max'
        ? Math.max(...values)
        : figure.summary === 'sum' ? values.reduce((x, y) => x + y, 0) : round2(median(values));
    }
    for (const figure of FIGURES) line[`${system.prefix}${figure.key}_runs`] = runs.map((r) => r[figure.key]);
    line[`${system.prefix}leave_seen_as_runs`] = runs.map((r) => r.leave_seen_as);
    line[`${system.prefix}machine_busy_pct_runs`] = runs.map((r) => r.machine_busy_pct);
    line[`${system.prefix}crashes`] = runs.reduce((sum, r) => sum + r.crashes, 0);
    line[`${system.prefix}timeouts`] = runs.reduce((sum, r) => sum + r.timeouts.length, 0);
    timeouts += line[`${system.prefix}timeouts`];
  }
  line.timeouts = timeouts;
  if (bySystem.serf !== undefined) line.serf_version = extra.serfVersion;
  if (bySystem.shazbot !== undefined) line.shazbot_dist = [...new Set(bySystem.shazbot.map((r) => r.dist))].join(',');
  return JSON.stringify(line);
}
