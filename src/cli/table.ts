import type { ServerRow, StatusReport } from './report.js';
import { formatStateTable } from './state-report.js';

const HEADER = ['SERVER', 'STATE', 'MONITOR', 'VERSION', 'LAST CONTACT'] as const;

/**
 * "3s ago", "5m ago", "2h ago", "4d ago"; "just now" under a second (or for
 * a time slightly in the future, from clock skew).
 * @param ms elapsed milliseconds.
 */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

function lastContact(row: ServerRow, now: number): string {
  if (row.self === true) return 'self';
  if (row.lastContactAt === undefined) return '-';
  if (row.lastContactAt === null) return 'never';
  return formatAge(now - row.lastContactAt);
}

/**
 * A plain-text table of servers, one line per row under a header, columns
 * padded to their widest cell and separated by two spaces, no trailing
 * spaces, no trailing newline. Pure: the strings in `rows` must already be
 * sanitised (see sanitizeText).
 * @param now reference time for "last contact" ages, ms since the epoch.
 */
export function formatTable(rows: readonly ServerRow[], now: number): string {
  const cells = rows.map((row) => [
    row.self === true ? `${row.baseUrl} (self)` : row.baseUrl,
    row.reason === undefined ? row.state : `${row.state} (${row.reason})`,
    row.monitor ? 'yes' : 'no',
    new Date(row.version).toISOString(),
    lastContact(row, now),
  ]);
  const all = [[...HEADER], ...cells];
  const widths = HEADER.map((_, i) => Math.max(...all.map((line) => line[i]!.length)));
  return all.map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A status report as text: a summary line, the table, the replicated state's maps if any, and the note if any. Ends with a newline. */
export function formatReport(report: StatusReport): string {
  const count = (state: string): number => report.servers.filter((s) => s.state === state).length;
  const summary = `${report.url}: ${report.servers.length} servers, ${count('online')} online, ${count('suspect')} suspect, ` +
    `${report.offlineIncluded ? count('offline') : '?'} offline (from ${report.source})`;
  const lines = [summary, formatTable(report.servers, report.now)];
  const state = report.state === undefined ? '' : formatStateTable(report.state);
  if (state !== '') lines.push('', state);
  if (report.note !== undefined) lines.push(`note: ${report.note}`);
  return lines.join('\n') + '\n';
}
