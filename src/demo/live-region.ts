/**
 * A live region at the bottom of a terminal: a few lines (the demo's
 * membership table) redrawn in place, while other output scrolls above them.
 *
 * Every write moves the cursor up over the previous drawing, clears to the
 * end of the screen, prints whatever goes above (once), then draws the region
 * again. That only works if the module knows exactly how many rows its last
 * drawing occupies, hence the invariants:
 * - a region line never wraps: it is cut to the terminal's width minus one
 *   column (some terminals wrap as soon as the last column is written);
 * - the region is never taller than the screen minus one row (the cursor
 *   cannot move up into the scrollback);
 * - everything is written through this object, each write ending at the
 *   start of the line below the region.
 * Lines printed above the region are never cut (a command to paste must stay
 * whole): they may wrap, which is harmless since they are never erased.
 */

/** ESC [ n A: cursor up n rows (n >= 1; some terminals read 0 as 1). */
const cursorUp = (n: number): string => `\u001b[${n}A`;
/** ESC [ J: clear from the cursor to the end of the screen. */
const CLEAR_TO_END = '\u001b[J';
/** Width assumed when a terminal does not report one. */
const DEFAULT_COLUMNS = 80;

/** The parts of a terminal's output stream (a tty.WriteStream) the region uses. */
export interface TerminalStream extends NodeJS.WritableStream {
  readonly isTTY?: boolean;
  /** Width in columns; read before every drawing. */
  readonly columns?: number;
  /** Height in rows, if known. */
  readonly rows?: number;
}

/** A block of lines kept at the bottom of a terminal and redrawn in place. */
export class LiveRegion {
  /** The region's content, as given (before cutting to the width). */
  private content: readonly string[] = [];
  /** The lines last drawn, as written (already cut); what the next drawing erases. */
  private drawn: readonly string[] = [];
  private closed = false;
  private readonly onResize = (): void => this.write('');

  /** Takes over `out`: from now on, write to it only through this object until {@link close}. */
  constructor(private readonly out: TerminalStream) {
    out.on('resize', this.onResize);
  }

  /**
   * Prints `text` (one or more lines, without a trailing newline) above the
   * region, which is redrawn below it. After {@link close}, prints it plainly.
   */
  log(text: string): void {
    this.write(text + '\n');
  }

  /** Replaces the region's lines; redraws only if what would be shown changed. */
  update(lines: readonly string[]): void {
    if (this.closed) return;
    this.content = [...lines];
    const next = this.visible();
    if (next.length === this.drawn.length && next.every((line, i) => line === this.drawn[i])) return;
    this.write('');
  }

  /**
   * Leaves the last drawing on the screen and stops managing it; later output
   * goes below it. Clears what the terminal echoed after the drawing (^C).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.off('resize', this.onResize);
    if (this.drawn.length > 0) this.out.write(`\r${CLEAR_TO_END}`);
  }

  /** One write: erase the previous drawing, print `above`, draw the region. */
  private write(above: string): void {
    if (this.closed) {
      if (above !== '') this.out.write(above);
      return;
    }
    const rows = this.drawnRows();
    // '\r' first: anything the terminal echoed after the drawing (the "^C" of
    // a Ctrl-C, keys typed) left the cursor off column 0.
    const erase = rows > 0 ? `\r${cursorUp(rows)}${CLEAR_TO_END}` : '';
    const lines = this.visible();
    this.drawn = lines;
    this.out.write(erase + above + lines.map((line) => line + '\n').join(''));
  }

  /**
   * Rows the last drawing occupies now. At the width it was drawn with, one
   * per line. After the terminal got narrower, a terminal that reflows its
   * text (most do: VTE, iTerm2, kitty, Windows Terminal, tmux) has wrapped
   * the longer lines, and the cursor moved down with them.
   */
  private drawnRows(): number {
    const columns = this.columns();
    return this.drawn.reduce((sum, line) => sum + Math.max(1, Math.ceil(displayWidth(line) / columns)), 0);
  }

  /** The content as it will be drawn: cut to the width, at most the screen's height minus one row. */
  private visible(): string[] {
    const width = Math.max(1, this.columns() - 1);
    const maxLines = this.out.rows !== undefined && this.out.rows > 1 ? this.out.rows - 1 : Infinity;
    return this.content.slice(0, maxLines).map((line) => cut(line, width));
  }

  private columns(): number {
    const columns = this.out.columns;
    return columns !== undefined && columns > 0 ? columns : DEFAULT_COLUMNS;
  }
}

/**
 * Columns a line takes: one per code point. The region holds the demo's
 * table (ASCII and ● ○ · ×), so wide characters are not accounted for.
 */
function displayWidth(line: string): number {
  let n = 0;
  for (const _ of line) n++;
  return n;
}

/** `line` cut to `width` columns, ending with '…' if anything was cut. */
export function cut(line: string, width: number): string {
  const chars = [...line];
  if (chars.length <= width) return line;
  return chars.slice(0, width - 1).join('') + '…';
}
