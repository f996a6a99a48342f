import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LiveRegion, cut, type TerminalStream } from './live-region.js';

/** One row of the terminal model: its characters, and whether its text continues on the next row (auto-wrap). */
interface Row {
  chars: string[];
  wrapped: boolean;
}

/**
 * A tiny terminal: auto-wrap with a pending wrap at the last column (as
 * xterm), '\n' as CR LF (the tty's onlcr), '\r', ESC[nA (cursor up, never
 * above the screen's top row), ESC[J (clear to the end of the screen), and a
 * resize that reflows wrapped text (as VTE, iTerm2 and tmux do). Any other
 * control character or escape sequence fails the test. `rows` rows are on
 * screen; the ones above are scrollback.
 */
class TerminalModel {
  private readonly buf: Row[] = [{ chars: [], wrapped: false }];
  private row = 0;
  private col = 0;
  private pendingWrap = false;

  constructor(public columns: number, public readonly rows = 1000) {}

  feed(data: string): void {
    for (let i = 0; i < data.length; i++) {
      const ch = data[i]!;
      if (ch === '\r') this.carriageReturn();
      else if (ch === '\n') {
        this.carriageReturn();
        this.lineFeed();
      } else if (ch === '\u001b') {
        // eslint-disable-next-line no-control-regex -- parsing escape sequences is the point
        const m = /^\u001b\[(\d*)([AJ])/.exec(data.slice(i));
        if (m === null) throw new Error(`unexpected escape sequence ${JSON.stringify(data.slice(i, i + 8))}`);
        i += m[0].length - 1;
        if (m[2] === 'A') this.cursorUp(m[1] === '' ? 1 : Number(m[1]));
        else this.clearToEnd();
      } else if (ch < ' ') throw new Error(`unexpected control character ${JSON.stringify(ch)}`);
      else this.put(ch);
    }
  }

  /** Changes the width, re-wrapping every logical line; the cursor keeps its place in its line. */
  resize(columns: number): void {
    const lines: { chars: string[]; cursorAt?: number }[] = [];
    let current: { chars: string[]; cursorAt?: number } | undefined;
    this.buf.forEach((row, index) => {
      current ??= { chars: [] };
      if (index === this.row) current.cursorAt = current.chars.length + this.col;
      current.chars.push(...row.chars);
      if (!row.wrapped) {
        lines.push(current);
        current = undefined;
      }
    });
    if (current !== undefined) lines.push(current);
    this.columns = columns;
    this.buf.length = 0;
    for (const line of lines) {
      const start = this.buf.length;
      for (let at = 0; at === 0 || at < line.chars.length; at += columns) {
        this.buf.push({ chars: line.chars.slice(at, at + columns), wrapped: at + columns < line.chars.length });
      }
      if (line.cursorAt !== undefined) {
        this.row = Math.min(start + Math.floor(line.cursorAt / columns), this.buf.length - 1);
        this.col = line.cursorAt % columns;
      }
    }
    this.pendingWrap = false;
  }

  /** Every row, scrollback included, without trailing spaces or trailing empty rows. */
  text(): string[] {
    const lines = this.buf.map((row) => row.chars.join('').trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /** Logical lines: rows joined where the terminal wrapped them. */
  logicalLines(): string[] {
    const out: string[] = [];
    let pending = '';
    for (const row of this.buf) {
      pending += row.chars.join('');
      if (!row.wrapped) {
        out.push(pending.trimEnd());
        pending = '';
      }
    }
    if (pending !== '') out.push(pending);
    while (out.length > 0 && out[out.length - 1] === '') out.pop();
    return out;
  }

  private put(ch: string): void {
    if (this.pendingWrap) {
      this.buf[this.row]!.wrapped = true;
      this.lineFeed();
      this.col = 0;
    }
    const chars = this.buf[this.row]!.chars;
    while (chars.length < this.col) chars.push(' ');
    chars[this.col] = ch;
    if (this.col === this.columns - 1) this.pendingWrap = true;
    else this.col++;
  }

  private carriageReturn(): void {
    this.col = 0;
    this.pendingWrap = false;
  }

  private lineFeed(): void {
    if (this.row === this.buf.length - 1) this.buf.push({ chars: [], wrapped: false });
    this.row++;
    this.pendingWrap = false;
  }

  private cursorUp(n: number): void {
    const screenTop = Math.max(0, this.buf.length - this.rows);
    this.row = Math.max(screenTop, this.row - n);
    this.pendingWrap = false;
  }

  private clearToEnd(): void {
    const row = this.buf[this.row]!;
    row.chars.length = Math.min(row.chars.length, this.col);
    row.wrapped = false;
    for (let r = this.row + 1; r < this.buf.length; r++) this.buf[r] = { chars: [], wrapped: false };
    this.pendingWrap = false;
  }
}

/** A fake tty.WriteStream feeding a terminal model; `resize` reflows the model and emits 'resize' as Node does. */
function fakeTty(columns: number, rows?: number) {
  const terminal = new TerminalModel(columns, rows);
  const writes: string[] = [];
  const stream = Object.assign(new EventEmitter(), {
    isTTY: true,
    columns,
    rows,
    write(chunk: string | Uint8Array): boolean {
      const text = chunk.toString();
      writes.push(text);
      terminal.feed(text);
      return true;
    },
  });
  return {
    stream: stream as unknown as TerminalStream,
    terminal,
    writes,
    resize(newColumns: number): void {
      terminal.resize(newColumns);
      stream.columns = newColumns;
      stream.emit('resize');
    },
  };
}

const table = (version: number, rows = 3, width = 30): string[] =>
  Array.from({ length: rows }, (_, i) => `table v${version} row ${i} `.padEnd(width, '='));

describe('LiveRegion on a terminal', () => {
  it('keeps narration above, each line once and in order, and exactly one table at the bottom', () => {
    const tty = fakeTty(80);
    const region = new LiveRegion(tty.stream);
    region.update(table(1));
    region.log('started s1');
    region.log('started s2');
    region.update(table(2));
    region.update(table(3));
    region.log('');
    region.log('==> all online\nTaking s3 offline ...');
    region.update(table(4));
    expect(tty.terminal.text()).toEqual(['started s1', 'started s2', '', '==> all online', 'Taking s3 offline ...', ...table(4)]);
  });

  it('does not write when the table did not change', () => {
    const tty = fakeTty(80);
    const region = new LiveRegion(tty.stream);
    region.update(table(1));
    const count = tty.writes.length;
    region.update(table(1));
    expect(tty.writes.length).toBe(count);
  });

  it('cuts table lines to the width minus one column, and never cuts narration', () => {
    const tty = fakeTty(20);
    const region = new LiveRegion(tty.stream);
    const command = 'Status:    SHAZBOT_CONTROL_SECRET=abcdefghijklmnop node dist/esm/cli/main.js status http://127.0.0.1:1234/';
    region.update(table(1));
    region.log(command);
    region.update(table(2));
    region.log('after');
    const screen = tty.terminal.text();
    expect(screen.slice(-3)).toEqual(table(2).map((line) => cut(line, 19)));
    expect(screen.slice(-3).every((line) => line.length === 19 && line.endsWith('…'))).toBe(true);
    // The long line wrapped over several rows, whole, once, above the table.
    expect(tty.terminal.logicalLines()).toEqual([command, 'after', ...table(2).map((line) => cut(line, 19))]);
  });

  it('redraws at the new width after the terminal gets narrower or wider', () => {
    const tty = fakeTty(40);
    const region = new LiveRegion(tty.stream);
    region.log('one');
    region.update(table(1, 3, 38));
    tty.resize(15);
    expect(tty.terminal.text()).toEqual(['one', ...table(1, 3, 38).map((line) => cut(line, 14))]);
    region.log('two');
    region.update(table(2, 3, 38));
    tty.resize(60);
    region.log('three');
    expect(tty.terminal.text()).toEqual(['one', 'two', 'three', ...table(2, 3, 38)]);
  });

  it('never draws more rows than the screen has, minus one', () => {
    const tty = fakeTty(80, 5);
    const region = new LiveRegion(tty.stream);
    for (let i = 0; i < 12; i++) {
      region.log(`line ${i}`);
      region.update(table(i, 8));
    }
    const screen = tty.terminal.text();
    expect(screen).toEqual([...Array.from({ length: 12 }, (_, i) => `line ${i}`), ...table(11, 8).slice(0, 4)]);
  });

  it('erases what the terminal echoed below the table (the ^C of a Ctrl-C)', () => {
    const tty = fakeTty(80);
    const region = new LiveRegion(tty.stream);
    region.update(table(1));
    tty.terminal.feed('^C');
    region.log('Stopping ...');
    expect(tty.terminal.text()).toEqual(['Stopping ...', ...table(1)]);
  });

  it('after close, leaves the last table in place and prints below it', () => {
    const tty = fakeTty(80);
    const region = new LiveRegion(tty.stream);
    region.log('before');
    region.update(table(1));
    tty.terminal.feed('^C');
    region.close();
    region.update(table(2));
    tty.resize(50);
    region.log('after');
    expect(tty.terminal.text()).toEqual(['before', ...table(1), 'after']);
    expect(tty.stream.listenerCount('resize')).toBe(0);
  });

  it('any interleaving of narration and table updates ends with each line once, in order, and the last table at the bottom', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('log' as const), lines: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('table' as const), rows: fc.integer({ min: 0, max: 9 }), width: fc.integer({ min: 1, max: 120 }) }),
      fc.record({ kind: fc.constant('resize' as const), columns: fc.integer({ min: 10, max: 120 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 10, max: 120 }), (steps, columns) => {
        const tty = fakeTty(columns);
        const region = new LiveRegion(tty.stream);
        const narration: string[] = [];
        let last: string[] = [];
        steps.forEach((s, i) => {
          if (s.kind === 'log') {
            const lines = Array.from({ length: s.lines }, (_, j) => `narration ${i}.${j}`);
            narration.push(...lines);
            region.log(lines.join('\n'));
          } else if (s.kind === 'table') {
            last = table(i, s.rows, s.width);
            region.update(last);
          } else tty.resize(s.columns);
        });
        // Narration may wrap at small widths: compare logical lines. Table lines are drawn cut to the final width.
        const width = tty.stream.columns! - 1;
        expect(tty.terminal.logicalLines()).toEqual([...narration, ...last.map((line) => cut(line, width).trimEnd())]);
      }),
      { numRuns: 300 },
    );
  });
});
