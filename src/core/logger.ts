/**
 * Logging, as the engine sees it. Fields are structured; callers never put a
 * secret in a message or a field.
 */

/** Structured key/value context attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Severity levels, from most to least verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logging interface; pino, winston and console can all be adapted to it. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A Logger that drops everything. */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
};

/**
 * A Logger writing one line per event to the console (stderr for warn and
 * error), prefixed with `[clustershazbot]`.
 * @param level lowest level written. @default 'info'
 */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const min = ORDER[level];
  const write = (lvl: LogLevel, message: string, fields?: LogFields): void => {
    if (ORDER[lvl] < min) return;
    const suffix = fields && Object.keys(fields).length > 0 ? ' ' + safeStringify(fields) : '';
    const line = `[clustershazbot] ${lvl}: ${message}${suffix}`;
    if (lvl === 'warn' || lvl === 'error') console.error(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

function safeStringify(fields: LogFields): string {
  try {
    return JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return '[unserialisable fields]';
  }
}

/** Calls a logger without letting a throwing logger escape. */
export function safeLog(logger: Logger, level: LogLevel, message: string, fields?: LogFields): void {
  try {
    logger[level](message, fields);
  } catch {
    // A broken logger must never break the engine.
  }
}
