/**
 * Where the demo's output goes: narration lines, and the membership table.
 * On a terminal the table is a live region at the bottom, redrawn in place
 * while narration scrolls above it; anywhere else (a pipe, a file, a dumb
 * terminal) each new state of the table is printed once, with its time.
 */
import { LiveRegion, type TerminalStream } from './live-region.js';

/** The demo's output. */
export interface DemoDisplay {
  /** Prints a narration line (or several, separated by '\n'); '' prints an empty line. */
  say(text?: string): void;
  /** Shows the table as it is `elapsedS` seconds into the demo. */
  table(elapsedS: number, table: string): void;
  /** Stops showing tables: the last one stays where it is and later lines go below it. */
  freeze(): void;
}

/** A live region if `out` is a terminal that understands cursor movement, else timestamped snapshots. */
export function createDisplay(out: TerminalStream, env: Readonly<Record<string, string | undefined>> = process.env): DemoDisplay {
  return out.isTTY === true && env['TERM'] !== 'dumb' ? liveDisplay(out) : snapshotDisplay(out);
}

function liveDisplay(out: TerminalStream): DemoDisplay {
  const region = new LiveRegion(out);
  let frozen = false;
  return {
    say: (text = '') => region.log(text),
    table(elapsedS, table) {
      if (frozen) return;
      const header = `t+${Math.floor(elapsedS)}s  what each server sees, redrawn in place (Ctrl-C stops the cluster)`;
      region.update(['', header, ...table.split('\n')]);
    },
    freeze() {
      frozen = true;
      region.close();
    },
  };
}

function snapshotDisplay(out: NodeJS.WritableStream): DemoDisplay {
  let last = '';
  let frozen = false;
  return {
    say: (text = '') => void out.write(text + '\n'),
    table(elapsedS, table) {
      if (frozen || table === last) return;
      last = table;
      out.write(`\n[t+${elapsedS.toFixed(1)}s]\n${table}\n`);
    },
    freeze() {
      frozen = true;
    },
  };
}
