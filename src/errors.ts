/**
 * One error hierarchy. Every error a request can cause carries a stable
 * `code` (assert on it, not on the message), the HTTP `status` an adapter
 * should answer with, and the same number as `statusCode`, which is what
 * Nest's default exception filter and Fastify read.
 */

/** Stable error codes. */
export type ShazbotErrorCode =
  | 'CONFIG_INVALID'
  | 'MALFORMED'
  | 'UNAUTHORIZED'
  | 'REPLAYED'
  | 'TOO_LARGE'
  | 'NOT_STARTED'
  | 'STOPPED'
  | 'NOT_FOUND'
  | 'VERSION_MISMATCH'
  | 'LIMIT_EXCEEDED'
  | 'WRITE_TIMEOUT'
  | 'STALE_READ';

/** Base class of every error clustershazbot throws on purpose. */
export class ShazbotError extends Error {
  override name = 'ShazbotError';
  /** HTTP status an adapter should send. */
  readonly status: number;
  /** Same as `status`; read by Nest's and Fastify's default error handling. */
  readonly statusCode: number;
  /**
   * Whether the message may be shown to the client (true below 500), as the
   * http-errors convention has it. Nest 12's default exception filter honours
   * `statusCode` only on errors that carry this flag.
   */
  readonly expose: boolean;
  constructor(
    readonly code: ShazbotErrorCode,
    status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
  }
}

/** Configuration is invalid. `problems` lists every problem found, not just the first. */
export class ConfigError extends ShazbotError {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super('CONFIG_INVALID', 500, `Invalid clustershazbot configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** A request body or header is malformed (HTTP 400). */
export class MalformedError extends ShazbotError {
  override name = 'MalformedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED', 400, message, options);
  }
}

/** Authorization is missing, wrong, forged or stale (HTTP 401). */
export class UnauthorizedError extends ShazbotError {
  override name = 'UnauthorizedError';
  constructor(message = 'Unauthorized', code: 'UNAUTHORIZED' | 'REPLAYED' = 'UNAUTHORIZED') {
    super(code, 401, message);
  }
}

/** A request carries more than the configured limits allow (HTTP 413). */
export class TooLargeError extends ShazbotError {
  override name = 'TooLargeError';
  constructor(message: string) {
    super('TOO_LARGE', 413, message);
  }
}

/** The engine is not running: not started yet, or already shut down (HTTP 503). */
export class NotStartedError extends ShazbotError {
  override name = 'NotStartedError';
  constructor(message = 'clustershazbot is not started', code: 'NOT_STARTED' | 'STOPPED' = 'NOT_STARTED') {
    super(code, 503, message);
  }
}

/** True for any error of this hierarchy. */
export function isShazbotError(e: unknown): e is ShazbotError {
  return e instanceof ShazbotError;
}
