import { describe, expect, it } from 'vitest';
import type { ServerRow, StatusReport } from './report.js';
import { sanitizeText } from './sanitize.js';
import { formatAge, formatReport, formatTable } from './table.js';

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);

const rows: ServerRow[] = [
  { baseUrl: 'http://10.0.0.1:3000/', state: 'online', monitor: true, version: NOW - 60_000, lastContactAt: null, self: true },
  { baseUrl: 'http://10.0.0.22:3000/app/', state: 'suspect', monitor: false, version: NOW - 1_000, lastContactAt: NOW - 3_400 },
  { baseUrl: 'http://10.0.0.3:3000/', state: 'offline', reason: 'admin', monitor: false, version: 0, lastContactAt: null },
  { baseUrl: 'http://10.0.0.4:3000/', state: 'online', monitor: false, version: NOW },
];

describe('formatTable', () => {
  it('aligns every column under its header and shows times, ages, self, reasons and monitors', () => {
    expect(formatTable(rows, NOW).split('\n')).toEqual([
      'SERVER                        STATE            MONITOR  VERSION                   LAST CONTACT',
      'http://10.0.0.1:3000/ (self)  online           yes      2030-01-02T03:03:05.000Z  self',
      'http://10.0.0.22:3000/app/    suspect          no       2030-01-02T03:04:04.000Z  3s ago',
      'http://10.0.0.3:3000/         offline (admin)  no       1970-01-01T00:00:00.000Z  never',
      'http://10.0.0.4:3000/         online           no       2030-01-02T03:04:05.000Z  -',
    ]);
  });

  it('is just the header for no servers', () => {
    expect(formatTable([], NOW)).toBe('SERVER  STATE  MONITOR  VERSION  LAST CONTACT');
  });
});

describe('formatAge', () => {
  it.each([
    [-5_000, 'just now'], [999, 'just now'], [3_000, '3s ago'], [59_999, '59s ago'], [60_000, '1m ago'],
    [3_599_000, '59m ago'], [7_200_000, '2h ago'], [3 * 86_400_000 + 5, '3d ago'],
  ])('%d ms is "%s"', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('formatReport', () => {
  const report: StatusReport = { url: 'http://10.0.0.1:3000/', source: 'list', offlineIncluded: false, now: NOW, servers: rows.slice(0, 2), note: 'a note' };

  it('counts states, marks an unknown offline count, and ends with the note', () => {
    const text = formatReport(report);
    expect(text.split('\n')[0]).toBe('http://10.0.0.1:3000/: 2 servers, 1 online, 1 suspect, ? offline (from list)');
    expect(text.endsWith('\nnote: a note\n')).toBe(true);
  });
});

describe('sanitizeText', () => {
  it.each([
    ['plain http://a:1/ stays', 'plain http://a:1/ stays'],
    ['red \u001b[31mtext\u001b[0m', 'red text'],
    ['clear \u001b[2J\u001b[Hscreen', 'clear screen'],
    ['title \u001b]0;pwned\u0007done', 'title done'],
    ['link \u001b]8;;http://evil/\u001b\\x\u001b]8;;\u001b\\', 'link x'],
    ['c1 csi \u009b31mred', 'c1 csi red'],
    ['unterminated \u001b]52;c;c2VjcmV0', 'unterminated '],
    ['lines\r\nand\ttabs\u0000\u007f', 'linesandtabs'],
    ['bidi \u202eevil\u202c \u2066x\u2069', 'bidi evil x'],
    ['lone escape at the end \u001b', 'lone escape at the end '],
  ])('%j becomes %j', (input, output) => {
    expect(sanitizeText(input)).toBe(output);
  });
});
